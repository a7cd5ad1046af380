"""Bytes on the wire per record: the old per-record envelope (parsed record in JSON, one Kafka message
per record) against the wire format (one message per batch of raw records from one file).

Prints `name: value unit` lines for N synthetic SMS lines (default 1,000,000):

  envelope_bytes_per_record / wire_bytes_per_record            uncompressed message values
  envelope_lz4_bytes_per_record / wire_lz4_bytes_per_record    lz4 (cramjam) over producer batches of
                                                               up to kafka.max_batch_size (1 MB) of values
  wire_encode_records_per_cpu_s / envelope_encode_records_per_cpu_s   encoding cost alone
  wire2_bytes_per_record / wire2_lz4_bytes_per_record / wire2_encode_records_per_cpu_s
                                                               the same for wire 2.0 as the shipper sends
                                                               it: record blocks from the block framer
                                                               (decode + frame + encode, 64 KiB reads)

The old envelope is reproduced from its last version (shipper/envelope.py before the wire format).
Batches of the wire format: 2000 records (the shipper's batch.max_records default). Options: --records N.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cramjam
import orjson

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from gen_logs import generate  # noqa: E402

from streams.formats.api import make_parser, parse_path  # noqa: E402
from streams.formats.decode import LineDecoder  # noqa: E402
from streams.formats.record import Record  # noqa: E402
from streams.wire import FileHeader, Framed, ShippedBatch, encode, encode_items  # noqa: E402

PRODUCER_BATCH = 1_000_000
SHIP_BATCH = 2000
HOST, KIND, PATH, FILE_ID = "MP01", "sitecomp", "C:\\SMS\\Logs\\SiteComp.log", "803-1a2b-9f86d081884c7d65"


def envelope(record: Record) -> bytes:
    """The per-record envelope the shipper sent before the wire format."""
    body: dict[str, Any] = {
        "time": record.time, "time_is_local": record.time_is_local, "component": record.component,
        "thread": record.thread, "severity": record.severity, "message": record.message,
        "fields": record.fields, "raw": record.raw, "format": record.format, "truncated": record.truncated,
    }  # fmt: skip
    return orjson.dumps(
        {"id": f"{HOST}:{FILE_ID}:{record.offset}", "host": HOST, "kind": KIND, "path": PATH,
         "file_id": FILE_ID, "offset": record.offset, "size": record.size, "line": record.line,
         "record": body},
        option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS, default=str,
    )  # fmt: skip


def lz4_size(values: list[bytes]) -> int:
    """Compressed bytes when values are grouped into producer batches of PRODUCER_BATCH bytes."""
    total, group, used = 0, [], 0
    for value in values:
        if group and used + len(value) > PRODUCER_BATCH:
            total += len(bytes(cramjam.lz4.compress_block(b"".join(group))))
            group, used = [], 0
        group.append(value)
        used += len(value)
    if group:
        total += len(bytes(cramjam.lz4.compress_block(b"".join(group))))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "SiteComp.log"
        generate("sms", path, args.records)
        records = list(parse_path(path, "sms"))
        data = path.read_bytes()
    n = len(records)
    start = time.process_time()
    old = [envelope(r) for r in records]
    old_cpu = time.process_time() - start
    header = FileHeader(HOST, KIND, PATH, "SMS/Logs/SiteComp.log", FILE_ID, "sms", "utf-8", {})
    start = time.process_time()
    new: list[bytes] = []
    for i in range(0, n, SHIP_BATCH):
        part = records[i : i + SHIP_BATCH]
        new.extend(encode(ShippedBatch(header, [Framed(r.offset, r.size, r.line, r.raw) for r in part])))
    new_cpu = time.process_time() - start
    header_v1 = FileHeader(HOST, KIND, PATH, "SMS/Logs/SiteComp.log", FILE_ID, "sms", "utf-8", {})
    for i in range(0, n, SHIP_BATCH):  # version 1.0 rows, for the size comparison
        part = records[i : i + SHIP_BATCH]
        rows = [Framed(r.offset, r.size, r.line, r.raw) for r in part]
        encode(ShippedBatch(header_v1, rows), version="1.0")
    start = time.process_time()
    decoder, framer = LineDecoder(), make_parser("sms", str(path))
    v2: list[bytes] = []
    shipped = 0
    for at in range(0, len(data), 64 << 10):
        items = framer.frame_items(decoder.feed_blocks(data[at : at + (64 << 10)]))
        shipped += sum(getattr(item, "count", 1) for item in items)
        v2.extend(encode_items(header, items))
    v2_cpu = time.process_time() - start
    print(f"records: {n} records")
    print(f"envelope_bytes_per_record: {sum(map(len, old)) / n:.1f} bytes")
    print(f"wire_bytes_per_record: {sum(map(len, new)) / n:.1f} bytes")
    print(f"envelope_lz4_bytes_per_record: {lz4_size(old) / n:.1f} bytes")
    print(f"wire_lz4_bytes_per_record: {lz4_size(new) / n:.1f} bytes")
    print(f"envelope_messages: {len(old)} messages")
    print(f"wire_messages: {len(new)} messages")
    print(f"envelope_encode_records_per_cpu_s: {n / old_cpu:.0f} records/cpu-s")
    print(f"wire_encode_records_per_cpu_s: {n / new_cpu:.0f} records/cpu-s")
    print(f"wire2_records: {shipped} records")
    print(f"wire2_bytes_per_record: {sum(map(len, v2)) / n:.1f} bytes")
    print(f"wire2_lz4_bytes_per_record: {lz4_size(v2) / n:.1f} bytes")
    print(f"wire2_messages: {len(v2)} messages")
    print(f"wire2_encode_records_per_cpu_s: {n / v2_cpu:.0f} records/cpu-s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
