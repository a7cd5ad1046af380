"""The public face of ``streams.formats``: pick a parser, detect a format, parse bytes or files.

``StreamParser`` is the whole per-file pipeline (``LineDecoder`` -> format detection -> ``Parser``) for
callers that receive bytes piecemeal, such as a tailer; ``parse_bytes`` and ``parse_path`` are the
one-shot conveniences built on it. ``parse_path`` reads in chunks, so memory stays bounded by the chunk
size and ``max_line_bytes`` however big the file is.

What is guaranteed about bytes: records come out in file order, they do not overlap, and every input
byte is in exactly one record or in a blank / directive line that produced none (counted in
``ParseStats``): ``sum(r.size for r in records) + stats.skipped_bytes == len(data)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.errors import InputError, UnknownFormatError
from streams.formats.base import Parser
from streams.formats.cmtrace import CmtraceParser
from streams.formats.decode import LineDecoder
from streams.formats.detect import SAMPLE_LINES, detect_format
from streams.formats.iis import IisParser
from streams.formats.mpsetup import MpsetupParser
from streams.formats.msi import MsiParser
from streams.formats.raw import RawParser, is_blank
from streams.formats.record import FORMATS, Line, Record
from streams.formats.sms import SmsParser

PARSERS: dict[str, type[Parser]] = {
    "sms": SmsParser,
    "cmtrace": CmtraceParser,
    "msi": MsiParser,
    "mpsetup": MpsetupParser,
    "iis": IisParser,
    "raw": RawParser,
}
assert tuple(PARSERS) == FORMATS  # one parser per format name, same order
SNIFF_BYTES = 256 << 10  # decide the format after this many bytes even if fewer lines came
# parse_path/parse_bytes hand the decoder at most this much at a time and yield as they go: a few
# hundred live Line/Record objects instead of thousands keeps the cyclic GC cheap (about 1.5x faster
# than whole 1 MiB chunks on the benchmark) whatever chunk_size the caller reads with.
FEED_SLICE = 1 << 15


def make_parser(name: str, file: str = "") -> Parser:
    """A fresh parser for format ``name`` (one of ``record.FORMATS``); UnknownFormatError otherwise."""
    cls = PARSERS.get(name.strip().lower())
    if cls is None:
        raise UnknownFormatError(f"unknown format {name!r} (known: {', '.join(FORMATS)})")
    return cls(file)


@dataclass
class ParseStats:
    """What parsing produced, for summaries and for proving that no byte went missing."""

    records: dict[str, int] = field(default_factory=dict)  # records per format ('raw' included)
    raw_lines: int = 0  # physical lines no parser understood (each is one 'raw' record)
    blank_lines: int = 0  # blank lines outside records (no record)
    directive_lines: int = 0  # IIS directives (no record)
    skipped_bytes: int = 0  # bytes of those blank and directive lines
    lines: int = 0  # physical lines decoded
    bytes: int = 0  # bytes read
    files: int = 0  # files parsed
    formats: dict[str, str] = field(default_factory=dict)  # file -> format used
    encoding_switches: int = 0  # a block of another encoding found inside a file (decode.LineDecoder)

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    def merge(self, other: ParseStats) -> None:
        """Add another file's (or run's) figures to these."""
        for name, count in other.records.items():
            self.records[name] = self.records.get(name, 0) + count
        self.raw_lines += other.raw_lines
        self.blank_lines += other.blank_lines
        self.directive_lines += other.directive_lines
        self.skipped_bytes += other.skipped_bytes
        self.lines += other.lines
        self.bytes += other.bytes
        self.files += other.files
        self.formats.update(other.formats)
        self.encoding_switches += other.encoding_switches

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": dict(self.records),
            "raw_lines": self.raw_lines,
            "blank_lines": self.blank_lines,
            "directive_lines": self.directive_lines,
            "lines": self.lines,
            "bytes": self.bytes,
        }


class StreamParser:
    """Bytes of one file in, records out: decoding, format detection (unless given) and parsing.

    Without ``fmt`` the first lines are held until ``detect.SAMPLE_LINES`` non-blank lines (or
    ``SNIFF_BYTES`` bytes, or ``flush``) allow a decision; then they are parsed like the rest.
    ``pending_offset`` is where a restart must resume reading so that nothing held is lost.
    """

    def __init__(
        self,
        file: str = "",
        fmt: str | None = None,
        *,
        encoding: str | None = None,
        start_offset: int = 0,
        start_line: int = 1,
        max_line_bytes: int = 1 << 20,
        lean: bool = False,
    ) -> None:
        self.file = file
        self.lean = lean  # records for correlation only: see ``Parser.lean``
        self.decoder = LineDecoder(
            encoding=encoding, start_offset=start_offset, start_line=start_line, max_line_bytes=max_line_bytes
        )
        self.parser: Parser | None = self._parser(fmt) if fmt else None
        self._sample: list[Line] = []
        self._sample_text = 0
        self._sample_bytes = 0
        self.lines = 0
        self.bytes = 0
        self.records = 0

    @property
    def format(self) -> str | None:
        """The format in use, None while still sampling the first lines."""
        return self.parser.name if self.parser is not None else None

    def feed(self, data: bytes) -> list[Record]:
        """Consume a chunk of the file; return the records it completed."""
        self.bytes += len(data)
        return self._take(self.decoder.feed(data), final=False)

    def flush(self) -> list[Record]:
        """End of input (or a tailer giving up waiting): emit everything still held."""
        out = self._take(self.decoder.flush(), final=True)
        if self.parser is not None:
            tail = self.parser.flush()
            self.records += len(tail)
            out.extend(tail)
        return out

    def pending_offset(self) -> int:
        """File offset of the first byte not yet part of an emitted record (or skipped line)."""
        candidates = [self.decoder.offset]
        if self._sample:
            candidates.append(self._sample[0].offset)
        if self.parser is not None:
            held = self.parser.pending_offset()
            if held is not None:
                candidates.append(held)
        return min(candidates)

    def stats(self) -> ParseStats:
        """This file's figures (call after ``flush``)."""
        parser = self.parser
        stats = ParseStats(
            files=1, lines=self.lines, bytes=self.bytes, encoding_switches=len(self.decoder.switches)
        )
        name = self.format or "raw"
        stats.formats[self.file] = name
        if parser is None:
            return stats
        stats.raw_lines = parser.raw_lines
        stats.blank_lines = parser.blank_lines
        stats.directive_lines = parser.directive_lines
        stats.skipped_bytes = parser.skipped_bytes
        own = self.records + parser.folded - (parser.raw_lines if name != "raw" else 0)
        if own:
            stats.records[name] = own
        if parser.raw_lines and name != "raw":
            stats.records["raw"] = parser.raw_lines
        return stats

    def _parser(self, name: str) -> Parser:
        parser = make_parser(name, self.file)
        parser.lean = self.lean
        return parser

    def _take(self, lines: list[Line], final: bool) -> list[Record]:
        self.lines += len(lines)
        if self.parser is None:
            self._sample.extend(lines)
            for line in lines:  # only until the decision can be made (a whole small file is one chunk)
                self._sample_bytes += line.size
                if not is_blank(line.text):
                    self._sample_text += 1
                    if self._sample_text >= SAMPLE_LINES:
                        break
                if self._sample_bytes >= SNIFF_BYTES:
                    break
            if not final and self._sample_text < SAMPLE_LINES and self._sample_bytes < SNIFF_BYTES:
                return []
            name = detect_format((line.text for line in self._sample), self.file)
            self.parser = self._parser(name)
            lines, self._sample = self._sample, []
        out = self.parser.feed_lines(lines)
        self.records += len(out)
        return out


