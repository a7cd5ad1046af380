"""CMTrace format (ConfigMgr client logs, smsts.log, ccmsetup.log, MDT BDD.log, Intune logs)::

    <![LOG[message]LOG]!><time="HH:MM:SS.fff+TZ" date="MM-DD-YYYY" component="X" context=""
    type="1" thread="1234" file="source.cpp:42">

* A record starts at a line beginning with ``<![LOG[`` and ends at the line holding the last
  ``]LOG]!><``; messages may span lines (kept with "\\n").
* Attributes are read by name, in any order (a fast path handles the usual order).
* ``TZ`` is a Windows bias in minutes, UTC = local + TZ: real files from US-Eastern machines in summer
  say ``+240`` (EDT is UTC-4), from US-Pacific ``+480``; 2-digit (``+00``) and 3-digit forms are the same
  number of minutes. Without TZ the time is local (``time_is_local=True``).
* The fraction may have 1-7 digits (Intune writes 7); dates may be unpadded (``3-21-2026``).
* ``type``: 0 and 1 info, 2 warning, 3 error (anything else: inferred from the text).
  ``fields``: ``type`` (int or None), ``source`` (the ``file`` attribute), ``context`` when not empty,
  ``bias`` (int minutes) when the time has a TZ.
* Concurrent writers tear lines in real files: a line may hold only the tail of a record (message cut,
  ``]LOG]!><`` and the attributes intact). Such a line is still a cmtrace record, with
  ``fields["torn"] = True``. So every ``]LOG]!><`` ends exactly one record.
* Any other line outside a record that does not start one is a 'raw' record. A record still open when a
  new ``<![LOG[`` line arrives gives its lines up as raw records.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from streams.formats.base import Parser
from streams.formats.raw import emit_unparsed, is_blank, raw_record, span
from streams.formats.record import Line, Record, Severity
from streams.formats.severity import infer_severity
from streams.formats.statmsg import PREFIX as STATMSG_PREFIX
from streams.formats.statmsg import parse_statmsg
from streams.formats.timeparse import fraction_to_micro, local_to_utc

START = "<![LOG["
END = "]LOG]!><"
_START_LEN = len(START)
_END_LEN = len(END)
ATTRS = re.compile(
    r'time="([^"]*)" date="([^"]*)" component="([^"]*)" context="([^"]*)" type="([^"]*)"'
    r' thread="([^"]*)" file="([^"]*)"\s*/?>\s*$'
)
ATTR = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"')
TYPES: dict[str, Severity] = {"0": "info", "1": "info", "2": "warning", "3": "error"}
TYPE_NUMBERS = {"0": 0, "1": 1, "2": 2, "3": 3}
MILLIS = {f"{ms:03d}": timedelta(milliseconds=ms) for ms in range(1000)}  # "123" -> 123 ms
MAX_OPEN_LINES = 5000
MAX_OPEN_BYTES = 8 << 20
_CACHE_LIMIT = 8192

Stamp = tuple[datetime | None, bool, int | None]  # (time, is local, Windows bias)


class CmtraceParser(Parser):
    """Incremental parser for CMTrace ``<![LOG[...]LOG]!><...>`` logs."""

    name = "cmtrace"

    def __init__(self, file: str = "") -> None:
        super().__init__(file)
        self._open: list[Line] = []
        self._open_bytes = 0
        self._seconds: dict[str, Stamp] = {}

    # ------------------------------------------------------------------ Parser API
    def feed(self, line: Line) -> list[Record]:
        text = line.text
        if self._open:
            if text.startswith(START):
                out = self._give_up()
                out.extend(self.feed(line))
                return out
            return self._continue(line, text)
        if text.startswith(START):
            end = text.rfind(END)
            if end >= 0:
                return [self._record(line, text[_START_LEN:end], text, end + _END_LEN, None)]
            self._open = [line]
            self._open_bytes = line.size
            return []
        if is_blank(text):
            self.blank_lines += 1
            self.skipped_bytes += line.size
            return []
        end = text.rfind(END)
        if end >= 0 and (ATTRS.match(text, end + _END_LEN) or 'time="' in text[end:]):
            # the tail of a torn write (another thread's output cut its head off): keep what survived
            record = self._record(line, text[:end], text, end + _END_LEN, None)
            record.fields["torn"] = True
            return [record]
        self.raw_lines += 1
        return [raw_record(line, self.file)]

    def feed_lines(self, lines: Any) -> list[Record]:
        """Same as ``feed`` per line, with the common case (one line, usual attributes) inlined for speed."""
        out: list[Record] = []
        append = out.append
        record = self._record
        match_attrs = ATTRS.match
        seconds = self._seconds
        millis = MILLIS
        types = TYPES
        file = self.file
        for line in lines:
            text = line.text
            end = text.rfind(END) if not self._open and text.startswith(START) else -1
            if end < 0:
                out.extend(self.feed(line))
                continue
            match = match_attrs(text, end + _END_LEN)
            if match is None:
                append(record(line, text[_START_LEN:end], text, end + _END_LEN, None))
                continue
            time_s, date_s, component, context, type_s, thread, source = match.groups()
            message = text[_START_LEN:end]
            severity = types.get(type_s)
            base = None
            if len(time_s) > 12 and time_s[8] == "." and time_s[12] in "+-":
                base = seconds.get(date_s + " " + time_s[:8] + time_s[12:])
            when = base[0] if base is not None else None
            step = millis.get(time_s[9:12]) if when is not None else None
            if (
                base is None or when is None or step is None or severity is None or context
                or base[2] is None or message.startswith(STATMSG_PREFIX)
            ):  # fmt: skip
                append(record(line, message, text, end + _END_LEN, None))
                continue
            fields: dict[str, Any] = {"type": TYPE_NUMBERS[type_s], "source": source, "bias": base[2]}
            append(
                Record(
                    "cmtrace", when + step, component, thread, severity, message, file,
                    line.offset, line.size, line.number, fields, text, base[1], line.truncated,
                )
            )  # fmt: skip
        return out

    def flush(self) -> list[Record]:
        return self._give_up()

    def pending_offset(self) -> int | None:
        return self._open[0].offset if self._open else None

    # ------------------------------------------------------------------ multi-line records
    def _continue(self, line: Line, text: str) -> list[Record]:
        held = self._open
        held.append(line)
        self._open_bytes += line.size
        end = text.rfind(END)
        if end >= 0:
            self._open = []
            self._open_bytes = 0
            parts = [held[0].text[_START_LEN:]]
            parts.extend(h.text for h in held[1:-1])
            parts.append(text[:end])
            return [self._record(line, "\n".join(parts), text, end + _END_LEN, held)]
        if len(held) > MAX_OPEN_LINES or self._open_bytes > MAX_OPEN_BYTES:
            return self._give_up()
        return []

    def _give_up(self) -> list[Record]:
        held = self._open
        self._open = []
        self._open_bytes = 0
        return emit_unparsed(self, held)

    # ------------------------------------------------------------------ records
    def _record(self, line: Line, message: str, text: str, attrs_at: int, held: list[Line] | None) -> Record:
        match = ATTRS.match(text, attrs_at)
        if match is not None:
            time_s, date_s, component, context, type_s, thread, source = match.groups()
        else:
            attrs = dict(ATTR.findall(text, attrs_at))
            time_s = attrs.get("time", "")
            date_s = attrs.get("date", "")
            component = attrs.get("component", "")
            context = attrs.get("context", "")
            type_s = attrs.get("type", "")
            thread = attrs.get("thread", "")
            source = attrs.get("file", "")
        when, local, bias = self._stamp(time_s, date_s)
        severity = TYPES.get(type_s)
        if severity is None:
            severity = infer_severity(message)
        fields: dict[str, Any] = {"type": int(type_s) if type_s.isdigit() else None, "source": source}
        if context:
            fields["context"] = context
        if bias is not None:
            fields["bias"] = bias
        if message.startswith(STATMSG_PREFIX):
            status, status_severity = parse_statmsg(message)
            fields.update(status)
            severity = status_severity or severity
        if held is None:
            offset, size, number, truncated = line.offset, line.size, line.number, line.truncated
            raw = text
        else:
            offset, size, number, truncated = span(held)
            raw = "\n".join(h.text for h in held)
        return Record(
            "cmtrace", when, component, thread, severity, message, self.file,
            offset, size, number, fields, raw, local, truncated,
        )  # fmt: skip

    def _stamp(self, time_s: str, date_s: str) -> Stamp:
        """(UTC or local datetime, is_local) for the time/date attributes; cached per second."""
        dot = time_s.find(".")
        if dot < 0:
            clock, frac, zone = _split_zone(time_s)
        else:
            clock = time_s[:dot]
            frac, _, zone = _split_zone(time_s[dot + 1 :])
        key = date_s + " " + clock + zone
        base = self._seconds.get(key)
        if base is None:
            base = _parse_second(date_s, clock, zone)
            if len(self._seconds) >= _CACHE_LIMIT:
                self._seconds.clear()
            self._seconds[key] = base
        when = base[0]
        if frac and when is not None:
            micro = fraction_to_micro(frac)
            if micro:
                when = when + timedelta(microseconds=micro)
        return when, base[1], base[2]


def _split_zone(text: str) -> tuple[str, str, str]:
    """'567+240' -> ('567', '', '+240'); '17:19:49' -> ('17:19:49', '', '')."""
    sign = text.find("+")
    if sign < 0:
        sign = text.find("-")
    if sign < 0:
        return text, "", ""
    return text[:sign], "", text[sign:]


def _parse_second(date_s: str, clock: str, zone: str) -> Stamp:
    try:
        month, day, year = (int(part) for part in date_s.replace("/", "-").split("-"))
        hour, minute, second = (int(part) for part in clock.split(":"))
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None, False, None
    if not zone or zone in ("+", "-"):
        return local, True, None
    try:
        bias = int(zone)
    except ValueError:
        return local, True, None
    return local_to_utc(local, bias), False, bias
