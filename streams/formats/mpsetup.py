"""MPSetup.log (management point setup on the target server)::

    <12-06-2004 15:35:41> MP Setup Started....
    <12/06/04 15:35:41> Installing C:\\SMS\\bin\\i386\\mp.msi
    CCMINSTALLDIR="C:\\SMS_CCM" ...            <- wrapped: continues the record above

A line starting with ``<MM-DD-YYYY HH:MM:SS>`` or ``<MM/DD/YY HH:MM:SS>`` starts a record; any other line
continues the previous one (blank lines included). Times are local (``time_is_local=True``). The message
is the text after the stamp, its lines joined with "\\n". Severity is inferred from the text, and
``MP.MSI exited with return code: N`` sets ``fields["return_code"]`` (error unless 0, or 3010/1641 which
mean success with a reboot pending: warning). Lines before the first stamp are raw records.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from streams.formats.base import Parser
from streams.formats.raw import emit_unparsed, span
from streams.formats.record import Line, Record, Severity
from streams.formats.severity import infer_severity
from streams.formats.timeparse import year_from

COMPONENT = "MPSetup"
STAMP = re.compile(r"\s*<(\d{1,2})[-/](\d{1,2})[-/](\d{2}|\d{4}) (\d{1,2}):(\d\d):(\d\d)>")
RETURN_CODE = re.compile(r"return\s+code:?\s*(-?\d+)", re.I)
SUCCESS_CODES: dict[int, Severity] = {0: "info", 3010: "warning", 1641: "warning"}
MAX_HELD_LINES = 5000


class MpsetupParser(Parser):
    """Incremental parser for MPSetup.log."""

    name = "mpsetup"

    def __init__(self, file: str = "") -> None:
        super().__init__(file)
        self._held: list[Line] = []
        self._when: datetime | None = None
        self._body = ""
        self._stamps: dict[str, datetime | None] = {}

    def feed(self, line: Line) -> list[Record]:
        text = line.text
        match = STAMP.match(text) if "<" in text[:8] else None
        if match is None:
            if self._held:
                self._held.append(line)
                return self.flush() if len(self._held) > MAX_HELD_LINES else []
            return emit_unparsed(self, [line])
        out = self.flush()
        stamp = match.group(0)
        if stamp in self._stamps:
            when = self._stamps[stamp]
        else:
            when = _parse(match)
            if len(self._stamps) > 4096:
                self._stamps.clear()
            self._stamps[stamp] = when
        self._held = [line]
        self._when = when
        self._body = text[match.end() :].strip()
        return out

    def flush(self) -> list[Record]:
        if not self._held:
            return []
        held, self._held = self._held, []
        offset, size, number, truncated = span(held)
        parts = [self._body]
        parts.extend(line.text.rstrip() for line in held[1:])
        message = "\n".join(parts).strip()
        fields: dict[str, Any] = {}
        severity: Severity = infer_severity(message)
        code = RETURN_CODE.search(message)
        if code is not None:
            fields["return_code"] = int(code.group(1))
            severity = SUCCESS_CODES.get(fields["return_code"], "error")
        raw = "\n".join(line.text for line in held)
        record = Record(
            "mpsetup", self._when, COMPONENT, "", severity, message, self.file,
            offset, size, number, fields, raw, self._when is not None, truncated,
        )  # fmt: skip
        return [record]

    def pending_offset(self) -> int | None:
        return self._held[0].offset if self._held else None


def _parse(match: re.Match[str]) -> datetime | None:
    month, day, year, hour, minute, second = match.groups()
    try:
        return datetime(year_from(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
