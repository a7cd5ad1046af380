"""FileTailer on real files: framing, partial lines, held multi-line records, long lines, encodings."""

from __future__ import annotations

import codecs
import os
import shutil

import pytest

from shipper.tailer import FileTailer
from shipper.winfile import open_shared
from streams.formats.api import parse_path
from streams.formats.record import Framed, Record
from streams.wire import FileHeader, ShippedBatch, parse_records

CORPUS = os.path.join(os.path.dirname(__file__), "..", "corpus", "real")  # tests/corpus/real


def tailer(path, fmt: str, *, offset: int = 0, line: int = 1, encoding=None, chunk: int = 4096, **kw):
    return FileTailer(
        open_shared(str(path)), str(path), fmt=fmt, encoding=encoding, offset=offset, line=line,
        chunk_bytes=chunk, **kw,
    )  # fmt: skip


def parsed(t: FileTailer, framed: list[Framed]) -> list[Record]:
    """What a consumer parses from the framed records (the wire path), with the parser context the
    tailer noted for the first of them."""
    seen = t.__dict__.setdefault("_contexts_seen", [])
    seen.extend(t.take_contexts())
    if not framed:
        return []
    context: dict = {}
    for offset, ctx, _cut in seen:
        if offset <= framed[0].offset:
            context = ctx
    name = os.path.basename(t.path)
    header = FileHeader("MP01", "other", t.path, name, "1-1", t.fmt, t.encoding, context)
    return parse_records(ShippedBatch(header, framed))


def read_all(t: FileTailer) -> list[Record]:
    out: list[Framed] = []
    while True:
        records, count = t.read()
        out.extend(records)
        if not count:
            return parsed(t, out)


def finish(t: FileTailer) -> list[Record]:
    return parsed(t, t.finish())


def flush_held(t: FileTailer) -> list[Record]:
    return parsed(t, t.flush_held())


def resume_points(records: list[Record], end: tuple[int, int]) -> list[tuple[int, int]]:
    """Where a restart resumes once record i is delivered (what the registry checkpoints)."""
    return [(r.offset, r.line) for r in records[1:]] + [end]


def append(path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def test_partial_last_line_waits_for_its_newline(tmp_path):
    path = tmp_path / "other.log"
    path.write_bytes(b"first line\nsecond li")
    t = tailer(path, "raw")
    assert [r.message for r in read_all(t)] == ["first line"]
    assert t.resume == (len(b"first line\n"), 2)
    assert t.partial_bytes > 0
    assert flush_held(t) == []  # an idle flush never ships a partial line
    append(path, b"ne\n")
    records = read_all(t)
    assert [r.message for r in records] == ["second line"]
    assert records[0].offset == len(b"first line\n")
    assert t.resume == (path.stat().st_size, 3)
    t.close()


def test_multi_line_record_stays_whole_and_resume_point_is_before_it(tmp_path):
    path = tmp_path / "MPSetup.log"
    first = b"<12-06-2004 15:35:41> MP Setup Started....\r\n"
    held = b"<12-06-2004 15:35:42> Installing mp.msi with\r\n    wrapped argument line\r\n"
    path.write_bytes(first + held)
    t = tailer(path, "mpsetup")
    records = read_all(t)
    assert [r.message for r in records] == ["MP Setup Started...."]
    # the second record may continue: a restart must read it again from its first line
    assert t.resume == (len(first), 2)
    assert t.holds_record
    append(path, b"<12-06-2004 15:35:43> Passed OS version check.\r\n")
    records = read_all(t)
    assert len(records) == 1
    record = records[0]
    assert "wrapped argument line" in record.message and record.line == 2
    assert record.offset == len(first) and record.size == len(held)
    t.close()


def test_held_record_is_flushed_on_request_but_partial_line_is_not(tmp_path):
    path = tmp_path / "MPSetup.log"
    path.write_bytes(b"<12-06-2004 15:35:41> one\n  two\n<12-06-2004 15:35:4")
    t = tailer(path, "mpsetup")
    assert read_all(t) == []
    records = flush_held(t)
    assert [r.message.split() for r in records] == [["one", "two"]]
    end_of_complete_lines = len(b"<12-06-2004 15:35:41> one\n  two\n")
    assert t.resume == (end_of_complete_lines, 3)
    assert t.partial_bytes == len(b"<12-06-2004 15:35:4")
    rest = finish(t)  # the writer is done: the partial line is shipped too
    assert [r.offset for r in rest] == [end_of_complete_lines]
    assert t.resume[0] == path.stat().st_size
    t.close()


def test_finish_ships_the_partial_last_line(tmp_path):
    path = tmp_path / "other.log"
    path.write_bytes(b"complete\nno newline at the end")
    t = tailer(path, "raw")
    assert len(read_all(t)) == 1
    records = finish(t)
    assert [r.message for r in records] == ["no newline at the end"]
    assert t.resume[0] == path.stat().st_size
    t.close()


def test_ten_mib_line_is_truncated_with_a_flag_and_the_file_goes_on(tmp_path):
    path = tmp_path / "other.log"
    huge = b"x" * (10 << 20)
    path.write_bytes(b"before\n" + huge + b"\nafter 1\nafter 2\n")
    t = tailer(path, "raw", chunk=64 * 1024, max_line_bytes=1 << 20)
    records = read_all(t)
    assert [r.truncated for r in records] == [False, True, False, False]
    cut = records[1]
    assert len(cut.message) == 1 << 20
    assert cut.size == len(huge) + 1  # offsets stay exact: the next record starts after the whole line
    assert records[2].message == "after 1" and records[2].offset == 7 + len(huge) + 1
    assert t.truncated_lines == 1
    assert t.resume == (path.stat().st_size, 5)
    t.close()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("Dimas-Group__PythonScripts__msi_install.log", "msi"),  # UTF-16LE with BOM
        ("jimbocalvo__Reddit__ccmsetup.log", "cmtrace"),  # multi-line records
        ("MarkusBux__CmTrace__MockData.swift.Data2-excerpt.colleval.log", "sms"),
        ("mrsalmon1976__IISLogReader__LogFile.log", "iis"),
    ],
)
def test_small_chunks_frame_exactly_like_a_one_shot_parse(tmp_path, name, fmt):
    path = tmp_path / name
    shutil.copy(os.path.join(CORPUS, name), path)
    expected = [(r.offset, r.size, r.message) for r in parse_path(path, fmt)]
    t = tailer(path, fmt, chunk=1000)
    records = read_all(t) + finish(t)
    assert [(r.offset, r.size, r.message) for r in records] == expected
    t.close()


