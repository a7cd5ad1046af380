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
from streams.formats.record import Line, Record, Severity

COMPONENT = "IIS"
PLUS_IS_SPACE = frozenset(
    {"cs(User-Agent)", "cs(Referer)", "cs(Cookie)", "cs-username", "s-sitename", "s-computername"}
)
INTEGER_COLUMNS = frozenset(
    {"sc-status", "sc-substatus", "sc-win32-status", "time-taken", "s-port", "sc-bytes", "cs-bytes"}
)
_DASH: dict[str, None] = {"-": None}  # _DASH.get(v, v): None for "-", else v
_MISSING: Any = object()


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
        the columns split, ``-`` mapped to None and the fields converted with C-level calls only."""
        out: list[Record] = []
        append = out.append
        file = self.file
        times = self._times
        dash = _DASH.get
        columns = self.columns
        width = len(columns)
        integer_columns = self._integer_columns
        plus_columns = self._plus_columns
        from_iso = datetime.fromisoformat
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
            day = fields.get("date") or self._day
            clock = fields.get("time") or ""
            if len(clock) == 8 and clock[2] == ":" and clock[5] == ":":  # HH:MM:SS: parsed as UTC at once
                try:
                    when = from_iso(f"{day}T{clock}+00:00")
                except ValueError:
                    when = None
            else:
                stamp = f"{day} {clock}"
                when = times.get(stamp, _MISSING)
                if when is _MISSING:
                    when = _utc(day, clock)
                    if len(times) > 4096:
                        times.clear()
                    times[stamp] = when
            message, severity = _summary(fields)
            append(
                Record(
                    "iis", when, fields.get("s-sitename") or COMPONENT, "", severity, message, file,
                    line.offset, line.size, line.number, fields, text, False, line.truncated,
                )
            )  # fmt: skip
        return out

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
        elif name == "date":
            self._day = value.strip()[:10]

    def _record(self, line: Line, fields: dict[str, Any]) -> Record:
        day = fields.get("date") or self._day
        clock = fields.get("time") or ""
        stamp = f"{day} {clock}"
        if stamp in self._times:
            when = self._times[stamp]
        else:
            when = _utc(day, clock)
            if len(self._times) > 4096:
                self._times.clear()
            self._times[stamp] = when
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


def _utc(day: str, clock: str) -> datetime | None:
    try:
        return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
    except ValueError:
        return None
