"""Every real log in tests/corpus/real parses with zero raw lines and the right number of records.

The expected counts are computed here, independently of the parsers, with the crudest rule that
identifies a record in each format (count the record terminators or record-start prefixes).
"""

from __future__ import annotations

import codecs
import itertools
import re
from datetime import UTC
from pathlib import Path

import pytest

from streams.formats import (
    LineDecoder,
    ParseStats,
    Record,
    StreamParser,
    make_parser,
    parse_bytes,
    parse_path,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "corpus" / "real"


def corpus_dir() -> Path:
    """The real corpus, kept in the repository (``tests/corpus/real``, provenance in its SOURCES.md).

    It is required test data: a missing corpus is a failure, never a skip.
    """
    folder = CORPUS
    if not folder.is_dir():
        pytest.fail(f"real log corpus not found at {folder} (it is part of the repository)")
    return folder


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.log")) if CORPUS.is_dir() else []


def test_corpus_is_present_and_not_empty() -> None:
    files = sorted(corpus_dir().glob("*.log"))
    assert len(files) >= 10


def decoded_lines(data: bytes) -> list[str]:
    """Physical lines, decoded with Python's own codecs (BOM-aware), split on CRLF/CR/LF."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        text = data.decode("utf-8-sig")
    return re.split(r"\r\n|\r|\n", text)


MSI_START = re.compile(r"(MSI \([cs]\) |Action |=== |Property\(|(Info|Error|Warning) \d+[.:]|DEBUG: Error)")


def expected(data: bytes) -> tuple[str, int]:
    """(format, record count) by independent counting."""
    if b"]LOG]!><" in data:
        return "cmtrace", data.count(b"]LOG]!><")
    if b"$$<" in data:
        return "sms", sum(1 for line in decoded_lines(data) if "$$<" in line)
    if data.startswith(b"#Software"):
        lines = decoded_lines(data)
        return "iis", sum(1 for line in lines if line.strip() and not line.startswith("#"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "msi", sum(1 for line in decoded_lines(data) if MSI_START.match(line))
    raise AssertionError("corpus file of an unknown kind: extend this test")


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:40])
def test_real_file_parses_completely(path: Path) -> None:
    corpus_dir()
    data = path.read_bytes()
    fmt, count = expected(data)
    stats = ParseStats()
    records = list(parse_path(path, stats=stats))
    assert stats.raw_lines == 0
    assert [r for r in records if r.format == "raw"] == []
    assert stats.formats == {str(path): fmt}
    assert len(records) == count
    # every byte is in exactly one record or in a skipped (blank/directive) line, in order
    assert sum(r.size for r in records) + stats.skipped_bytes == len(data)
    assert all(a.offset + a.size <= b.offset for a, b in itertools.pairwise(records))
    # lines are numbered from 1, increasing
    assert records[0].line >= 1
    assert all(a.line < b.line for a, b in itertools.pairwise(records))


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:40])
def test_chunked_reading_gives_the_same_records(path: Path) -> None:
    whole = list(parse_bytes(path.read_bytes(), str(path)))
    chunked = list(parse_path(path, chunk_size=4093))
    assert [r.to_dict() for r in chunked] == [r.to_dict() for r in whole]


def test_cmtrace_records_count_starts_and_torn_tails_separately() -> None:
    path = corpus_dir() / "danslabs__cmtraceopen__ClientHealth.log"
    data = path.read_bytes()
    records = list(parse_path(path))
    torn = [r for r in records if r.fields.get("torn")]
    assert len(records) - len(torn) == data.count(b"<![LOG[")
    assert all(not r.raw.startswith("<![LOG[") for r in torn)


def _cmtrace(name: str) -> list[Record]:
    return list(parse_path(corpus_dir() / name))


def test_cmtrace_types_map_to_severities() -> None:
    records = _cmtrace("ErnestoLeon87__log_reader__smsts.log")
    by_type: dict[int | None, set[str]] = {}
    for record in records:
        by_type.setdefault(record.fields["type"], set()).add(record.severity)
    assert by_type[0] == {"info"} and by_type[1] == {"info"}
    assert by_type[2] == {"warning"} and by_type[3] == {"error"}


def test_cmtrace_bias_240_means_utc_is_four_hours_later() -> None:
    data = (corpus_dir() / "ErnestoLeon87__log_reader__smsts.log").read_bytes()
    first = next(parse_bytes(data))
    match = re.search(rb'time="(\d\d):(\d\d):(\d\d)\.\d+\+240" date="(\d\d)-(\d\d)-(\d{4})"', data)
    assert match is not None
    hour = int(match.group(1))
    assert first.time is not None and first.time.tzinfo is UTC
    assert first.time.hour == (hour + 4) % 24
    assert first.fields["bias"] == 240 and not first.time_is_local


def test_cmtrace_seven_digit_fraction_without_zone_is_local_time() -> None:
    records = _cmtrace("danslabs__cmtraceopen__ClientHealth.log")
    first = records[0]
    assert first.time is not None and first.time.tzinfo is None and first.time_is_local
    assert (first.time.month, first.time.day) == (3, 21)  # date="3-21-2026", not zero-padded
    assert first.time.microsecond == 159049  # "17:19:49.1590494" -> microseconds (truncated)
    assert first.fields["source"] == ""


def test_cmtrace_empty_thread_and_two_digit_zone() -> None:
    bdd = _cmtrace("maxmoonACR__MDTLOGFiles__BDD.log")
    assert {r.thread for r in bdd} == {""}
    assert all(r.time is not None and r.time.tzinfo is UTC for r in bdd)
    ccmsetup = _cmtrace("jimbocalvo__Reddit__ccmsetup.log")
    assert all(r.fields.get("bias") == 0 for r in ccmsetup)  # "+00"


def test_msi_real_logs_carry_return_values_and_exit_codes() -> None:
    failed = list(parse_path(corpus_dir() / "Dimas-Group__PythonScripts__msi_install.log"))
    returns = [r for r in failed if r.fields.get("return_value") == 3]
    assert returns and all(r.severity == "error" for r in returns)
    exits = [r.fields["exit_code"] for r in failed if "exit_code" in r.fields]
    assert exits == [1603, 1603]  # the server (s) and the client (c) engine, as the log says
    assert any(r.fields.get("msi_error") == 1310 and r.severity == "error" for r in failed)
    good = list(parse_path(corpus_dir() / "ArMaTeC__Redball__msi_install.log"))
    assert [r.fields["exit_code"] for r in good if "exit_code" in r.fields] == [0, 0]
    assert not [r for r in good if r.fields.get("return_value") == 3]


def test_msi_en_gb_banner_is_read_day_first() -> None:
    records = list(parse_path(corpus_dir() / "ArMaTeC__Redball__msi_install.log"))
    banner = records[0]
    assert banner.message.startswith("=== Verbose logging started: 24/03/2026")
    assert banner.fields["date_order"] == "dmy" and banner.fields["date_order_assumed"] is False
    timed = [r.time for r in records if r.time is not None]
    assert timed and all((t.year, t.month, t.day) == (2026, 3, 24) for t in timed)
    assert all(r.time_is_local for r in records if r.time is not None)


def test_iis_real_log_fields_and_times() -> None:
    records = list(parse_path(corpus_dir() / "mrsalmon1976__IISLogReader__LogFile.log"))
    first = records[0]
    assert first.fields["cs-method"] == "GET" and first.fields["sc-status"] == 200
    assert first.fields["cs(User-Agent)"] == "Mozilla/5.0 (compatible; Windows)"
    assert first.fields["cs-uri-query"] is None
    assert first.time is not None and first.time.tzinfo is UTC
    assert first.message == "GET / 200.0"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:40])
def test_batch_fast_path_equals_line_by_line(path: Path) -> None:
    """Parsers inline their common case in ``feed_lines``; it must agree with ``feed`` exactly."""
    data = path.read_bytes()
    stream = StreamParser(str(path))
    stream.feed(data)
    stream.flush()
    assert stream.format is not None
    decoder = LineDecoder()
    lines = decoder.feed(data) + decoder.flush()
    batch = make_parser(stream.format, str(path))
    single = make_parser(stream.format, str(path))
    fast = batch.feed_lines(lines) + batch.flush()
    slow = [record for line in lines for record in single.feed(line)] + single.flush()
    assert [r.to_dict() for r in fast] == [r.to_dict() for r in slow]
