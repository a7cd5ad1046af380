"""Windows Installer logs (MPMSI.log, ``msiexec /l*v``), verbose and non-verbose.

Record starts (anything else continues the previous record, including blank lines):

* banners ``=== Verbose logging started: 24/03/2026  05:15:49  Build type: ... ===``,
  ``=== Logging started: 4/25/2015  4:25:27 ===`` and their ``stopped`` twins;
* ``MSI (c) (A0:18) [hh:mm:ss:mmm]: text`` and ``MSI (c) (A0:18): text`` (no time, as quoted in the
  seed document); custom-action threads are written ``(F0!60)``;
* ``Action start 4:25:27: INSTALL.``, ``Action ended 4:25:27: X. Return value 1.``,
  ``Action 05:15:50: InstallValidate. Validating install``;
* ``Property(S): NAME = value``, ``Info 2898.``, ``Error 1310.``, ``Warning 1909.``, ``DEBUG: Error 2826:``.

Times are local (``time_is_local=True``) and carry the date of the last banner, rolling over to the
next day when the clock goes back by more than 12 hours (client and server processes interleave lines a
few milliseconds out of order, which must not count as midnight). A record without its own time (a
property dump, a continuation) gets the time of the record before it; before any time is known it has
none. Banner dates follow the machine's locale: the day/month order is decided by the banner itself
(``24/03/2026`` can only be day-first); an ambiguous banner keeps the order decided earlier, else
month-first, and says so in ``fields["date_order"]`` / ``fields["date_order_assumed"]``.

fields: ``context`` ('c' client / 's' server), ``pid``, ``tid`` (hex as written), ``action``,
``return_value`` (``Return value N``), ``exit_code`` (``MainEngineThread is returning N``),
``install_status`` (``Installation success or error status: N``), ``msi_error`` (``Error NNNN.``,
``DEBUG: Error NNNN``, ``Note: 1: NNNN``), ``msi_code`` (``Info NNNN.``, ``Warning NNNN.``).
Severity: error for ``Return value 3``, ``Error NNNN.``, and an
engine exit code / install status other than 0, 3010 and 1641 (those two are "success, reboot needed":
warning); ``Return value 2`` (user cancel) is a warning; notes, properties and DEBUG lines are info;
other records are inferred from their text.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from streams.formats.base import Parser
from streams.formats.raw import emit_unparsed, span
from streams.formats.record import Line, Record, Severity
from streams.formats.severity import infer_severity
from streams.formats.timeparse import year_from

COMPONENT = "MSI"
MSI_LINE = re.compile(
    r"MSI \(([cs])\) \(([0-9A-Fa-f]+)[:!]([0-9A-Fa-f]+)\)"
    r"(?: \[(\d{1,2}):(\d\d):(\d\d)(?::(\d{1,3}))?\])?:\s?(.*)",
    re.S,
)
ACTION = re.compile(r"Action (?:(start|ended) )?(\d{1,2}):(\d\d):(\d\d): ([^.\s]*)\.?\s*(.*)", re.S)
BANNER = re.compile(r"=== (Verbose logging|Logging) (started|stopped)")
BANNER_WHEN = re.compile(r":\s*(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})\.?\s+(\d{1,2}):(\d\d):(\d\d)")
NUMBERED = re.compile(r"(Info|Error|Warning) (\d+)[.:]|DEBUG: Error (\d+)")
RETURN_VALUE = re.compile(r"Return value (\d+)")
ENGINE = re.compile(r"MainEngineThread is returning (\d+)")
STATUS = re.compile(r"success or error status: (\d+)")
ERROR_CODE = re.compile(r"(?<![\w:])Error (\d{4,5})\.")
NOTE = re.compile(r"Note: 1: (\d+)")
SUCCESS_CODES: dict[int, Severity] = {0: "info", 3010: "warning", 1641: "warning"}
ROLLOVER = 12 * 3600
MAX_HELD_LINES = 5000


class MsiParser(Parser):
    """Incremental parser for Windows Installer logs."""

    name = "msi"

    def __init__(self, file: str = "") -> None:
        super().__init__(file)
        self._held: list[Line] = []
        self._head: dict[str, Any] = {}
        self._date: date | None = None
        self._order: str | None = None  # 'dmy' or 'mdy' once a banner decided it
        self._clock: int | None = None  # seconds of day of the last timed line
        self._last: datetime | None = None

    # ------------------------------------------------------------------ Parser API
    def feed(self, line: Line) -> list[Record]:
        text = line.text
        head = self._start(text)
        if head is None:
            if self._held:
                self._held.append(line)
                if len(self._held) > MAX_HELD_LINES:
                    return self.flush()
                return []
            return emit_unparsed(self, [line])
        out = self.flush()
        self._held = [line]
        self._head = head
        return out

    def flush(self) -> list[Record]:
        if not self._held:
            return []
        held, self._held = self._held, []
        return [self._record(held, self._head)]

    def pending_offset(self) -> int | None:
        return self._held[0].offset if self._held else None

    # ------------------------------------------------------------------ line kinds
    def _start(self, text: str) -> dict[str, Any] | None:
        """Describe a record-starting line, or None for a continuation line."""
        first = text[:1]
        if first == "M" and text.startswith("MSI ("):
            match = MSI_LINE.match(text)
            if match is not None:
                context, pid, tid, hour, minute, second, milli, payload = match.groups()
                head: dict[str, Any] = {"kind": "msi", "text": payload, "thread": tid}
                head["fields"] = {"context": context, "pid": pid, "tid": tid}
                if hour is not None:
                    head["time"] = self._at(int(hour), int(minute), int(second), int(milli or 0))
                return head
        elif first == "A" and text.startswith("Action "):
            match = ACTION.match(text)
            if match is not None:
                event, hour, minute, second, action, _rest = match.groups()
                head = {"kind": "action", "text": text, "event": event or "", "action": action}
                head["time"] = self._at(int(hour), int(minute), int(second), 0)
                return head
        elif first == "=" and text.startswith("=== "):
            return self._banner(text)
        elif first == "P" and text.startswith("Property("):
            return {"kind": "property", "text": text}
        elif first in "IEWD":
            match = NUMBERED.match(text)
            if match is not None:
                kind = "debug" if match.group(3) else match.group(1).lower()
                return {"kind": kind, "text": text, "code": int(match.group(2) or match.group(3))}
        return None

    def _banner(self, text: str) -> dict[str, Any]:
        head: dict[str, Any] = {"kind": "banner", "text": text, "fields": {}}
        if BANNER.match(text) is None:
            return head
        when = BANNER_WHEN.search(text)
        if when is None:
            return head
        first, second, third, hour, minute, sec = when.groups()
        fields = head["fields"]
        if len(first) == 4:
            year, month, day, order, assumed = int(first), int(second), int(third), "ymd", False
        else:
            a, b = int(first), int(second)
            year = year_from(third)
            if a > 12 >= b:
                order, assumed = "dmy", False
            elif b > 12 >= a:
                order, assumed = "mdy", False
            else:
                order, assumed = self._order or "mdy", self._order is None
            month, day = (b, a) if order == "dmy" else (a, b)
            if not assumed:
                self._order = order
        fields["date_order"] = order
        fields["date_order_assumed"] = assumed
        try:
            self._date = date(year, month, day)
        except ValueError:
            return head
        self._clock = None
        head["time"] = self._at(int(hour), int(minute), int(sec), 0)
        return head

    def _at(self, hour: int, minute: int, second: int, milli: int) -> datetime | None:
        """Local datetime for a clock reading on the current banner date (midnight rollover aware)."""
        if self._date is None or hour > 23 or minute > 59 or second > 59:
            return None
        seconds = hour * 3600 + minute * 60 + second
        if self._clock is not None and seconds < self._clock - ROLLOVER:
            self._date += timedelta(days=1)
        self._clock = seconds
        return datetime.combine(self._date, time(hour, minute, second, milli * 1000))

    # ------------------------------------------------------------------ records
    def _record(self, held: list[Line], head: dict[str, Any]) -> Record:
        offset, size, number, truncated = span(held)
        parts = [head["text"]]
        parts.extend(line.text for line in held[1:])
        message = "\n".join(parts).rstrip()
        fields: dict[str, Any] = dict(head.get("fields", ()))
        kind = head["kind"]
        when = head.get("time")
        if when is None:
            when = self._last
        else:
            self._last = when
        severity = self._classify(kind, head, message, fields)
        if "code" in head:
            fields["msi_error" if kind in ("error", "debug") else "msi_code"] = head["code"]
        raw = "\n".join(line.text for line in held)
        return Record(
            "msi", when, COMPONENT, head.get("thread", ""), severity, message, self.file,
            offset, size, number, fields, raw, when is not None, truncated,
        )  # fmt: skip

    @staticmethod
    def _classify(kind: str, head: dict[str, Any], message: str, fields: dict[str, Any]) -> Severity:
        severity: Severity | None = None
        if kind == "action":
            fields["action"] = head["action"]
            if head["event"]:
                fields["action_event"] = head["event"]
            returned = RETURN_VALUE.search(message)
            if returned is not None:
                value = int(returned.group(1))
                fields["return_value"] = value
                severity = "error" if value == 3 else "warning" if value == 2 else "info"
            return severity or "info"
        engine = ENGINE.search(message)
        if engine is not None:
            fields["exit_code"] = int(engine.group(1))
            severity = _exit_severity(fields["exit_code"])
        status = STATUS.search(message)
        if status is not None:
            fields["install_status"] = int(status.group(1))
            severity = _exit_severity(fields["install_status"])
        if kind != "debug":
            error = ERROR_CODE.search(message)
            if error is not None:
                fields["msi_error"] = int(error.group(1))
                severity = "error"
        note = NOTE.search(message) if "msi_error" not in fields else None
        if note is not None:
            fields["msi_error"] = int(note.group(1))
        if severity is not None:
            return severity
        if kind in ("property", "debug", "info") or note is not None:
            return "info"
        return infer_severity(message)


def _exit_severity(code: int) -> Severity:
    return SUCCESS_CODES.get(code, "error")
