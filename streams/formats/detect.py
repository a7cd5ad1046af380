"""Which format is this file? Decided from content first; the file name is only a tie-breaker.

Each format has a test for a line that *starts a record* in that format. Over the first non-blank
lines, the format whose test matches most lines wins. When no line matches anything, or two formats
match equally often, the file name decides if it is one of the well-known names (``u_ex*.log`` is IIS,
``*msi*.log`` is MSI, ``MPSetup.log``, ``SiteComp.log``/``MPControl.log`` are SMS server logs, CCM client
logs are CMTrace); otherwise the earlier format in ``record.FORMATS`` order wins a tie, and a file with
no match at all is 'raw'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from streams.formats import cmtrace, mpsetup, sms, viewer
from streams.formats.record import FORMATS
from streams.logfiles import format_hint

SAMPLE_LINES = 20

_MSI_START = re.compile(
    r"(?:=== (?:Verbose logging|Logging) (?:started|stopped)|MSI \([cs]\) \(|Action (?:start |ended )?\d)"
)
_IIS_DIRECTIVE = ("#Software: Microsoft Internet Information Services", "#Fields:", "#Version:", "#Date:")
_IIS_DATA = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S")


def _is_sms(line: str) -> bool:
    mark = line.rfind(sms.MARK)
    if mark >= 0:
        return sms.TRAILER.match(line, mark + 2) is not None
    return viewer.could_be_row(line) and viewer.match_row(line) is not None


def _is_cmtrace(line: str) -> bool:
    return line.startswith(cmtrace.START) or (cmtrace.END in line and 'time="' in line)


def _is_msi(line: str) -> bool:
    return _MSI_START.match(line) is not None


def _is_mpsetup(line: str) -> bool:
    return mpsetup.STAMP.match(line) is not None


def _is_iis(line: str) -> bool:
    return line.startswith(_IIS_DIRECTIVE) or _IIS_DATA.match(line) is not None


LINE_TESTS: dict[str, Callable[[str], bool]] = {
    "sms": _is_sms,
    "cmtrace": _is_cmtrace,
    "msi": _is_msi,
    "mpsetup": _is_mpsetup,
    "iis": _is_iis,
}


def format_from_name(filename: str) -> str | None:
    """The format a well-known log file name suggests, or None (``streams.logfiles.format_hint``)."""
    return format_hint(filename)


def detect_format(lines: Iterable[str], filename: str = "") -> str:
    """Name of the format (one of ``record.FORMATS``) the given first lines of a file are written in."""
    scores = dict.fromkeys(LINE_TESTS, 0)
    seen = 0
    for line in lines:
        if not line.strip():
            continue
        seen += 1
        if seen > SAMPLE_LINES:
            break
        for name, test in LINE_TESTS.items():
            if test(line):
                scores[name] += 1
    best = max(scores.values())
    hint = format_from_name(filename)
    if best == 0:
        return hint or "raw"
    leaders = [name for name in FORMATS if scores.get(name) == best]
    if hint in leaders:
        return hint
    return leaders[0]
