"""Log text as pasted from a log viewer (SMS Trace, CMTrace) or from the seed's own examples.

A viewer shows an SMS log as columns, and copying rows gives them back as one line each::

    Installing server...   SMS_SITE_COMPONENT_MANAGER   12/6/2004 1:21:35 PM   1700 (0x06A4)

with tabs or runs of spaces between the columns (message, component, date and time, thread). The date
and time are in the copying machine's local format: ``12/6/2004 1:21:35 PM`` (US), ``06/12/2004
13:21:35`` (day first: told apart only when the first number is over 12), ``06.12.2004 13:21:35``
(German and others), ``2004-12-06 13:21:35`` (ISO) or ``2004/12/06 13:21:35`` (Japanese), with or
without milliseconds and AM/PM. The seed also prints rows split over several lines "for readability":
the message on one or more lines, the component alone on a line (or glued to the message's last line),
then the date, time and thread; such a row is one record whose message is its message lines joined with
spaces (it was one line).

``match_row`` finds the columns at the end of a line; ``SmsParser`` (``streams.formats.sms``) uses it for
lines without an SMS trailer, so a pasted excerpt is parsed like the log it came from. Times are local
(no zone is pasted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from streams.formats.timeparse import fraction_to_micro

_DATE = (
    r"(?:(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})"
    r"|(?P<iy>\d{4})[-/](?P<im>\d{1,2})[-/](?P<id>\d{1,2}))"
)
_TIME = r"(?P<h>\d{1,2}):(?P<mi>\d\d):(?P<s>\d\d)(?:[.,](?P<f>\d+))?(?:\s*(?P<ampm>[AaPp][Mm]))?"
# matched from the start of a line: lazily the message, then the columns anchored at the end
ROW = re.compile(
    r"(?P<message>.*?)\s*(?:(?<![A-Za-z0-9_])(?P<component>[A-Za-z_][A-Za-z0-9_]*)\s+)?"
    + _DATE
    + r"\s+"
    + _TIME
    + r"\s+(?P<thread>\d+)\s+\(0x[0-9A-Fa-f]+\)\s*$"
)
# the component closing a held line: alone on it, or glued to the message ("directory.SMS_SITE_...");
# component names are upper case with at least one underscore
COMPONENT_TAIL = re.compile(r"(.*?)\s*([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s*$")


@dataclass(frozen=True, slots=True)
class Row:
    """The columns of one pasted row (``component`` None when it stood on a line of its own)."""

    message: str
    component: str | None
    time: datetime | None  # local time; None when the date is impossible (month 13, ...)
    thread: str


def could_be_row(text: str) -> bool:
    """Cheap pre-test: a row ends with ``N (0xHEX)``."""
    tail = text[-40:].rstrip()
    return tail.endswith(")") and " (0x" in tail


def match_row(text: str) -> Row | None:
    """The columns of ``text`` if it ends like a pasted viewer row, else None."""
    found = ROW.match(text)
    if found is None:
        return None
    g = found.groupdict()
    return Row(g["message"].rstrip(), g["component"], _when(g), g["thread"])


def _when(g: dict[str, str | None]) -> datetime | None:
    if g["iy"] is not None:
        year, month, day = int(g["iy"]), int(g["im"] or 0), int(g["id"] or 0)
    else:
        first, second, year = int(g["a"] or 0), int(g["b"] or 0), int(g["y"] or 0)
        day_first = g["sep"] == "." or first > 12
        month, day = (second, first) if day_first else (first, second)
    hour = int(g["h"] or 0)
    ampm = g["ampm"]
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        return datetime(
            year, month, day, hour, int(g["mi"] or 0), int(g["s"] or 0), fraction_to_micro(g["f"] or "")
        )
    except ValueError:
        return None
