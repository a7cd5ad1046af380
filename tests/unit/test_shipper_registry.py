"""FileRegistry driven step by step on real files (no event loop, no output): identity edge cases."""

from __future__ import annotations

import os

import pytest

from shipper.batch import Batch
from shipper.registry import FileRegistry
from tests.shipper_harness import make_config, new_metrics, records_of, sms_line


def ship(registry: FileRegistry) -> list[str]:
    """One pipeline round without an output: read, 'deliver', confirm, apply timers."""
    batch = Batch(10_000, 1 << 24)
    registry.fill(batch)
    registry.commit(batch)
    registry.settle()
    registry.housekeeping()
    return [r["record"]["message"] for r in records_of(batch.values)]


def write(path, prefix: str, start: int, count: int) -> None:
    with open(path, "a", newline="") as handle:
        handle.write("".join(sms_line(f"{prefix}{i:04d}") for i in range(start, start + count)))


def test_a_reused_inode_under_another_name_is_a_new_file_not_a_rename(tmp_path):
    config = make_config(tmp_path, rotate_wait_s=0.0)
    logs = tmp_path / "logs"
    write(logs / "x.lo_", "old", 0, 10)
    metrics = new_metrics()
    registry = FileRegistry(config, {}, metrics)
    registry.scan()
    assert ship(registry) == [f"old{i:04d}" for i in range(10)]
    ship(registry)  # the rotated file is finished and closed
    spare = tmp_path / "spare"  # created first: a new folder would take the freed inode itself
    spare.mkdir()
    old = os.stat(logs / "x.lo_").st_ino
    os.unlink(logs / "x.lo_")
    for attempt in range(2000):  # ask the file system for the freed inode number again
        write(logs / "x.log", "new", 0, 10)  # same size as the old file
        if os.stat(logs / "x.log").st_ino == old:
            break
        os.rename(logs / "x.log", spare / f"{attempt}")
    else:
        pytest.skip("this file system did not hand out the freed inode again")
    registry.scan()
    assert ship(registry) == [f"new{i:04d}" for i in range(10)]
    os.rename(logs / "x.log", logs / "x.lo_")  # and it rolls over normally afterwards
    write(logs / "x.log", "next", 0, 5)
    registry.scan()
    assert ship(registry) == [f"next{i:04d}" for i in range(5)]
    assert metrics.registry.get_sample_value("mpwatch_shipper_truncations_total") == 0
    registry.close()


def test_identity_survives_rename_and_growth_while_closed(tmp_path):
    config = make_config(tmp_path, rotate_wait_s=0.0, close_inactive_s=0.0)
    logs = tmp_path / "logs"
    write(logs / "SiteComp.log", "a", 0, 5)
    registry = FileRegistry(config, {}, new_metrics())
    registry.scan()
    assert len(ship(registry)) == 5
    ship(registry)  # idle: the handle is closed (close_inactive_s = 0)
    assert registry.metrics.registry.get_sample_value("mpwatch_shipper_files_open") == 0
    write(logs / "SiteComp.log", "a", 5, 5)
    registry.scan()
    assert ship(registry) == [f"a{i:04d}" for i in range(5, 10)]
    registry.close()


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_batches_are_written_in_the_configured_wire_version_with_the_same_records(tmp_path, version):
    import orjson

    config = make_config(tmp_path)
    config.wire_version = version
    write(tmp_path / "logs" / "x.log", "rec", 0, 300)
    registry = FileRegistry(config, {}, new_metrics())
    registry.scan()
    batch = Batch(100, 1 << 24)  # room for part of the file: a block is cut at the room's end
    registry.fill(batch)
    assert {orjson.loads(m)["v"] for m in batch.values} == {version}
    rows = [r for m in batch.values for r in orjson.loads(m)["r"]]
    assert all(isinstance(r, list) for r in rows) == (version == "1.0")
    assert len(batch) == 100 and [r["record"]["message"] for r in records_of(batch.values)] == [
        f"rec{i:04d}" for i in range(100)
    ]
    registry.commit(batch)
    assert ship(registry) == [f"rec{i:04d}" for i in range(100, 300)]
    registry.close()
