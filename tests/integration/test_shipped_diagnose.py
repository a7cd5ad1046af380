"""One oracle: ``mpwatch diagnose`` over what the real shipper wrote gives the answer it gives over the
original logs, for every fixture log set in both text styles and for the bundled samples.

Each host folder is shipped by an in-process ``Shipper`` (``--once``, real files, the ``file://``
output: the same wire messages it sends to Kafka), with small batches so files are cut into many
messages and IIS/MSI batches need their parser context. The output is then diagnosed through the CLI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from shipper.config import ShipperConfig, validate
from streams.loader import discover
from streams.offline import run
from tests.fixtures.logsets import SCENARIOS, write_logset
from tests.shipper_harness import REPO, ship_once

STYLES = ("numeric", "text")
CASES = [(name, style) for name in SCENARIOS for style in STYLES]


def ship_folder(folder: Path, out: Path, state: Path, *, max_records: int) -> None:
    """Ship every host folder under ``folder`` to ``out`` (one shipper per host, as on site systems)."""
    for host_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        config = ShipperConfig(
            paths=[str(host_dir / "**" / "*")],
            host=host_dir.name,
            output=f"file://{out}",
            state_dir=str(state / host_dir.name),
        )
        config.once = True
        config.batch.max_records = max_records
        validate(config)
        summary = ship_once(config)
        assert summary.delivered_all


def diagnose_json(*paths: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diagnose", "--json", *paths],
        capture_output=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr.decode()
    return orjson.loads(done.stdout)


@pytest.mark.parametrize(("name", "style"), CASES)
def test_shipped_output_diagnoses_like_the_logs(tmp_path: Path, name: str, style: str) -> None:
    folder = write_logset(name, tmp_path / "logs", style=style)
    out = tmp_path / "out.jsonl"
    ship_folder(folder, out, tmp_path / "state", max_records=7)
    expected = run(discover([str(folder)])).view
    shipped = orjson.loads(orjson.dumps(run([], shipped=_batches(out)).view))
    assert shipped == orjson.loads(orjson.dumps(expected))


def test_samples_through_the_cli(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(REPO / "samples", samples)
    out = tmp_path / "out.jsonl"
    ship_folder(samples, out, tmp_path / "state", max_records=50)
    assert diagnose_json(str(out)) == diagnose_json(str(samples))


def test_malformed_shipped_lines_are_named_counted_and_skipped(tmp_path: Path) -> None:
    folder = write_logset("install_retrying", tmp_path / "logs")
    out = tmp_path / "out.jsonl"
    ship_folder(folder, out, tmp_path / "state", max_records=20)
    lines = out.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"".join([*lines[:1], b'{"v":"9.0","h":{},"r":[]}\n', b"{not json\n", *lines[1:]]))
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diagnose", "--json", str(damaged)],
        capture_output=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0
    errors = done.stderr.decode()
    assert f"{damaged}:2: malformed" in errors and "9.0" in errors
    assert f"{damaged}:3: malformed" in errors and "2 malformed shipped message(s) skipped" in errors
    assert orjson.loads(done.stdout)["servers"] == diagnose_json(str(out))["servers"]


def _batches(out: Path):
    from streams.shipped import collect

    def fail(where: str, exc: Exception) -> None:
        raise AssertionError(f"{where}: {exc}")

    return collect([str(out)], fail)


@pytest.mark.kafka
async def test_a_topic_diagnoses_like_the_logs_and_records_lists_it(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    from tests.integration.kafka_helpers import create_topic

    topic = f"shipped-{tmp_path.name[-12:]}"
    await create_topic(kafka_bootstrap, topic, partitions=3)
    folder = write_logset("concurrent_installs", tmp_path / "logs", style="text")
    url = f"kafka://{kafka_bootstrap}/{topic}"
    from tests.integration.worker_proc import ship

    await ship(folder, url, tmp_path / "state")  # one real shipper per host folder, once
    import asyncio

    assert await asyncio.to_thread(diagnose_json, url) == await asyncio.to_thread(diagnose_json, str(folder))
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "streams.cli", "records", url, "--from-beginning", "--exit"],
        capture_output=True,
        check=False,
        cwd=REPO,
    )
    assert listed.returncode == 0, listed.stderr.decode()
    rows = [orjson.loads(line) for line in listed.stdout.splitlines()]
    expected = sum(len(p.read_bytes().splitlines()) > 0 for p in folder.rglob("*") if p.is_file())
    assert len({r["file_id"] for r in rows}) == expected  # every file arrived
    assert len({r["id"] for r in rows}) == len(rows)  # each record once
    missing = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "streams.cli",
            "records",
            f"kafka://{kafka_bootstrap}/no-such-topic",
            "--exit",
        ],
        capture_output=True,
        check=False,
        cwd=REPO,
    )
    assert missing.returncode == 2
    assert "topic 'no-such-topic' does not exist" in missing.stderr.decode()
