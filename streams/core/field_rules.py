"""Field rules: what a record the parser already split into fields means (event kinds).

Unlike the text rules in ``matchers`` these read named fields, so no normal forms are needed:

* **STATMSG** status messages: ``ID`` gives the milestone (1013 pending, 1014 installing, 1015
  installed) or the failure (4908 / 5414: SQL access group), ``SYS`` names the target server and
  ``COMP`` the component concerned (install statuses of another component are not MP install
  milestones). Other error and warning statuses, and any status of the MP component, are
  kept as ``status`` events.
* **IIS W3C** request lines: URLScan rejections and failed requests to ``/SMS_MP/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.core import kinds as K
from streams.core.matchers import MP_COMPONENT, SITECOMP_COMPONENT, Hit
from streams.core.servers import target_name

_INSTALL_STATUS = {1013: K.INSTALL_PENDING, 1014: K.INSTALL_IN_PROGRESS, 1015: K.INSTALL_CONFIRMED}
_INSTALL_COMPS = frozenset({MP_COMPONENT, SITECOMP_COMPONENT, ""})
_STATUS_TEXT = {
    1013: "install pending: the component should be installed; SiteComp retries every 60 minutes",
    1014: "installing the component",
    1015: "component installed",
    4908: "could not add the machine account to the SQL Access Group",
    5414: "could not add the machine account to the SQL Access Group (site server)",
}


def _unquote(value: object) -> str:
    return str(value if value is not None else "").strip().strip('"').strip()


def match_statmsg(fields: Mapping[str, Any]) -> Hit | None:
    """A STATMSG line: install statuses, SQL access group failures, other errors and MP statuses."""
    statmsg = fields.get("statmsg") or {}
    try:
        status_id = int(fields.get("status_id", statmsg.get("ID", "")))
    except (TypeError, ValueError):
        return None
    comp = _unquote(statmsg.get("COMP")).upper()
    sev = _unquote(statmsg.get("SEV")).upper()[:1]
    target = target_name(_unquote(statmsg.get("SYS")))
    data = {"id": status_id, "sev": sev, "comp": comp}
    text = _STATUS_TEXT.get(status_id, "")
    message = f"status {status_id} ({sev or '?'}, {comp or '?'})" + (f": {text}" if text else "")
    if status_id in _INSTALL_STATUS and comp in _INSTALL_COMPS:
        kind = _INSTALL_STATUS[status_id]
        return Hit(kind, server=target, mp=comp == MP_COMPONENT, data=data, message=message)
    if status_id in (4908, 5414):
        return Hit(K.SQL_ACCESS_GROUP_FAILED, str(status_id), target, True, data, message)
    if sev in ("E", "W") or comp == MP_COMPONENT:
        return Hit(K.STATUS, str(status_id), target, comp == MP_COMPONENT, data, message)
    return None


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def match_iis(fields: Mapping[str, Any]) -> Hit | None:
    """An IIS W3C request line: URLScan rejections and failed /SMS_MP/ requests."""
    stem = str(fields.get("cs-uri-stem") or "")
    low = stem.lower()
    urlscan = "rejected-by-urlscan" in low
    if not urlscan and not low.startswith("/sms_mp/"):
        return None  # most requests: decided without reading the status
    status = _int(fields.get("sc-status"))
    if not urlscan and status < 400:
        return None
    query = str(fields.get("cs-uri-query") or "")
    sub = _int(fields.get("sc-substatus"))
    method = str(fields.get("cs-method") or "")
    url = stem + ("" if query in ("", "-") else f"?{query}")
    message = f"{method} {url} -> {status}" + (f".{sub}" if sub else "")
    data = {"status": status, "substatus": sub, "url": url}
    kind = K.URLSCAN_REJECTED if urlscan else K.IIS_MP_ERROR
    return Hit(kind, variant=str(status), mp=True, data=data, message=message.strip())
