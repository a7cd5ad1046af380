"""What a log file's name says: its log kind, its rotation stream and the format it suggests.

The one place that knows SMS / ConfigMgr / IIS file names; the shipper (which kind to label a file
with), the format detector (a tie-breaker after the content) and the offline loader (which files are
logs, which rotated ``.lo_`` belongs to which ``.log``) all ask here. The correlation core never looks
at names: it uses the ``kind`` that came with the records (the shipper ships it, the loader sets it).

Kinds: ``sitecomp`` (SiteComp.log on the site server), ``mpsetup`` (MPSetup.log), ``mpmsi`` (MPMSI.log,
mp.msi's Windows Installer log), ``mpcontrol`` (MPControl.log), ``iis`` (W3C ``u_exYYMMDD.log`` /
``exYYMMDD.log``), ``ccm`` (CMTrace-format client and MP agent logs), ``other``. A rotated ``X.lo_`` has
the kind of ``X.log``.
"""

from __future__ import annotations

import re

KINDS = ("sitecomp", "mpsetup", "mpmsi", "mpcontrol", "iis", "ccm", "other")

_NAMED_KINDS = {"sitecomp": "sitecomp", "mpsetup": "mpsetup", "mpmsi": "mpmsi", "mpcontrol": "mpcontrol"}
_IIS_STEM = re.compile(r"(u_)?(ex|nc|in)\d{6,10}(_x)?", re.IGNORECASE)
_LOG_NAME = re.compile(r"(\.log|\.lo_|\.txt)$|\.log\.", re.IGNORECASE)
_SMS_PREFIXES = ("sitecomp", "mpcontrol", "colleval", "distmgr", "smsexec", "hman", "mpfdm")
_CMTRACE_PREFIXES = ("ccm", "smsts", "clienthealth", "updates", "wuahandler", "execmgr", "bdd")
_ROTATED = (".lo_", ".log")


def base_name(path: str) -> str:
    """The last component of a Windows or POSIX path."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def log_kind(path: str) -> str:
    """The log kind (one of ``KINDS``) a file name stands for."""
    name = base_name(path)
    stem = name.rsplit(".", 1)[0].lower()
    if stem in _NAMED_KINDS:
        return _NAMED_KINDS[stem]
    if _IIS_STEM.fullmatch(stem):
        return "iis"
    if format_hint(name) == "cmtrace":
        return "ccm"
    return "other"


def rotation_stem(path: str) -> str:
    """The stream a file belongs to: ``SMS/Logs/sitecomp.lo_`` and ``.log`` share ``sms/logs/sitecomp``."""
    lowered = path.replace("\\", "/").lower()
    for ext in _ROTATED:
        if lowered.endswith(ext):
            return lowered[: -len(ext)]
    return lowered


def is_rotated(path: str) -> bool:
    """True for the rotated copy (``X.lo_``) that precedes ``X.log`` in its stream."""
    return path.lower().endswith(".lo_")


def format_hint(path: str) -> str | None:
    """The format a well-known log file name suggests (a tie-breaker after the content), or None."""
    name = base_name(path).lower()
    if not name:
        return None
    if re.match(r"u?_?ex\d{6}", name) or name.startswith("u_ex"):
        return "iis"
    if "msi" in name and not name.startswith("mpsetup"):
        return "msi"
    if name.startswith("mpsetup"):
        return "mpsetup"
    if name.startswith(_SMS_PREFIXES):
        return "sms"
    if name.startswith(_CMTRACE_PREFIXES):
        return "cmtrace"
    return None


def is_log_name(name: str) -> bool:
    """True for names collected folders use for logs: ``*.log``, ``*.lo_``, ``*.txt``, ``*.log.*``."""
    return _LOG_NAME.search(name) is not None
