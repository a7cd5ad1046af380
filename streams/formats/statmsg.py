"""STATMSG lines: status messages that SMS server components write into their logs.

Shape (one line; the SMS trailer, if any, is already removed by the caller)::

    STATMSG: ID=1015 SEV=I LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" SYS=MGTPOINT1
    SITE=ABC PID=1234 TID=5678 GMTDATE=Mon Dec 06 21:35:36.000 2004 ISTR0="..." ISTR1="" NUMATTRS=0

Every ``KEY=value`` pair is kept. Values may be quoted (and then contain spaces, ``=`` and even quotes:
a quoted value ends at a quote followed by the next `` KEY=`` or the end). Unquoted values run up to the
next `` KEY=``, which is how ``GMTDATE=Mon Dec 06 21:35:36.000 2004`` keeps its spaces. ``GMTDATE`` is
UTC. ``COMP`` names the component concerned and ``SYS`` the site system: the correlation core uses them to
tie a status message to a target server.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from streams.formats.record import Severity
from streams.formats.timeparse import parse_ctime

PREFIX = "STATMSG:"
_NEXT_KEY = r"(?=\s+[A-Za-z_][A-Za-z0-9_]*=|\s*$)"
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=(?:"(.*?)"' + _NEXT_KEY + r"|(.*?)" + _NEXT_KEY + ")")
_SEVERITY: dict[str, Severity] = {"I": "info", "W": "warning", "E": "error"}


def is_statmsg(message: str) -> bool:
    """True when a message is a STATMSG line (leading spaces allowed)."""
    return message.lstrip().startswith(PREFIX)


def parse_statmsg(message: str) -> tuple[dict[str, Any], Severity | None]:
    """(fields, severity from SEV or None) for a STATMSG message.

    fields: ``statmsg`` = {KEY: value as written, unquoted}, ``status_id`` = int(ID) when numeric,
    ``status_time`` = aware UTC datetime from GMTDATE when it parses.
    """
    body = message.lstrip()
    if body.startswith(PREFIX):
        body = body[len(PREFIX) :]
    pairs: dict[str, str] = {}
    for match in _PAIR.finditer(body):
        key, quoted, plain = match.groups()
        pairs[key] = quoted if quoted is not None else plain.strip()
    fields: dict[str, Any] = {"statmsg": pairs}
    status_id = pairs.get("ID", "")
    if status_id.isdigit():
        fields["status_id"] = int(status_id)
    gmt = pairs.get("GMTDATE")
    if gmt:
        parsed = parse_ctime(gmt)
        if parsed is not None:
            fields["status_time"] = parsed[0].replace(tzinfo=UTC)
    return fields, _SEVERITY.get(pairs.get("SEV", "").upper()[:1])
