"""Mixed encodings inside one file (issue 14, item 14): a UTF-16 block appended to a UTF-8 log, or the
reverse, is detected at the line where it starts, read on in the new encoding with exact offsets, and
counted: in ``LineDecoder.switches``, in ``mpwatch parse``'s summary, as a note of ``mpwatch diagnose``
and in the shipper's ``mpwatch_shipper_encoding_switches_total``. What is not a switch stays one
encoding: NUL padding after a crash, UTF-16 text in a script without ASCII, cp1252 bytes."""

from __future__ import annotations

import codecs
from pathlib import Path

import orjson
import pytest

from shipper.tailer import FileTailer
from shipper.winfile import open_shared
from streams.cli import main
from streams.formats.decode import LineDecoder
from streams.formats.record import Line
from tests.fixtures.logsets import write_logset
from tests.shipper_harness import make_config, metric, new_metrics, read_output, ship_once
from tests.views import essentials

U8_LINES = ["first utf-8 line", "second utf-8 line"]
U16_LINES = ["unicode line A (UTF-16)", "unicode line B, ünïcödé"]
TAIL_LINES = ["back in utf-8, third line"]


def crlf(lines: list[str], encoding: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode(encoding)


def decode_all(data: bytes, chunk: int, **kw: object) -> tuple[list[Line], LineDecoder]:
    decoder = LineDecoder(**kw)  # type: ignore[arg-type]
    out: list[Line] = []
    for start in range(0, len(data), chunk):
        out += decoder.feed(data[start : start + chunk])
    out += decoder.flush()
    assert sum(line.size for line in out) == len(data)  # no byte lost, offsets exact
    return out, decoder


MIXED = {
    "utf-16-le with BOM after utf-8": (
        crlf(U8_LINES, "utf-8")
        + codecs.BOM_UTF16_LE
        + crlf(U16_LINES, "utf-16-le")
        + crlf(TAIL_LINES, "utf-8"),
        ["utf-16-le", "utf-8"],
        U8_LINES + U16_LINES + TAIL_LINES,
    ),
    "utf-16-le without BOM after utf-8": (
        crlf(U8_LINES, "utf-8") + crlf(U16_LINES, "utf-16-le"),
        ["utf-16-le"],
        U8_LINES + U16_LINES,
    ),
    "utf-16-be with BOM after utf-8": (
        crlf(U8_LINES, "utf-8") + codecs.BOM_UTF16_BE + crlf(U16_LINES, "utf-16-be"),
        ["utf-16-be"],
        U8_LINES + U16_LINES,
    ),
    "utf-8 after a utf-16-le file": (
        codecs.BOM_UTF16_LE + crlf(U16_LINES, "utf-16-le") + crlf(TAIL_LINES, "utf-8"),
        ["utf-8"],
        U16_LINES + TAIL_LINES,
    ),
}


@pytest.mark.parametrize("chunk", [1, 3, 64, 1 << 20])
@pytest.mark.parametrize("name", list(MIXED))
def test_a_switch_is_found_at_its_line_and_read_on_in_the_new_encoding(name: str, chunk: int) -> None:
    data, switched_to, expected = MIXED[name]
    lines, decoder = decode_all(data, chunk)
    assert [line.text for line in lines] == expected  # nothing NUL-interleaved, nothing mojibake
    assert [new for _, _, new in decoder.switches] == switched_to
    starts = {line.offset for line in lines}
    assert all(at in starts for at, _, _ in decoder.switches)  # a switch happens at a line start
    assert decoder.encoding == switched_to[-1]


def test_resuming_after_a_switch_with_the_saved_encoding_reads_the_same_lines() -> None:
    data, _, _ = MIXED["utf-16-le with BOM after utf-8"]
    lines, _ = decode_all(data, 64)
    cut = lines[3]  # the second UTF-16 line: a checkpoint taken there holds utf-16-le
    resumed, _ = decode_all(data[cut.offset :], 5, encoding="utf-16-le", start_offset=cut.offset)
    assert [(x.text, x.offset) for x in resumed[: len(U16_LINES) - 1]] == [
        (x.text, x.offset) for x in lines[3 : 3 + len(U16_LINES) - 1]
    ]
    assert resumed[-1].text == TAIL_LINES[0]  # and the switch back is found again


@pytest.mark.parametrize(
    "data",
    [
        crlf(U8_LINES, "utf-8") + b"\x00" * 4096 + crlf(TAIL_LINES, "utf-8"),  # NUL padding after a crash
        codecs.BOM_UTF16_LE
        + crlf(["管理ポイント上の設定を確認しました"] * 3, "utf-16-le"),  # CJK, no NUL bytes
        codecs.BOM_UTF16_LE + crlf(U16_LINES, "utf-16-le"),
        crlf(U8_LINES, "utf-8") + "caf\xe9 \xff\xfe in cp1252\r\n".encode("cp1252"),
    ],
    ids=["nul-padding", "utf-16-cjk", "utf-16-only", "cp1252-bytes"],
)
def test_what_is_not_a_switch_stays_one_encoding(data: bytes) -> None:
    for chunk in (1, 7, 1 << 20):
        _, decoder = decode_all(data, chunk)
        assert decoder.switches == []


def _mix_sitecomp(folder: Path) -> Path:
    """SERVER1's sitecomp.log: its second half re-encoded as UTF-16LE with a BOM, as if appended by a
    tool that writes "Unicode"."""
    path = folder / "SERVER1" / "SMS" / "Logs" / "sitecomp.log"
    text = path.read_bytes().decode("utf-8")
    lines = text.splitlines(keepends=True)
    half = len(lines) // 2
    path.write_bytes(
        "".join(lines[:half]).encode("utf-8")
        + codecs.BOM_UTF16_LE
        + "".join(lines[half:]).encode("utf-16-le")
    )
    return path


def test_diagnose_reads_a_mixed_file_like_the_clean_one_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = write_logset("demo", tmp_path / "clean")
    mixed = write_logset("demo", tmp_path / "mixed")
    path = _mix_sitecomp(mixed)
    main(["diagnose", "--json", str(clean)])
    want = orjson.loads(capsys.readouterr().out)
    main(["diagnose", "--json", str(mixed)])
    captured = capsys.readouterr()
    assert essentials(orjson.loads(captured.out)) == essentials(want)
    assert "encoding changes inside a file" in captured.err
    assert "sitecomp.log" in captured.err and "utf-8 -> utf-16-le" in captured.err
    main(["parse", str(path)])
    assert "1 encoding switch(es)" in capsys.readouterr().err


def test_the_shipper_counts_the_switch_and_ships_clean_text(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config.once = True
    log = tmp_path / "logs" / "MPControl.log"
    trailer = "$$<SMS_MP_CONTROL_MANAGER><12-06-2004 16:10:00.000+300><thread=2008 (0x7D8)>"
    first = [f"utf-8 record {i}  {trailer}" for i in range(3)]
    second = [f"utf-16 record {i}  {trailer}" for i in range(3)]
    log.write_bytes(crlf(first, "utf-8") + codecs.BOM_UTF16_LE + crlf(second, "utf-16-le"))
    metrics = new_metrics()
    assert ship_once(config, metrics).delivered_all
    messages = [r["record"]["message"] for r in read_output(config)]
    assert messages == [m.split("  $$")[0] for m in first + second]
    assert metric(metrics, "encoding_switches_total") == 1


def test_the_tailer_reports_the_encoding_it_reads_now(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(crlf(U8_LINES * 5, "utf-8") + codecs.BOM_UTF16_LE + crlf(U16_LINES, "utf-16-le")[:60])
    tailer = FileTailer(open_shared(str(path)), str(path), fmt="raw", encoding=None, offset=0, line=1)
    while tailer.read()[1]:
        pass
    assert tailer.encoding == "utf-16-le"  # what a checkpoint taken now saves
