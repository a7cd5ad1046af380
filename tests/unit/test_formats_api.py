"""The public API: make_parser, detect_format, StreamParser, parse_bytes/parse_path, byte accounting."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.errors import InputError, ParseError, UnknownFormatError
from streams.formats import (
    FORMATS,
    LineDecoder,
    ParseStats,
    Record,
    StreamParser,
    detect_format,
    make_parser,
    parse_bytes,
    parse_path,
)

SMS_LINE = "Done.  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 17:25:06.000+480><thread=2008 (0x7D8)>"
CM_LINE = (
    '<![LOG[Started]LOG]!><time="10:19:13.567+240" date="10-18-2019" component="C" context="" '
    'type="1" thread="1" file="x.cpp:1">'
)
MSI_LINE = "MSI (s) (18:F4) [12:02:17:898]: Grabbed execution mutex."
MPSETUP_LINE = "<12-06-2004 15:35:41> MP Setup Started...."
IIS_LINE = "#Fields: date time cs-method cs-uri-stem sc-status"


def test_make_parser_knows_every_format_and_rejects_others() -> None:
    for name in FORMATS:
        assert make_parser(name, "f.log").name == name
    with pytest.raises(UnknownFormatError, match="nope"):
        make_parser("nope")
    assert issubclass(UnknownFormatError, ParseError)


@pytest.mark.parametrize(
    ("line", "fmt"),
    [
        (SMS_LINE, "sms"),
        (CM_LINE, "cmtrace"),
        (MSI_LINE, "msi"),
        (MPSETUP_LINE, "mpsetup"),
        (IIS_LINE, "iis"),
    ],
)
def test_detect_format_from_content(line: str, fmt: str) -> None:
    assert detect_format(["", line, line]) == fmt
    # content wins over a misleading file name
    assert detect_format([line], "u_ex041206.log" if fmt != "iis" else "MPMSI.log") == fmt


def test_detect_format_uses_the_name_only_as_a_hint() -> None:
    assert detect_format(["nothing recognisable"], "") == "raw"
    assert detect_format(["nothing recognisable"], r"C:\SMS\Logs\MPSetup.log") == "mpsetup"
    assert detect_format([], "u_ex260101.log") == "iis"
    assert detect_format(["wrapped text only"], "sitecomp.log") == "sms"


def test_parse_bytes_fills_stats() -> None:
    other = "something else  $$<C><12-06-2004 17:25:07.000+480><thread=1 (0x1)>"
    data = f"{SMS_LINE}\r\n\r\n{other}\r\n".encode()
    stats = ParseStats()
    records = list(parse_bytes(data, "MPControl.log", stats=stats))
    assert [r.format for r in records] == ["sms", "sms"]
    assert stats.records == {"sms": 2} and stats.files == 1 and stats.raw_lines == 0
    assert stats.lines == 3 and stats.bytes == len(data)
    assert sum(r.size for r in records) + stats.skipped_bytes == len(data)


def test_raw_lines_in_a_detected_file_are_kept_and_counted() -> None:
    data = (CM_LINE + "\nstray text\n" + CM_LINE + "\n").encode()
    stats = ParseStats()
    records = list(parse_bytes(data, stats=stats))
    assert [r.format for r in records] == ["cmtrace", "raw", "cmtrace"]
    assert stats.records == {"cmtrace": 2, "raw": 1} and stats.raw_lines == 1


def test_stream_parser_holds_lines_until_format_is_known_and_tracks_pending_offset() -> None:
    stream = StreamParser("MPControl.log")
    first = (SMS_LINE + "\n").encode()
    assert stream.feed(first) == []  # still sampling: too few lines to decide
    assert stream.format is None and stream.pending_offset() == 0
    records = stream.flush()
    assert stream.format == "sms" and len(records) == 1
    assert stream.pending_offset() == len(first)


def test_stream_parser_with_known_format_emits_at_once_and_resumes_exactly() -> None:
    lines = [SMS_LINE.replace("Done.", f"message {i}") for i in range(5)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    stream = StreamParser("MPControl.log", "sms")
    records = stream.feed(data[:-10])
    assert len(records) == 4
    resume = stream.pending_offset()
    assert resume == records[-1].offset + records[-1].size
    again = StreamParser("MPControl.log", "sms", start_offset=resume, start_line=5, encoding="utf-8")
    [last] = again.feed(data[resume:])
    assert (last.offset, last.line, last.message) == (resume, 5, "message 4")


def test_parse_path_reads_in_chunks_and_reports_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "MPSetup.log"
    path.write_bytes(("\r\n".join([MPSETUP_LINE, "wrapped", MPSETUP_LINE]) + "\r\n").encode())
    records = list(parse_path(path, chunk_size=3))
    assert [r.line for r in records] == [1, 3]
    assert records[0].message == "MP Setup Started....\nwrapped"
    with pytest.raises(InputError, match=r"missing\.log"):
        list(parse_path(tmp_path / "missing.log"))


def _check_accounting(data: bytes, records: list[Record], stats: ParseStats) -> None:
    assert sum(r.size for r in records) + stats.skipped_bytes == len(data)
    for before, after in itertools.pairwise(records):
        assert before.offset + before.size <= after.offset
    assert stats.raw_lines == sum(1 for r in records if r.format == "raw")


FRAGMENTS = [
    SMS_LINE,
    "  $$<",
    "$$<C><bad><thread=>",
    CM_LINE,
    "<![LOG[",
    "]LOG]!><",
    MSI_LINE,
    "=== Logging started: 31/02/2026  25:61:61 ===",
    "Action ended 99:99:99: X. Return value 3.",
    MPSETUP_LINE,
    "<13-45-2004 99:99:99> x",
    IIS_LINE,
    "2004-12-06 21:35:08 GET / 200",
    "~",
    "\r",
    "\n",
    "\r\n",
    "",
    "\x00",
    "\xe9",
]


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=25),
    junk=st.binary(max_size=40),
    fmt=st.sampled_from([None, *FORMATS]),
    splits=st.lists(st.integers(min_value=1, max_value=64), max_size=10),
)
def test_arbitrary_input_never_raises_and_never_loses_bytes(
    pieces: list[str], junk: bytes, fmt: str | None, splits: list[int]
) -> None:
    data = "".join(pieces).encode("utf-8", "surrogatepass") + junk
    stream = StreamParser("any.log", fmt, max_line_bytes=64)
    records: list[Record] = []
    pos = 0
    for size in splits:
        records += stream.feed(data[pos : pos + size])
        pos += size
    records += stream.feed(data[pos:])
    records += stream.flush()
    _check_accounting(data, records, stream.stats())
    whole_stats = ParseStats()
    whole = list(parse_bytes(data, "any.log", fmt, stats=whole_stats))
    _check_accounting(data, whole, whole_stats)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300), fmt=st.sampled_from([None, *FORMATS]))
def test_random_bytes_only_raise_parse_errors(data: bytes, fmt: str | None) -> None:
    stats = ParseStats()
    try:
        records = list(parse_bytes(data, "x", fmt, stats=stats))
    except ParseError:
        return
    _check_accounting(data, records, stats)


VARIANT_LINES = [
    "plain  $$<C><12-06-2004 13:21:35.007+300><thread=1 (0x1)>",
    "again  $$<C><12-06-2004 13:21:35.008+300><thread=1 (0x1)>",
    "two digit ms  $$<C><12-06-2004 13:21:35.08+300><thread=1 (0x1)>",
    "no bias  $$<C><12-06-2004 13:21:35.009><thread=1 (0x1)>",
    "east  $$<C><12-06-2004 13:21:35.010-60><thread=1 (0x1)>",
    "with~tilde  $$<C><12-06-2004 13:21:35.011+300><thread=1 (0x1)>",
    "STATMSG: ID=1 SEV=W SYS=X  $$<C><12-06-2004 13:21:35.012+300><thread=1 (0x1)>",
    "one space $$<C><12-06-2004 13:21:35.013+300><thread=1 (0x1)>",
    "bad date  $$<C><13-45-2004 13:21:35.014+300><thread=1 (0x1)>",
    "text  $$<C><Mon Dec 06 13:21:35.015 2004 Pacific Standard Time><thread=1 (0x1)>",
    "wrapped head",
    "wrapped tail  $$<C><12-06-2004 13:21:36.000+300><thread=1 (0x1)>",
    CM_LINE,
    CM_LINE.replace('context=""', 'context="ctx"'),
    CM_LINE.replace("+240", "").replace(".567", ".5670001"),
    CM_LINE.replace('type="1"', 'type="7"'),
    CM_LINE.replace("Started", "STATMSG: ID=2 SEV=E"),
    CM_LINE.replace("10:19:13", "10:19:14"),
    "<![LOG[multi",
    "line]LOG]!><" + CM_LINE.split("]LOG]!><")[1],
    "stray",
    "",
]


@pytest.mark.parametrize("fmt", ["sms", "cmtrace"])
def test_batch_fast_path_equals_line_by_line_on_variants(fmt: str) -> None:
    data = ("\r\n".join(VARIANT_LINES * 3) + "\r\n").encode()
    decoder = LineDecoder()
    lines = decoder.feed(data) + decoder.flush()
    batch, single = make_parser(fmt), make_parser(fmt)
    fast = batch.feed_lines(lines) + batch.flush()
    slow = [record for line in lines for record in single.feed(line)] + single.flush()
    assert [r.to_dict() for r in fast] == [r.to_dict() for r in slow]
    assert (batch.raw_lines, batch.blank_lines) == (single.raw_lines, single.blank_lines)
