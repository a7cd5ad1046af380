"""LineDecoder: terminators, encodings, byte accounting and bounded long lines."""

from __future__ import annotations

import codecs
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.formats.decode import LineDecoder, decode_cp1252
from streams.formats.record import Block, Line


def decode_all(data: bytes, splits: list[int] | None = None, **kwargs: Any) -> tuple[list[Line], str | None]:
    decoder = LineDecoder(**kwargs)
    lines: list[Line] = []
    pos = 0
    for size in splits or []:
        lines += decoder.feed(data[pos : pos + size])
        pos += size
    lines += decoder.feed(data[pos:])
    lines += decoder.flush()
    return lines, decoder.encoding


def assert_tiles(lines: list[Line], data: bytes, start: int = 0) -> None:
    offset = start
    for number, line in enumerate(lines, 1):
        assert line.offset == offset
        assert line.number == number
        offset += line.size
    assert offset == start + len(data)


def test_mixed_terminators_split_where_they_are() -> None:
    data = b"one\r\ntwo\nthree\rfour"
    lines, encoding = decode_all(data)
    assert encoding == "utf-8"
    assert [line.text for line in lines] == ["one", "two", "three", "four"]
    assert [line.size for line in lines] == [5, 4, 6, 4]
    assert_tiles(lines, data)


def test_cr_at_chunk_end_waits_for_a_possible_lf() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"first\r") == []
    lines = decoder.feed(b"\nsecond\n")
    assert [(line.text, line.size) for line in lines] == [("first", 7), ("second", 7)]


def test_lone_cr_at_end_of_input_is_a_terminator() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"last line\r") == []
    [line] = decoder.flush()
    assert (line.text, line.size) == ("last line", 10)


def test_partial_line_is_held_until_flush() -> None:
    decoder = LineDecoder()
    assert [line.text for line in decoder.feed(b"done\npart")] == ["done"]
    assert decoder.pending_bytes == 4
    assert decoder.offset == 5
    [line] = decoder.flush()
    assert (line.text, line.offset, line.size) == ("part", 5, 4)


def test_utf8_bom_is_counted_in_the_first_line() -> None:
    data = codecs.BOM_UTF8 + b"alpha\r\nbeta\r\n"
    lines, encoding = decode_all(data)
    assert encoding == "utf-8"
    assert lines[0].text == "alpha"
    assert (lines[0].offset, lines[0].size) == (0, len(codecs.BOM_UTF8) + 7)
    assert_tiles(lines, data)


def test_utf16_bom_selects_the_byte_order() -> None:
    for codec, name in (("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")):
        bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
        data = bom + "MSI (c) (A0:18): text\r\nnext \u00e9\r\n".encode(codec)
        lines, encoding = decode_all(data, [3, 5, 1])
        assert encoding == name
        assert [line.text for line in lines] == ["MSI (c) (A0:18): text", "next \u00e9"]
        assert_tiles(lines, data)


def test_utf16_without_bom_is_recognised_from_nul_bytes() -> None:
    for codec in ("utf-16-le", "utf-16-be"):
        data = "=== Logging started: 4/25/2015  4:25:27 ===\r\n".encode(codec)
        lines, encoding = decode_all(data)
        assert encoding == codec
        assert lines[0].text.startswith("=== Logging started")


def test_utf16_astral_characters_keep_exact_sizes() -> None:
    text = "a\U0001f600b\r\nz\n"
    data = text.encode("utf-16-le")
    lines, _ = decode_all(data, encoding="utf-16-le")
    assert [line.text for line in lines] == ["a\U0001f600b", "z"]
    assert lines[0].size == len("a\U0001f600b\r\n".encode("utf-16-le"))


def test_invalid_utf8_line_falls_back_to_cp1252_without_losing_bytes() -> None:
    bad = b"caf\xe9 \x80 \x81\x8d\x8f\x90\x9d"
    data = b"good \xc3\xa9\n" + bad + b"\n"
    lines, _ = decode_all(data)
    assert lines[0].text == "good \u00e9"
    assert lines[1].text == decode_cp1252(bad)
    assert lines[1].text.startswith("caf\u00e9 \u20ac ")
    # the five bytes cp1252 leaves undefined still map to distinct code points (reversible)
    assert lines[1].text.encode("latin-1", "ignore").endswith(b"\x81\x8d\x8f\x90\x9d")
    assert_tiles(lines, data)


def test_cp1252_reading_is_reversible_for_every_byte() -> None:
    every = bytes(range(256))
    text = decode_cp1252(every)
    assert len(set(text)) == 256


