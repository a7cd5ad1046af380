"""The wire codec: round trip for every format (UTF-16 and cp1252 included), version rule, size limits."""

from __future__ import annotations

import codecs
from pathlib import Path

import orjson
import pytest

from streams.errors import WireFormatError, WireVersionError
from streams.formats import LineDecoder, StreamParser, make_parser
from streams.formats.record import Record
from streams.wire import (
    WIRE_VERSION,
    FileHeader,
    Framed,
    ShippedBatch,
    decode,
    encode,
    parse_records,
    parser_context,
    record_id,
    with_last_time,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "real"
MPSETUP = (
    "<12-02-2004 16:06:32>MP Setup Started.... \r\n<12-02-2004 16:06:32>Parameters: \r\n"
    "  wrapped parameter line\r\n<12-02-2004 16:06:33> Installing the MP\r\n"
)


def frame(data: bytes, name: str, chunk: int) -> tuple[list[Record], list[ShippedBatch]]:
    """What the shipper does: frame records with the parser, ship raw text in batches of ``chunk``."""
    sniff = StreamParser(name)
    sniff.feed(data)
    sniff.flush()
    fmt = sniff.format or "raw"
    decoder = LineDecoder()
    lines = decoder.feed(data) + decoder.flush()
    parser = make_parser(fmt, name)
    records: list[Record] = []
    contexts: dict[int, dict[str, object]] = {}
    for line in lines:
        contexts[line.offset] = parser_context(parser)
        records.extend(parser.feed(line))
    records.extend(parser.flush())
    batches = []
    last_time = None
    for start in range(0, len(records), chunk):
        part = records[start : start + chunk]
        context = with_last_time(contexts[part[0].offset], last_time)
        header = FileHeader("MP01", "other", "C:\\Logs\\" + name, name, "7-1", fmt, decoder.encoding, context)
        last_time = next((r.time for r in reversed(part) if r.time is not None), last_time)
        batches.append(
            ShippedBatch(header, [Framed(r.offset, r.size, r.line, r.raw, r.truncated) for r in part])
        )
    return records, batches


def as_compared(record: Record) -> dict[str, object]:
    return {**record.to_dict(), "raw": record.raw}


def samples() -> list[tuple[str, bytes]]:
    out = [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.log"))]
    out.append(("MPSetup.log", MPSETUP.encode()))
    sms = "Café $$<SMS_MP_CONTROL_MANAGER><12-06-2004 23:35:41.123+480><thread=1234 (0x4D2)>\r\n"
    out.append(("cp1252.log", sms.encode("cp1252")))
    msi = next(p for p in sorted(CORPUS.glob("*msi*.log")))
    out.append(
        ("utf16.log", codecs.BOM_UTF16_LE + msi.read_bytes().decode("utf-8", "replace").encode("utf-16-le"))
    )
    return out


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
@pytest.mark.parametrize(("name", "data"), samples(), ids=lambda v: v if isinstance(v, str) else "")
def test_round_trip_gives_the_same_records_as_parsing_the_file(name: str, data: bytes, chunk: int) -> None:
    direct, batches = frame(data, name, chunk)
    assert direct
    shipped: list[Record] = []
    for batch in batches:
        for message in encode(batch):
            shipped.extend(parse_records(decode(message)))
    assert [as_compared(r) for r in shipped] == [as_compared(r) for r in direct]


def test_formats_are_all_covered() -> None:
    formats = {frame(data, name, 10_000)[1][0].header.format for name, data in samples()}
    assert {"sms", "cmtrace", "msi", "mpsetup", "iis"} <= formats


def test_unknown_major_version_is_rejected_and_minor_is_accepted() -> None:
    batch = ShippedBatch(FileHeader("H", "other", "p", "p", "1", "raw"), [Framed(0, 2, 1, "x")])
    obj = orjson.loads(encode(batch)[0])
    assert obj["v"] == WIRE_VERSION
    obj["v"] = "2.7"
    obj["h"]["future_field"] = 1
    assert decode(orjson.dumps(obj)).records[0].text == "x"
    obj["v"] = "1.0"  # the previous major is still read
    assert decode(orjson.dumps(obj)).records[0].text == "x"
    obj["v"] = "3.0"
    with pytest.raises(WireVersionError, match=r"3\.0.*not supported"):
        decode(orjson.dumps(obj))
    with pytest.raises(WireFormatError):
        decode(b"{not json")
    with pytest.raises(WireFormatError):
        decode(b'{"v":"1.0","h":{}}')


def test_a_big_batch_is_split_and_an_oversized_record_truncated_with_a_flag() -> None:
    header = FileHeader("H", "other", "p", "p", "1", "raw")
    records = [Framed(i * 1001, 1001, i + 1, "y" * 1000) for i in range(100)]
    records.append(Framed(100_100, 50_000, 101, "z" * 50_000))
    messages = encode(ShippedBatch(header, records), limit=8192)
    assert all(len(m) <= 8192 for m in messages)
    back = [r for m in messages for r in decode(m).records]
    assert [r.offset for r in back] == [r.offset for r in records]
    assert not any(r.truncated for r in back[:-1])
    assert back[-1].truncated and back[-1].text and back[-1].size == 50_000
    assert all(r.text == "y" * 1000 for r in back[:-1])


def test_record_id_spelling() -> None:
    assert record_id("MP01", "803-1a", 1234) == "MP01:803-1a:1234"
