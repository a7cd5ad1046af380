"""Lines no parser understands: emitted as format 'raw' records, one per physical line, never dropped.

Also the small helpers every parser uses for blank lines and for held (multi-line) records.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.formats.base import Parser
from streams.formats.record import Line, Record
from streams.formats.severity import infer_severity


def is_blank(text: str) -> bool:
    """True for an empty or whitespace-only line."""
    return not text or text.isspace()


def raw_record(line: Line, file: str) -> Record:
    """A 'raw' record for one physical line (severity inferred from the text)."""
    text = line.text
    return Record(
        "raw", None, "", "", infer_severity(text), text, file,
        line.offset, line.size, line.number, {}, text, False, line.truncated,
    )  # fmt: skip


def span(lines: Sequence[Line]) -> tuple[int, int, int, bool]:
    """(offset, size, first line number, any truncated) of consecutive lines."""
    first = lines[0]
    size = 0
    truncated = False
    for line in lines:
        size += line.size
        truncated = truncated or line.truncated
    return first.offset, size, first.number, truncated


def emit_unparsed(parser: Parser, lines: Sequence[Line]) -> list[Record]:
    """Held lines that never became a record: raw records (blank ones are only counted)."""
    out: list[Record] = []
    for line in lines:
        if is_blank(line.text):
            parser.blank_lines += 1
            parser.skipped_bytes += line.size
        else:
            parser.raw_lines += 1
            out.append(raw_record(line, parser.file))
    return out


class RawParser(Parser):
    """Every non-blank line becomes a 'raw' record (used when no format was recognised)."""

    name = "raw"

    def feed(self, line: Line) -> list[Record]:
        if is_blank(line.text):
            self.blank_lines += 1
            self.skipped_bytes += line.size
            return []
        self.raw_lines += 1
        return [raw_record(line, self.file)]

    def flush(self) -> list[Record]:
        return []

    def pending_offset(self) -> int | None:
        return None
