"""``kafka.lz4_level``: aiokafka's record builders compress LZ4 at the configured level, readable back."""

from __future__ import annotations

import pytest

from shipper.config import load_config
from shipper.errors import ConfigError
from shipper.outputs import kafka as kafka_output


def _build_batch() -> bytes:
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=3, is_transactional=False, producer_id=-1, producer_epoch=-1,
        base_sequence=-1, batch_size=1 << 20,
    )  # fmt: skip
    for i in range(200):
        builder.append(i, timestamp=None, key=b"MP01", value=b"record %d " % i * 20, headers=[])
    return bytes(builder.build())


@pytest.mark.parametrize("level", [0, 9])
def test_the_record_builder_compresses_at_the_configured_level(level: int, monkeypatch) -> None:
    from aiokafka.record import _crecords, default_records
    from aiokafka.record.default_records import DefaultRecordBatch

    for module in (default_records, _crecords.default_records):
        monkeypatch.setattr(module, "lz4_encode", module.lz4_encode)  # restored after the test
    kafka_output.use_lz4_level(level)
    encoder = _crecords.default_records.lz4_encode
    assert encoder.lz4_level == level and default_records.lz4_encode is encoder
    calls: list[int] = []

    def spy(payload: bytes) -> bytes:
        calls.append(len(payload))
        return encoder(payload)

    monkeypatch.setattr(_crecords.default_records, "lz4_encode", spy)
    batch = DefaultRecordBatch(_build_batch())
    assert calls, "the Cython builder did not call the replaced encoder"
    assert batch.compression_type == 3
    assert [r.value for r in batch] == [b"record %d " % i * 20 for i in range(200)]


def test_lz4_level_is_validated() -> None:
    assert load_config(None, {"output": "file:///tmp/x.jsonl", "paths": ["/tmp"]}).kafka.lz4_level == 0
    with pytest.raises(ConfigError, match=r"kafka\.lz4_level"):
        load_config(None, {"output": "file:///tmp/x.jsonl", "paths": ["/tmp"], "kafka.lz4_level": 13})


def test_wire_version_is_validated() -> None:
    base = {"output": "file:///tmp/x.jsonl", "paths": ["/tmp"]}
    assert load_config(None, base).wire_version == "2.0"
    assert load_config(None, {**base, "wire_version": "1.0"}).wire_version == "1.0"
    with pytest.raises(ConfigError, match="wire_version"):
        load_config(None, {**base, "wire_version": "3.0"})
