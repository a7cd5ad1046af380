"""SMS / ConfigMgr server log format (SiteComp.log, MPControl.log, colleval.log ...).

A record is one or more physical lines; the last one ends with a trailer::

    message text  $$<COMPONENT><MM-DD-YYYY HH:MM:SS.mmm+BIAS><thread=N (0xHEX)>

* Physical lines without a trailer belong to the record that the next trailer closes.
* Exactly the two spaces before ``$$`` are a separator (up to two are removed; more are message).
* ``~`` in a message stands for a line break: ``message`` has "\\n", ``raw`` keeps the ``~``.
* BIAS is a Windows bias in minutes: UTC = local + bias (``+480`` PST, ``-60`` CET).
* Older SMS versions wrote a text timestamp ``<Fri Mar 26 10:43:41.547 1999 Eastern Standard Time>``;
  Windows zone names map to their bias (see ``timeparse``); an unknown zone gives the local time with
  ``time_is_local=True``. An unreadable timestamp (the seed document's ``<date time year time zone>``
  placeholder) gives ``time=None`` and ``fields["time_text"]``. A known bias is in ``fields["bias"]``.
* Lines copied from Trace32/CMTrace's grid (``message<TAB>COMPONENT<TAB>12/6/2004 1:21:35 PM<TAB>1700
  (0x06A4)``, as quoted in Microsoft's documents) are accepted too, as local time.

Severity is inferred from the text (``severity.infer_severity``), except for STATMSG messages whose
``SEV=`` decides (see ``statmsg``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from streams.formats.base import Parser, framed
from streams.formats.raw import emit_unparsed, is_blank, span
from streams.formats.record import Framed, Line, Record, Severity
from streams.formats.severity import infer_severity
from streams.formats.statmsg import PREFIX as STATMSG_PREFIX
from streams.formats.statmsg import parse_statmsg
from streams.formats.timeparse import fraction_to_micro, local_to_utc, parse_ctime, zone_bias
from streams.formats.viewer import COMPONENT_TAIL, Row, could_be_row, match_row

MARK = "$$<"
# matched from the "$$" of the last "$$<" on the line: <COMPONENT><TIME><thread=N (0xHEX)>
TRAILER = re.compile(r"<([^<>]*)><([^<>]*)><thread=\s*([^\s<>(]*)[^<>]*>\s*$")
MAX_HELD_LINES = 2000
MAX_HELD_BYTES = 4 << 20
_CACHE_LIMIT = 8192
_UNSEEN: Any = object()
MILLIS = {f"{ms:03d}": timedelta(milliseconds=ms) for ms in range(1000)}  # "123" -> 123 ms

Stamp = tuple[datetime | None, bool, int | None]  # (time, is local, Windows bias)


class SmsParser(Parser):
    """Incremental parser for the SMS server trailer format."""

    name = "sms"

    def __init__(self, file: str = "") -> None:
        super().__init__(file)
        self._held: list[Line] = []
        self._held_bytes = 0
        self._stamps: dict[str, Stamp] = {}  # full timestamp text -> parsed
        self._seconds: dict[str, Stamp | None] = {}  # timestamp without its fraction -> parsed
        self._days: dict[str, Stamp | None] = {}  # MM-DD-YYYY + bias -> that day's midnight (_second)
        self._severities: dict[str, Severity] = {}  # message -> inferred severity (messages repeat a lot)

    # ------------------------------------------------------------------ Parser API
    def feed(self, line: Line) -> list[Record]:
        text = line.text
        mark = text.rfind(MARK)
        if mark >= 0:
            match = TRAILER.match(text, mark + 2)
            if match is not None:
                return [self._record(line, text, mark, match)]
        elif could_be_row(text):
            row = match_row(text)
            if row is not None:
                return self._copy_record(line, row)
        return self._hold(line)

    def feed_lines(self, lines: Any) -> list[Record]:
        """Same as ``feed`` per line, with the common case (one line, numeric stamp) inlined for speed."""
        out: list[Record] = []
        append = out.append
        match_trailer = TRAILER.match
        seconds = self._seconds
        second_of = self._second
        severities = self._severities
        millis = MILLIS
        file = self.file
        for line in lines:
            text = line.text
            mark = text.rfind(MARK)
            match = match_trailer(text, mark + 2) if mark >= 0 and not self._held else None
            if match is None:
                out.extend(self.feed(line))
                continue
            component, stamp, thread = match.groups()
            base = None
            if stamp[19:20] == ".":
                key = stamp[:19] + stamp[23:]
                base = seconds.get(key)
                if base is None and stamp[23:24] in ("+", "-") and stamp[20:23].isdecimal():
                    base = second_of(key)  # a new second: what _stamp would cache for it
            when = base[0] if base is not None else None
            step = millis.get(stamp[20:23]) if when is not None else None
            if base is None or when is None or step is None:
                append(self._record(line, text, mark, match))
                continue
            if mark >= 2 and text[mark - 1] == " " and text[mark - 2] == " ":
                message = text[: mark - 2]
            else:
                message = text[:mark].removesuffix(" ")
            if "~" in message or message.startswith(STATMSG_PREFIX):
                append(self._record(line, text, mark, match))
                continue
            severity = severities.get(message)
            if severity is None:
                severity = self._severity(message)
            bias = base[2]
            fields: dict[str, Any] = {} if bias is None else {"bias": bias}
            record = Record(
                "sms", when + step, component, thread, severity, message, file,
                line.offset, line.size, line.number, fields, text, base[1], line.truncated,
            )  # fmt: skip
            append(record)
        return out

    def frame_lines(self, lines: Any) -> list[Framed]:
        """Same spans as ``feed_lines``; a single-line record (a trailer on a line while nothing is held,
        the common case) costs one ``rfind`` and one regex match, nothing more."""
        out: list[Framed] = []
        append = out.append
        match_trailer = TRAILER.match
        for line in lines:
            if not self._held:
                text = line.text
                mark = text.rfind(MARK)
                if mark >= 0 and match_trailer(text, mark + 2) is not None:
                    append(Framed(line.offset, line.size, line.number, text, line.truncated))
                    continue
            out.extend(framed(self.feed(line)))
        return out

    def flush(self) -> list[Record]:
        held, self._held, self._held_bytes = self._held, [], 0
        return emit_unparsed(self, held)

    def pending_offset(self) -> int | None:
        return self._held[0].offset if self._held else None

    # ------------------------------------------------------------------ records
    def _hold(self, line: Line) -> list[Record]:
        if not self._held and is_blank(line.text):
            self.blank_lines += 1
            self.skipped_bytes += line.size
            return []
        self._held.append(line)
        self._held_bytes += line.size
        if len(self._held) <= MAX_HELD_LINES and self._held_bytes <= MAX_HELD_BYTES:
            return []
        oldest = self._held.pop(0)  # no trailer in sight: give the oldest line up as raw
        self._held_bytes -= oldest.size
        return emit_unparsed(self, [oldest])

    def _record(self, line: Line, text: str, mark: int, match: re.Match[str]) -> Record:
        component, stamp, thread = match.groups()
        message = text[:mark]
        if message.endswith("  "):
            message = message[:-2]
        elif message.endswith(" "):
            message = message[:-1]
        if self._held:
            held = self._held
            self._held = []
            self._held_bytes = 0
            held.append(line)
            offset, size, number, truncated = span(held)
            message = "\n".join([h.text for h in held[:-1]] + [message])
            raw = "\n".join([h.text for h in held])
        else:
            offset, size, number, truncated = line.offset, line.size, line.number, line.truncated
            raw = text
        if "~" in message:
            message = message.replace("~", "\n")
        cached = self._stamps.get(stamp)
        if cached is None:
            cached = self._stamp(stamp)
        when, local, bias = cached
        fields: dict[str, Any]
        if message.startswith(STATMSG_PREFIX):
            fields, severity = parse_statmsg(message)
            severity = severity or infer_severity(message)
        else:
            fields = {}
            severity = self._severities.get(message) or self._severity(message)
        if bias is not None:
            fields["bias"] = bias
        elif when is None:
            fields["time_text"] = stamp
        return Record(
            "sms", when, component, thread, severity, message, self.file,
            offset, size, number, fields, raw, local, truncated,
        )  # fmt: skip

    def _copy_record(self, line: Line, row: Row) -> list[Record]:
        """A row pasted from a log viewer (``streams.formats.viewer``), with the lines held before it:
        continuation lines of its message, or, in the seed's split form, the message lines and then
        the component alone on a line or glued to the last one (joined with spaces: they were one line).
        In that form a blank line ends what came before (prose around a pasted excerpt): those lines
        become raw records of their own."""
        held, self._held, self._held_bytes = self._held, [], 0
        before: list[Record] = []
        if row.component is None and held and COMPONENT_TAIL.match(held[-1].text):
            blank = max((i for i, h in enumerate(held) if is_blank(h.text)), default=-1)
            if blank >= 0:
                before = emit_unparsed(self, held[: blank + 1])
                held = held[blank + 1 :]
        component = row.component
        pieces = [h.text for h in held]
        split_form = False
        if component is None:
            named = COMPONENT_TAIL.match(pieces[-1]) if pieces else None
            if named is not None:
                component = named.group(2)
                pieces[-1] = named.group(1)
                split_form = True
        held.append(line)
        offset, size, number, truncated = span(held)
        if row.message:
            pieces.append(row.message)
        if split_form:
            message = " ".join(p.strip() for p in pieces if p.strip())
        else:
            message = "\n".join(pieces).replace("~", "\n")
        severity: Severity | None
        if message.startswith(STATMSG_PREFIX):
            fields, severity = parse_statmsg(message)
            severity = severity or infer_severity(message)
        else:
            fields, severity = {}, infer_severity(message)
        fields["trailer"] = "grid-copy"
        record = Record(
            "sms", row.time, component or "", row.thread, severity, message, self.file,
            offset, size, number, fields, "\n".join(h.text for h in held), True, truncated,
        )  # fmt: skip
        return [*before, record]

    def _severity(self, message: str) -> Severity:
        severity = infer_severity(message)
        if len(self._severities) >= _CACHE_LIMIT:
            self._severities.clear()
        self._severities[message] = severity
        return severity

    # ------------------------------------------------------------------ timestamps
    def _second(self, key: str) -> Stamp | None:
        """``parse_numeric_stamp(key)`` for a timestamp without its fraction, cached per second; a new
        second of a known day (``MM-DD-YYYY`` and bias) is that day's midnight plus the seconds, so a
        log writing one line every few seconds (MP Control Manager) does not run the regex per line."""
        base: Stamp | None = None
        if len(key) >= 19 and key[10] == " " and key[13] == ":" and key[16] == ":":
            hours, minutes, seconds = key[11:13], key[14:16], key[17:19]
            if hours.isdecimal() and minutes.isdecimal() and seconds.isdecimal():
                h, m, sec = int(hours), int(minutes), int(seconds)
                if h < 24 and m < 60 and sec < 60:
                    day_key = key[:10] + key[19:]
                    day = self._days.get(day_key, _UNSEEN)
                    if day is _UNSEEN:
                        day = parse_numeric_stamp(f"{key[:10]} 00:00:00{key[19:]}")
                        if len(self._days) >= _CACHE_LIMIT:
                            self._days.clear()
                        self._days[day_key] = day
                    if day is None or day[0] is None:  # not this shape, or an impossible date: as parsed
                        base = day
                    else:
                        base = (day[0] + timedelta(seconds=h * 3600 + m * 60 + sec), day[1], day[2])
                    return self._keep(key, base)
        return self._keep(key, parse_numeric_stamp(key))

    def _keep(self, key: str, base: Stamp | None) -> Stamp | None:
        if len(self._seconds) >= _CACHE_LIMIT:
            self._seconds.clear()
        self._seconds[key] = base
        return base

    def _stamp(self, stamp: str) -> Stamp:
        """Parse a trailer timestamp; cached per distinct text and per distinct second."""
        result: Stamp | None = None
        if len(stamp) > 20 and stamp[19] == "." and stamp[2] == "-":
            cut = stamp.find("+", 20)
            if cut < 0:
                cut = stamp.find("-", 20)
            frac = stamp[20:cut] if cut > 20 else ""
            if frac.isdigit():
                key = stamp[:19] + stamp[cut:]
                base = self._seconds.get(key)
                if base is None:
                    base = self._second(key)
                if base is not None:
                    when = base[0]
                    micro = fraction_to_micro(frac)
                    result = (
                        when.replace(microsecond=micro) if when is not None and micro else when,
                        base[1],
                        base[2],
                    )
        if result is None:
            result = parse_numeric_stamp(stamp)
        if result is None:
            result = parse_text_stamp(stamp)
        if len(self._stamps) >= _CACHE_LIMIT:
            self._stamps.clear()
        self._stamps[stamp] = result
        return result


_NUMERIC = re.compile(r"\s*(\d{1,2})-(\d{1,2})-(\d{4}) (\d{1,2}):(\d\d):(\d\d)(?:\.(\d+))?\s*([+-]\d+)?\s*$")


def parse_numeric_stamp(stamp: str) -> Stamp | None:
    """``MM-DD-YYYY HH:MM:SS.mmm+BIAS`` -> (aware UTC, False); without bias -> (naive local, True).

    None when the text is not in this shape; (None, False) when it is but names an impossible date.
    """
    match = _NUMERIC.match(stamp)
    if match is None:
        return None
    month, day, year, hour, minute, second, frac, bias = match.groups()
    try:
        local = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            fraction_to_micro(frac or ""),
        )
    except ValueError:
        return None, False, None
    if bias is None:
        return local, True, None
    return local_to_utc(local, int(bias)), False, int(bias)


def parse_text_stamp(stamp: str) -> Stamp:
    """``Fri Mar 26 10:43:41.547 1999 Eastern Standard Time`` -> UTC; unknown zone -> local time."""
    parsed = parse_ctime(stamp)
    if parsed is None:
        return None, False, None
    local, zone = parsed
    bias = zone_bias(zone) if zone else None
    if bias is None:
        return local, True, None
    return local_to_utc(local, bias), False, bias
