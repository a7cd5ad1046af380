"""The shipper's block path gives exactly what the per-line path gives: same framed records, same wire
records, same resume points, on every real corpus file and on generated files cut into chunks anywhere.

Block path: ``LineDecoder.feed_blocks`` -> ``Parser.frame_items`` / ``ContextTracker.frame_items`` ->
``encode_items``. Per-line path: ``LineDecoder.feed`` -> ``frame_lines`` -> ``encode`` of ``Framed`` rows.
"""

from __future__ import annotations

import codecs
import random
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.scheduler import ReadScheduler
from streams.errors import WireFormatError
from streams.formats import LineDecoder, StreamParser, make_parser
from streams.formats.record import Block, Framed, expand
from streams.formats.sms import _records_only
from streams.wire import (
    CONTEXT_FORMATS,
    ContextTracker,
    FileHeader,
    ShippedBatch,
    decode,
    encode,
    encode_items,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "real"
TRAILER = "  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 23:35:41.{ms:03d}+480><thread=1234 (0x4D2)>"


def sms_lines(rng: random.Random, count: int) -> list[str]:
    """SMS lines of every kind the framer meets: single-line records (most), continuation lines, blank
    lines, grid-copied rows, trailers with trailing spaces, messages with $, <, >, NUL, tabs, ~, and
    trailers the per-line rule refuses."""
    out: list[str] = []
    for i in range(count):
        kind = rng.random()
        message = f"message {i} " + "x" * rng.randrange(0, 120)
        if kind < 0.80:
            out.append(message + TRAILER.format(ms=i % 1000))
        elif kind < 0.85:
            out.append(f"continuation {i} of a multi-line record")
        elif kind < 0.87:
            out.append(rng.choice(["", "   ", "\t"]))
        elif kind < 0.89:
            out.append(f"grid row {i}\tSMS_MP_CONTROL_MANAGER\t12/6/2004 1:21:35 PM\t1700 (0x06A4)")
        elif kind < 0.91:
            out.append(message + TRAILER.format(ms=1) + rng.choice([" ", "\t", "  "]))
        elif kind < 0.95:
            odd = rng.choice(["\\\\SRV\\C$\\x", "a <b> c", "$$<x>", "nul\x00byte", "tilde~line", "$ $<"])
            out.append(message + odd + TRAILER.format(ms=2))
        else:
            out.append(
                message
                + rng.choice(
                    [
                        "  $$<C><thread=1><T>",  # thread= in the wrong place
                        "  $$<C><T><thread=1>junk",  # text after the trailer
                        "  $$<C><T><thread=1>$$<>",  # a later $$< that fails
                        "  $$<C> <T><thread=1>",  # pairs not adjacent
                        "  $ $<C><T><thread=1>",  # not $$<
                        "  $$<C><T><thread=1 (0x1)><",
                    ]
                )
            )
    return out


def generated() -> list[tuple[str, bytes]]:
    rng = random.Random(9)
    out = []
    for eol in ("\r\n", "\n", "\r"):
        lines = sms_lines(rng, 3000)
        out.append(
            (f"gen-sms-{len(eol)}{eol == chr(13)}.log", "".join(line + eol for line in lines).encode())
        )
    plain = "".join(f"record {i}" + TRAILER.format(ms=i % 1000) + "\r\n" for i in range(2000))
    out.append(("gen-plain.log", plain.encode()))
    out.append(("gen-bom.log", codecs.BOM_UTF8 + plain.encode()))
    out.append(("gen-trailing-space.log", plain.replace(")>\r\n", ")> \r\n").encode()))  # per line
    continued = "".join(
        f"part one {i}\r\n" + f"part two {i}" + TRAILER.format(ms=i % 1000) + "\r\n" for i in range(900)
    )
    out.append(("gen-multiline.log", continued.encode()))
    out.append(("gen-utf16.log", codecs.BOM_UTF16_LE + plain.encode("utf-16-le")))
    out.append(("gen-cp1252.log", ("Café" + plain).encode("cp1252")))
    out.append(
        ("gen-mixed-eol.log", (plain[:5000] + plain[5000:9000].replace("\r\n", "\n") + plain[9000:]).encode())
    )
    out.append(
        ("gen-switch.log", plain[:7000].encode() + codecs.BOM_UTF16_LE + plain[:7000].encode("utf-16-le"))
    )
    return out


def samples() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.log"))] + generated()


def detect(name: str, data: bytes) -> str:
    sniff = StreamParser(name)
    sniff.feed(data)
    sniff.flush()
    return sniff.format or "raw"


def cuts(data: bytes, rng: random.Random, mode: str) -> list[bytes]:
    if mode == "one":
        return [data]
    if mode == "tiny":
        sizes = [rng.randrange(1, 9) for _ in range(len(data))]
    else:
        sizes = [rng.randrange(1, 70_000) for _ in range(len(data) // 1000 + 2)]
    out, at = [], 0
    for size in sizes:
        if at >= len(data):
            break
        out.append(data[at : at + size])
        at += size
    if at < len(data):
        out.append(data[at:])
    return out


def frame_both(name: str, data: bytes, chunks: list[bytes], max_line: int = 1 << 20):
    """(per-line records, block-path items, per-line resume offsets, block-path resume offsets)."""
    fmt = detect(name, data)
    results = []
    for blocks in (False, True):
        decoder = LineDecoder(max_line_bytes=max_line)
        parser = make_parser(fmt, name)
        tracker = ContextTracker(parser, 0) if fmt in CONTEXT_FORMATS else None
        framer = tracker if tracker is not None else parser
        items: list = []
        resumes: list = []
        for chunk in chunks:
            if blocks:
                items.extend(framer.frame_items(decoder.feed_blocks(chunk)))
            else:
                items.extend(framer.frame_lines(decoder.feed(chunk)))
            resumes.append((parser.pending_offset(), decoder.offset, decoder.line_number))
        items.extend(framer.frame_lines(decoder.flush()))
        items.extend(parser.flush_framed())
        results.append((items, resumes, parser.raw_lines, parser.blank_lines))
    (lines, line_resumes, raw1, blank1), (items, item_resumes, raw2, blank2) = results
    assert (raw1, blank1) == (raw2, blank2)  # malformed and blank lines counted the same
    return fmt, lines, items, line_resumes, item_resumes


@pytest.mark.parametrize("mode", ["one", "chunks", "tiny"])
@pytest.mark.parametrize(("name", "data"), samples(), ids=lambda v: v if isinstance(v, str) else "")
def test_block_path_frames_exactly_what_the_per_line_path_frames(name: str, data: bytes, mode: str) -> None:
    rng = random.Random(name + mode)
    if mode == "tiny" and len(data) > 60_000:
        data = data[:60_000]
    fmt, lines, items, line_resumes, item_resumes = frame_both(name, data, cuts(data, rng, mode))
    assert expand(items) == lines
    assert item_resumes == line_resumes
    if name.startswith("gen-plain") and mode == "one":
        assert all(isinstance(item, Block) for item in items)  # the fast path was taken
    # the wire: the same records, byte for byte, whichever way they were framed
    header = FileHeader("MP01", "other", "C:\\Logs\\" + name, name, "7-1", fmt, "utf-8")
    messages = encode_items(header, items, limit=64 << 10)
    assert all(len(m) <= 64 << 10 for m in messages)
    assert [r for m in messages for r in decode(m).records] == lines
    legacy = encode_items(header, items, limit=64 << 10, version="1.0")
    assert legacy == encode(ShippedBatch(header, lines), limit=64 << 10, version="1.0")


def test_long_lines_and_a_small_line_limit_keep_the_per_line_results() -> None:
    rng = random.Random(3)
    lines = [f"m {i} " + "y" * rng.choice([10, 200, 5000]) + TRAILER.format(ms=i % 1000) for i in range(400)]
    data = "".join(line + "\r\n" for line in lines).encode()
    for mode in ("one", "chunks", "tiny"):
        _fmt, per_line, items, r1, r2 = frame_both("long.log", data, cuts(data, rng, mode), max_line=1024)
        assert expand(items) == per_line and r1 == r2
        assert any(r.truncated for r in per_line)


_TOKENS = [
    "$$<", "<", ">", "><", "<thread=", "thread=", "$", " ", "  ", "x", "C", "\x00", ")", "(", "=", "\t",
    "  $$<C><T><thread=1 (0x1)>", ")>", "$$", "~",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join), min_size=1, max_size=30))
def test_the_whole_block_test_never_accepts_a_line_the_per_line_rule_refuses(lines: list[str]) -> None:
    for eol in ("\r\n", "\n"):
        text = "".join(line + eol for line in lines)
        block = Block(text, 0, 1, len(lines), eol)
        if _records_only(block):
            parser = make_parser("sms", "x.log")
            framed = parser.frame_lines(block.lines())
            assert framed == block.framed() and parser.pending_offset() is None
        parser = make_parser("sms", "x.log")
        reference = make_parser("sms", "x.log")
        assert expand(parser.frame_items([block])) == reference.frame_lines(block.lines())


def test_the_whole_block_test_accepts_plain_records() -> None:
    text = "".join(f"message {i}" + TRAILER.format(ms=i) + "\r\n" for i in range(50))
    assert _records_only(Block(text, 0, 1, 50, "\r\n"))
    assert not _records_only(Block(text.replace(")>\r\n", ")> \r\n", 1), 0, 1, 50, "\r\n"))


def test_take_cuts_blocks_at_line_boundaries_within_the_room() -> None:
    text = "".join(f"r{i:03d}\n" for i in range(100))  # 5 characters per line
    block = Block(text, 1000, 10, 100, "\n")
    outbox: deque = deque([Framed(990, 10, 9, "before"), block, Framed(1500, 3, 110, "after")])
    everything = expand(list(outbox))
    taken: list = []
    while outbox:
        piece, records, _texts, _spans = ReadScheduler._take(outbox, 7, 10_000, None)
        assert 1 <= records <= 7 and records == len(expand(piece))
        taken.extend(piece)
    assert expand(taken) == everything
    outbox = deque([block])
    piece, records, texts, _ = ReadScheduler._take(outbox, 10_000, 300, None)
    assert texts + 24 * records <= 300 + 29 and expand(piece + list(outbox)) == block.framed()
    outbox = deque([block])
    piece, records, _, _ = ReadScheduler._take(outbox, 10_000, 1 << 20, 1000 + 5 * 42)  # an IIS cut
    assert records == 42 and outbox[0].offset == 1210 and outbox[0].line == 52


def test_blocks_too_big_for_a_message_are_split_and_a_huge_line_cut() -> None:
    header = FileHeader("H", "other", "p", "p", "1", "sms")
    text = "".join(f"line {i} " + "z" * 300 + "\r\n" for i in range(500)) + "h" * 20_000 + "\r\n"
    block = Block(text, 0, 1, 501, "\r\n")
    messages = encode_items(header, [block], limit=8192)
    assert all(len(m) <= 8192 for m in messages)
    back = [r for m in messages for r in decode(m).records]
    assert [(r.offset, r.size, r.line) for r in back] == [(r.offset, r.size, r.line) for r in block.framed()]
    assert [r.text for r in back[:-1]] == [r.text for r in block.framed()[:-1]]
    assert back[-1].truncated and back[-1].size == 20_002


@pytest.mark.parametrize(
    "block",
    [
        {"o": 0, "l": 1, "n": 2, "u": 1, "e": "\n", "t": "a\nb"},  # no final terminator
        {"o": 0, "l": 1, "n": 3, "u": 1, "e": "\n", "t": "a\nb\n"},  # wrong count
        {"o": 0, "l": 1, "n": 2, "u": 1, "e": "\n", "t": "a\r\nb\n"},  # another terminator inside
        {"o": 0, "l": 1, "n": 1, "u": 1, "e": "\r\n", "t": "a\rb\r\n"},
        {"o": 0, "l": 1, "n": 1, "u": 3, "e": "\n", "t": "a\n"},
        {"o": 0, "l": 1, "n": 1, "u": 1, "e": "x", "t": "ax"},
        {"o": 0, "l": 1, "u": 1, "e": "\n", "t": "a\n"},
    ],
)
def test_malformed_record_blocks_are_refused(block: dict) -> None:
    import orjson

    message = orjson.dumps({"v": "2.0", "h": {"host": "H", "kind": "k", "path": "p", "name": "p",
                                              "file_id": "1", "format": "sms"}, "r": [block]})  # fmt: skip
    with pytest.raises(WireFormatError):
        decode(message)


def test_a_block_decodes_to_its_records() -> None:
    header = FileHeader("H", "other", "p", "p", "1", "sms", "utf-16-le")
    block = Block("ab\r\n\r\ncde\r\n", 2, 1, 3, "\r\n", 2)
    (message,) = encode_items(header, [Framed(0, 2, 0, "x"), block])
    assert decode(message).records == [
        Framed(0, 2, 0, "x"), Framed(2, 8, 1, "ab"), Framed(10, 4, 2, ""), Framed(14, 10, 3, "cde"),
    ]  # fmt: skip
