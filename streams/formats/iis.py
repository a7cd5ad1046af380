"""IIS W3C extended logs (``u_exYYMMDD.log`` in the W3SVC folder of a management point).

* Directive lines (``#Software:``, ``#Version:``, ``#Date:``, ``#Fields:`` ...) produce no record and
  are counted as directives. ``#Fields:`` is re-read every time it appears (IIS rewrites the header
  when it restarts or the logged fields change, so the columns may change mid-file).
* A data line is split on single spaces into the current ``#Fields`` columns; ``fields`` maps each
  column name to its value. ``-`` means empty (None). W3C/IIS write a space inside a value as ``+``;
  it is decoded back to a space in ``cs(User-Agent)``, ``cs(Referer)``, ``cs(Cookie)``, ``cs-username``,
  ``s-sitename`` and ``s-computername``. Other columns are verbatim: a ``+`` in ``cs-uri-stem`` or
  ``cs-uri-query`` is part of the URL encoding. Whole-number columns (``sc-status``, ``sc-substatus``,
  ``sc-win32-status``, ``time-taken``, ``s-port``, ``sc-bytes``, ``cs-bytes``) become ints.
* ``date`` + ``time`` are UTC (IIS always logs W3C times in UTC); with only ``time``, the ``#Date:``
  directive gives the day.
* ``message`` is ``METHOD stem?query status.substatus``; severity: status >= 500 error, >= 400 warning.
* A data line whose column count does not match ``#Fields`` (or any line before ``#Fields``) is raw.
  To resume a file in the middle, feed its directive lines first: they emit nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.formats.base import Parser
from streams.formats.raw import is_blank, raw_record
from streams.formats.record import RUN, Line, Record, Severity

COMPONENT = "IIS"
PLUS_IS_SPACE = frozenset(
    {"cs(User-Agent)", "cs(Referer)", "cs(Cookie)", "cs-username", "s-sitename", "s-computername"}
)
INTEGER_COLUMNS = frozenset(
    {"sc-status", "sc-substatus", "sc-win32-status", "time-taken", "s-port", "sc-bytes", "cs-bytes"}
)
_DASH: dict[str, None] = {"-": None}  # _DASH.get(v, v): None for "-", else v
_MISSING: Any = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class IisParser(Parser):
    """Incremental parser for W3C extended log files."""

    name = "iis"

    def __init__(self, file: str = "") -> None:
        super().__init__(file)
        self.columns: list[str] = []
        self._integer_columns: list[str] = []
        self._plus_columns: list[str] = []
        self._day = ""  # from '#Date:' (YYYY-MM-DD), for logs without a date column
        self._times: dict[str, datetime | None] = {}
        self._layout: tuple[int, ...] | None = None  # see _layout (lean mode)

    def feed(self, line: Line) -> list[Record]:
        text = line.text
        if text.startswith("#"):
            self._directive(text)
            self.directive_lines += 1
            self.skipped_bytes += line.size
            return []
        if is_blank(text):
            self.blank_lines += 1
            self.skipped_bytes += line.size
            return []
        values = text.split(" ")
        columns = self.columns
        if len(values) != len(columns) or not columns:
            self.raw_lines += 1
            return [raw_record(line, self.file)]
        fields: dict[str, Any] = dict(zip(columns, [None if v == "-" else v for v in values], strict=True))
        for name in self._integer_columns:
            value = fields[name]
            if value is not None and value.isdigit():
                fields[name] = int(value)
        for name in self._plus_columns:
            value = fields[name]
            if value is not None:
                fields[name] = value.replace("+", " ")
        return [self._record(line, fields)]

    def feed_lines(self, lines: Any) -> list[Record]:
        """Same as ``feed`` per line, with the common case (a data line matching ``#Fields``) inlined:
        the columns split, ``-`` mapped to None and the fields converted with C-level calls only.
        In lean mode (``Parser.lean``), see ``_feed_lean``."""
        return self._feed_lean(lines) if self.lean else self._feed_full(lines)

    def _feed_full(self, lines: Any) -> list[Record]:
        out: list[Record] = []
        append = out.append
        file = self.file
        dash = _DASH.get
        columns = self.columns
        width = len(columns)
        integer_columns = self._integer_columns
        plus_columns = self._plus_columns
        when_of = self._when
        for line in lines:
            text = line.text
            values = text.split(" ")
            if len(values) != width or not width or text.startswith("#") or not text or text.isspace():
                out.extend(self.feed(line))
                if text.startswith("#"):  # a directive may change the columns
                    columns = self.columns
                    width = len(columns)
                    integer_columns = self._integer_columns
                    plus_columns = self._plus_columns
                continue
            fields: dict[str, Any] = dict(zip(columns, map(dash, values, values), strict=True))
            for name in integer_columns:
                value = fields[name]
                if value is not None and value.isdigit():
                    fields[name] = int(value)
            for name in plus_columns:
                value = fields[name]
                if value is not None:
                    fields[name] = value.replace("+", " ")
            when = when_of(fields.get("date") or self._day, fields.get("time") or "")
            message, severity = _summary(fields)
            append(
                Record(
                    "iis", when, fields.get("s-sitename") or COMPONENT, "", severity, message, file,
                    line.offset, line.size, line.number, fields, text, False, line.truncated,
                )
            )  # fmt: skip
        return out

    def _feed_lean(self, lines: Any) -> list[Record]:
        """Lean mode: a run of well-formed, timed data lines that no IIS rule can match becomes one
        ``RUN`` record (its line count, first, last and latest time); every other line is parsed in
        full, in order. ``field_rules.match_iis`` reads only URLScan rejections and requests under
        ``/SMS_MP/`` with a status of 400 or more: the test here is looser (any ``/sms_mp/`` or
        ``rejected-by-urlscan`` anywhere in the line, in any case), never stricter."""
        out: list[Record] = []
        append = out.append
        full = self._feed_full
        when_of = self._when
        layout = self._layout
        lines_in_run = size = 0
        first = last = latest = _EPOCH
        offset = number = 0
        prev_stamp, prev_when = "", None  # consecutive lines of one second parse their time once
        for line in lines:
            text = line.text
            when = None
            if layout is not None and not line.truncated and text.count(" ") == layout[0]:
                low = text.lower()
                if "rejected-by-urlscan" not in low and text[:1] != "#" and not text.isspace():
                    if "/sms_mp/" in low and not _below_400(_status(text, layout)):
                        pass  # a failed MP request: a full record
                    elif layout[5] and text[10:11] == " " and text[19:20] == " ":  # date time first
                        stamp = text[:19]
                        if stamp != prev_stamp:
                            prev_stamp, prev_when = stamp, when_of(text[:10], text[11:19])
                        when = prev_when
                    else:
                        values = text.split(" ", layout[1])
                        day = values[layout[2]] if layout[2] >= 0 else ""
                        clock = values[layout[3]]
                        if day == "-" or not day:
                            day = self._day
                        when = when_of(day, "" if clock == "-" else clock)
            if when is None:
                if lines_in_run:
                    append(self._run(lines_in_run, first, latest, last, offset, size, number))
                    lines_in_run = 0
                out.extend(full([line]))
                layout = self._layout  # a directive may have changed the columns
                continue
            if not lines_in_run:
                first = latest = when
                size = 0
            elif when > latest:
                latest = when
            last = when
            lines_in_run += 1
            size += line.size
            offset, number = line.offset, line.number
        if lines_in_run:
            append(self._run(lines_in_run, first, latest, last, offset, size, number))
        return out

    def _run(
        self,
        lines: int,
        first: datetime,
        latest: datetime,
        last: datetime,
        offset: int,
        size: int,
        number: int,
    ) -> Record:
        """The ``RUN`` record of ``lines`` folded lines (``offset`` and ``number``: the last line's;
        ``size``: the bytes of all)."""
        self.folded += lines - 1
        fields = {"lines": lines, "first": first, "max": latest}
        return Record(
            RUN, last, COMPONENT, "", "info", "", self.file, offset, size, number, fields, "", False, False
        )

    def _when(self, day: str, clock: str) -> datetime | None:
        """UTC time of a line's ``date`` and ``time`` (IIS logs W3C times in UTC), for every path."""
        if len(clock) == 8 and clock[2] == ":" and clock[5] == ":":  # HH:MM:SS: parsed as UTC at once
            try:
                return datetime.fromisoformat(f"{day}T{clock}+00:00")
            except ValueError:
                return None
        stamp = f"{day} {clock}"
        when = self._times.get(stamp, _MISSING)
        if when is _MISSING:
            when = _utc(day, clock)
            if len(self._times) > 4096:
                self._times.clear()
            self._times[stamp] = when
        return when

    def flush(self) -> list[Record]:
        return []

    def pending_offset(self) -> int | None:
        return None

    def _directive(self, text: str) -> None:
        name, _, value = text[1:].partition(":")
        name = name.strip().lower()
        if name == "fields":
            self.columns = value.split()
            self._integer_columns = [c for c in self.columns if c in INTEGER_COLUMNS]
            self._plus_columns = [c for c in self.columns if c in PLUS_IS_SPACE]
            self._layout = _layout(self.columns)
        elif name == "date":
            self._day = value.strip()[:10]

    def _record(self, line: Line, fields: dict[str, Any]) -> Record:
        when = self._when(fields.get("date") or self._day, fields.get("time") or "")
        message, severity = _summary(fields)
        component = fields.get("s-sitename") or COMPONENT
        return Record(
            "iis", when, component, "", severity, message, self.file,
            line.offset, line.size, line.number, fields, line.text, False, line.truncated,
        )  # fmt: skip


def _summary(fields: dict[str, Any]) -> tuple[str, Severity]:
    """A request's message ("GET /sms_mp/.sms_aut?MPLIST 200.0") and severity (4xx warning, 5xx error),
    for both parsing paths."""
    status = fields.get("sc-status")
    substatus = fields.get("sc-substatus")
    method = fields.get("cs-method") or ""
    target = fields.get("cs-uri-stem") or ""
    query = fields.get("cs-uri-query")
    if query:
        target = f"{target}?{query}"
    code = "" if status is None else str(status) if substatus is None else f"{status}.{substatus}"
    if method and target and code:
        message = f"{method} {target} {code}"
    else:
        message = " ".join(part for part in (method, target, code) if part)
    severity: Severity = "info"
    if isinstance(status, int):
        severity = "error" if status >= 500 else "warning" if status >= 400 else "info"
    return message, severity


def _layout(columns: list[str]) -> tuple[int, ...] | None:
    """What lean mode reads of a data line under ``columns``: (spaces in a well-formed line, splits needed
    for the date and time, index of ``date`` (-1: none), of ``time``, of ``sc-status`` (-1: none), 1 when
    the line starts with the date and the time); None without a time column.
    Fields are looked up by name (``dict(zip(...))``): a repeated column name means its last index."""
    at = {name: i for i, name in enumerate(columns)}
    if "time" not in at:
        return None
    date, time, status = at.get("date", -1), at["time"], at.get("sc-status", -1)
    return len(columns) - 1, max(date, time) + 1, date, time, status, int(date == 0 and time == 1)


def _status(text: str, layout: tuple[int, ...]) -> str:
    """The ``sc-status`` value of a well-formed data line (``-`` without that column), split from
    whichever end of the line is nearer."""
    width, at = layout[0] + 1, layout[4]
    if at < 0:
        return "-"
    if width - at < at:
        return text.rsplit(" ", width - at)[1]
    return text.split(" ", at + 1)[at]


def _below_400(status: str) -> bool:
    """``match_iis``'s status test, negated: the parser makes a digit string an int, anything else
    reads as 0."""
    if not status.isdigit():
        return True
    try:
        return int(status) < 400
    except ValueError:  # a digit int() does not take ('²'): the full parse decides
        return False


def _utc(day: str, clock: str) -> datetime | None:
    try:
        return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
    except ValueError:
        return None