def test_long_line_is_truncated_but_fully_accounted() -> None:
    data = b"short\n" + b"x" * 1000 + b"\r\nafter\n"
    lines, _ = decode_all(data, [10] * 120, max_line_bytes=64)
    assert [line.truncated for line in lines] == [False, True, False]
    assert lines[1].text == "x" * 64
    assert lines[1].size == 1002
    assert lines[2].text == "after"
    assert_tiles(lines, data)


def test_long_line_tail_is_not_buffered() -> None:
    decoder = LineDecoder(max_line_bytes=64)
    for _ in range(100):
        assert decoder.feed(b"y" * 1000) == []
        assert decoder.pending_bytes <= 64 + 1
    [line] = decoder.feed(b"\n")
    assert line.truncated and line.size == 100_001


def test_resume_from_a_line_offset_reproduces_the_following_lines() -> None:
    data = codecs.BOM_UTF16_LE + "one\r\ntwo\r\nthree\r\n".encode("utf-16-le")
    lines, encoding = decode_all(data)
    second = lines[1]
    resumed, _ = decode_all(
        data[second.offset :], encoding=encoding, start_offset=second.offset, start_line=second.number
    )
    assert [(line.text, line.offset, line.number) for line in resumed] == [
        (line.text, line.offset, line.number) for line in lines[1:]
    ]


def test_bom_only_file_is_still_accounted() -> None:
    lines, _ = decode_all(codecs.BOM_UTF8)
    assert [(line.text, line.size) for line in lines] == [("", 3)]


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=400),
    splits=st.lists(st.integers(min_value=0, max_value=40), max_size=20),
    max_line=st.integers(min_value=4, max_value=64),
    encoding=st.sampled_from([None, "utf-8", "utf-16-le", "utf-16-be", "cp1252"]),
)
def test_arbitrary_bytes_in_arbitrary_chunks_lose_nothing(
    data: bytes, splits: list[int], max_line: int, encoding: str | None
) -> None:
    lines, _ = decode_all(data, splits, encoding=encoding, max_line_bytes=max_line)
    assert sum(line.size for line in lines) == len(data)
    assert_tiles(lines, data)
    for line in lines:
        assert "\n" not in line.text and "\r" not in line.text


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab\u00e9\u20ac\U0001f600\r\n "), max_size=80),
    splits=st.lists(st.integers(min_value=1, max_value=9), max_size=12),
    codec=st.sampled_from(["utf-8", "utf-16-le", "utf-16-be"]),
)
def test_valid_text_round_trips_whatever_the_chunking(text: str, splits: list[int], codec: str) -> None:
    data = text.encode(codec)
    lines, _ = decode_all(data, splits, encoding=codec)
    whole, _ = decode_all(data, encoding=codec)
    assert [(line.text, line.offset, line.size) for line in lines] == [
        (line.text, line.offset, line.size) for line in whole
    ]
    rebuilt = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if rebuilt and rebuilt[-1] == "":
        rebuilt.pop()
    assert [line.text for line in lines] == rebuilt


def test_utf16_cr_followed_by_half_an_lf_waits_for_the_other_half() -> None:
    data = "abc\r\nz\r\n".encode("utf-16-le")
    decoder = LineDecoder(encoding="utf-16-le")
    cut = data.index(b"\n")  # between the two bytes of the LF code unit
    first = decoder.feed(data[: cut + 1])
    assert first == []
    lines = decoder.feed(data[cut + 1 :]) + decoder.flush()
    assert [(line.text, line.size) for line in lines] == [("abc", 10), ("z", 6)]


@pytest.mark.parametrize("data", [b"\ra\n", b"x\ra\n", b"a\rb\nc\r\n", b"a\r\nb\rc\n"])
def test_ascii_with_separate_cr_and_lf_keeps_every_line(data: bytes) -> None:
    """A CR and a later LF are two terminators, not one CR-LF (found by hypothesis in CI: b"\\ra\\n"
    decoded to no line at all when the terminator kinds were told from the terminator bytes alone)."""
    expected = data.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")[:-1]
    for blocks in (False, True):
        decoder = LineDecoder(encoding="utf-8")
        items: list[Line | Block] = [*(decoder.feed_blocks(data) if blocks else decoder.feed(data))]
        items += decoder.flush()
        lines = [line for item in items for line in (item.lines() if isinstance(item, Block) else [item])]
        assert [line.text for line in lines] == expected
        assert sum(line.size for line in lines) == len(data)