def parse_bytes(
    data: bytes, file: str = "", fmt: str | None = None, *, stats: ParseStats | None = None
) -> Iterator[Record]:
    """Records of a whole file given as bytes (format detected unless ``fmt``); fills ``stats`` at the end."""
    stream = StreamParser(file, fmt)
    for start in range(0, len(data), FEED_SLICE):
        yield from stream.feed(data[start : start + FEED_SLICE])
    yield from stream.flush()
    if stats is not None:
        stats.merge(stream.stats())


def parse_path(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    chunk_size: int = 1 << 20,
    stats: ParseStats | None = None,
    max_line_bytes: int = 1 << 20,
) -> Iterator[Record]:
    """Records of a file, read ``chunk_size`` bytes at a time. InputError if it cannot be read."""
    for batch in parse_path_batches(
        path, fmt, chunk_size=chunk_size, stats=stats, max_line_bytes=max_line_bytes
    ):
        yield from batch


def parse_path_batches(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    chunk_size: int = 1 << 20,
    stats: ParseStats | None = None,
    max_line_bytes: int = 1 << 20,
) -> Iterator[list[Record]]:
    """``parse_path`` a list at a time (the records of each ``FEED_SLICE`` of input, possibly none):
    for callers that handle records in bulk, without a generator step per record."""
    name = os.fspath(path)
    stream = StreamParser(name, fmt, max_line_bytes=max_line_bytes)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from exc
    with handle:
        while True:
            try:
                chunk = handle.read(chunk_size)
            except OSError as exc:
                raise InputError(f"{name}: {exc.strerror or exc}") from exc
            if not chunk:
                break
            if len(chunk) <= FEED_SLICE:
                yield stream.feed(chunk)
                continue
            for start in range(0, len(chunk), FEED_SLICE):
                yield stream.feed(chunk[start : start + FEED_SLICE])
        yield stream.flush()
    if stats is not None:
        stats.merge(stream.stats())
