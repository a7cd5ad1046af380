"""The shipper against the real Kafka broker (session fixture from conftest.py): ids, keys, order, TLS."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import pytest

from tests.integration.kafka_helpers import KafkaTls, consume_all, create_topic
from tests.shipper_harness import (
    LiveShipper,
    make_config,
    read_output,
    read_records,
    records_of,
    run_ship,
    ship_command,
    sms_line,
)

pytestmark = pytest.mark.kafka


def unique(prefix: str) -> str:
    return f"mpwatch-ship-{prefix}-{uuid.uuid4().hex[:8]}"


def write_tree(root, lines: int = 400) -> set[str]:
    logs = root / "logs"
    (logs / "W3SVC1").mkdir(parents=True, exist_ok=True)
    (logs / "SiteComp.log").write_text("".join(sms_line(f"sc-{i}") for i in range(lines)), newline="")
    (logs / "MPControl.lo_").write_text("".join(sms_line(f"mc-{i}") for i in range(lines // 2)), newline="")
    (logs / "W3SVC1" / "u_ex041206.log").write_text(
        "#Software: Microsoft Internet Information Services 6.0\r\n#Version: 1.0\r\n"
        "#Date: 2004-12-06 00:00:00\r\n#Fields: date time cs-method cs-uri-stem sc-status\r\n"
        + "".join(f"2004-12-06 00:00:{i % 60:02d} GET /iis-{i} 200\r\n" for i in range(lines // 4)),
        newline="",
    )
    return {f"sc-{i}" for i in range(lines)} | {f"mc-{i}" for i in range(lines // 2)}


def envelopes_of(records) -> list[dict]:
    """The records inside the consumed wire messages."""
    return records_of([r.value for r in records])


async def test_a_tree_shipped_to_kafka_arrives_complete_keyed_and_in_order(tmp_path, kafka_bootstrap):
    topic = unique("tree")
    await create_topic(kafka_bootstrap, topic, partitions=3)
    expected = write_tree(tmp_path)
    args = ("--path", str(tmp_path / "logs"), "--host", "MP01", "--once")
    result = await asyncio.to_thread(
        run_ship, *args, "--output", f"kafka://{kafka_bootstrap}/{topic}", "--state-dir", str(tmp_path / "s1")
    )
    assert result.returncode == 0, result.stderr
    records = await consume_all(kafka_bootstrap, topic)
    envelopes = envelopes_of(records)
    # the same files shipped to a JSON-lines file give exactly the same record ids
    reference = await asyncio.to_thread(
        run_ship, *args, "--output", f"file://{tmp_path / 'ref.jsonl'}", "--state-dir", str(tmp_path / "s2")
    )
    assert reference.returncode == 0, reference.stderr
    written = read_records(tmp_path / "ref.jsonl")
    assert Counter(e["id"] for e in envelopes) == Counter(e["id"] for e in written)
    assert expected <= {e["record"]["message"] for e in envelopes}
    assert {r.key for r in records} == {b"MP01"}
    assert len({r.partition for r in records}) == 1  # one host, one partition: file order is kept
    for file_id in {e["file_id"] for e in envelopes}:
        offsets = [e["offset"] for e in envelopes if e["file_id"] == file_id]
        assert offsets == sorted(offsets)


async def test_live_shipper_restarts_without_duplicates_in_the_topic(tmp_path, kafka_bootstrap):
    topic = unique("live")
    await create_topic(kafka_bootstrap, topic, partitions=1)
    expected = write_tree(tmp_path, lines=200)
    config = make_config(tmp_path)
    config.output = f"kafka://{kafka_bootstrap}/{topic}"
    async with LiveShipper(config) as live:
        await live.wait_until(lambda: live.metrics.registry.get_sample_value(
            "mpwatch_shipper_records_shipped_total", {"kind": "sitecomp"}) == 200, "first pass shipped",
            timeout=60)  # fmt: skip
    with open(tmp_path / "logs" / "SiteComp.log", "a", newline="") as handle:
        handle.write("".join(sms_line(f"sc-{i}") for i in range(200, 260)))
    async with LiveShipper(config) as live:
        await live.wait_until(lambda: live.metrics.registry.get_sample_value(
            "mpwatch_shipper_records_shipped_total", {"kind": "sitecomp"}) == 60, "the appended lines",
            timeout=60)  # fmt: skip
    envelopes = envelopes_of(await consume_all(kafka_bootstrap, topic))
    ids = Counter(e["id"] for e in envelopes)
    assert max(ids.values()) == 1
    messages = {e["record"]["message"] for e in envelopes}
    assert expected | {f"sc-{i}" for i in range(200, 260)} <= messages
    assert read_output(config) == []  # nothing went to a file


async def test_tls_and_scram_output(tmp_path, kafka_tls: KafkaTls):
    topic = unique("tls")
    await create_topic(kafka_tls.bootstrap, topic, partitions=1, **kafka_tls.client_kwargs())
    expected = write_tree(tmp_path, lines=100)
    secret = tmp_path / "kafka.password"
    secret.write_text(kafka_tls.password + "\n")
    config = tmp_path / "ship.toml"
    config.write_text(
        f"""
host = "MP02"
output = "kafka://{kafka_tls.bootstrap}/{topic}"
state_dir = "{tmp_path / "state"}"
paths = ["{tmp_path / "logs"}"]

[kafka]
security_protocol = "SASL_SSL"
sasl_mechanism = "{kafka_tls.mechanism}"
username = "{kafka_tls.username}"
password_file = "{secret}"
ssl_cafile = "{kafka_tls.ca_file}"
compression = "zstd"
"""
    )
    result = await asyncio.to_thread(run_ship, "--config", str(config), "--once")
    assert result.returncode == 0, result.stderr
    envelopes = envelopes_of(await consume_all(kafka_tls.bootstrap, topic, **kafka_tls.client_kwargs()))
    assert expected <= {e["record"]["message"] for e in envelopes}
    assert {e["host"] for e in envelopes} == {"MP02"}
    assert len({e["id"] for e in envelopes}) == len(envelopes)


async def test_wrong_scram_password_is_reported_and_nothing_is_checkpointed(tmp_path, kafka_tls: KafkaTls):
    write_tree(tmp_path, lines=10)
    config = tmp_path / "ship.toml"
    config.write_text(
        f"""
[kafka]
security_protocol = "SASL_SSL"
username = "{kafka_tls.username}"
password = "not-the-password"
ssl_cafile = "{kafka_tls.ca_file}"
"""
    )
    proc = await asyncio.create_subprocess_exec(
        *ship_command(
            "--config", str(config), "--path", str(tmp_path / "logs"), "--state-dir", str(tmp_path / "state"),
            "--output", f"kafka://{kafka_tls.bootstrap}/{unique('denied')}", "--log-level", "warning",
        ),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    first = await asyncio.wait_for(proc.stderr.readline(), 60)
    proc.terminate()
    await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert b"cannot connect" in first and b"retrying" in first
    state = tmp_path / "state" / "checkpoint.json"
    assert not state.exists() or all(
        f["offset"] == 0 for f in json.loads(state.read_text())["files"].values()
    )