def test_resuming_at_any_framed_position_loses_and_repeats_nothing(tmp_path):
    name = "Dimas-Group__PythonScripts__msi_install.log"  # UTF-16LE: resume needs the stored encoding
    path = tmp_path / "MPMSI.log"
    shutil.copy(os.path.join(CORPUS, name), path)
    t = tailer(path, "msi", chunk=777)
    records = read_all(t) + finish(t)
    encoding = t.encoding
    marks = resume_points(records, t.resume)
    t.close()
    for cut in range(0, len(records), max(1, len(records) // 12)):
        offset, line = marks[cut]
        again = tailer(path, "msi", offset=offset, line=line, encoding=encoding, chunk=777)
        rest = read_all(again) + finish(again)
        again.close()
        assert [r.offset for r in rest] == [r.offset for r in records[cut + 1 :]]
        assert [r.line for r in rest] == [r.line for r in records[cut + 1 :]]
        # clock-less MSI lines inherit the time of the records before them: a resumed tailer knows it
        assert [(r.time, r.message) for r in rest] == [(r.time, r.message) for r in records[cut + 1 :]]


def test_iis_resume_mid_file_still_knows_the_columns(tmp_path):
    path = tmp_path / "u_ex150101.log"
    shutil.copy(os.path.join(CORPUS, "mrsalmon1976__IISLogReader__LogFile.log"), path)
    t = tailer(path, "iis")
    records = read_all(t)
    t.close()
    half = len(records) // 2
    again = tailer(path, "iis", offset=records[half].offset, line=records[half].line)
    rest = read_all(again)
    again.close()
    assert rest and all(r.format == "iis" for r in rest)
    assert [r.fields for r in rest] == [r.fields for r in records[half:]]


def msi_utf16_file(path) -> int:
    """An MPMSI.log as Windows Installer writes it: UTF-16LE with a BOM, CRLF, some non-ASCII text.
    Returns its number of lines."""
    lines = ["=== Verbose logging started: 12/6/2004  15:35:41  Build type: SHIP UNICODE 3.01.4000.1823 ==="]
    for i in range(40):
        stamp = f"15:35:{i % 60:02d}:{i * 7 % 1000:03d}"
        lines.append(f"MSI (s) (A0:18) [{stamp}]: Doing action {i} in C:\\SMS\\bin ({'é€' * (i % 3)})")
    lines.append("MSI (s) (A0:18) [15:36:40:000]: MainEngineThread is returning 1603")
    text = "".join(line + "\r\n" for line in lines)
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    return len(lines)


@pytest.mark.parametrize("chunk", [1, 3, 7, 777])
def test_utf16le_file_in_odd_sized_chunks_frames_the_same_records(tmp_path, chunk):
    # odd chunks cut code units in half, CR-LF pairs included; the decoder must wait for the other half
    path = tmp_path / "MPMSI.log"
    count = msi_utf16_file(path)
    expected = [(r.offset, r.size, r.line, r.message) for r in parse_path(path, "msi")]
    assert len(expected) == count
    t = tailer(path, "msi", chunk=chunk)
    records = read_all(t) + finish(t)
    assert [(r.offset, r.size, r.line, r.message) for r in records] == expected
    assert t.encoding == "utf-16-le"
    assert t.resume == (path.stat().st_size, count + 1)
    t.close()
