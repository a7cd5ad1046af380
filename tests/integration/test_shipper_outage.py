"""The broker goes away for a while and comes back: nothing is lost, memory stays flat, the backlog drains.

The test runs a broker of its own (deploy/local/kafka via ``LocalBroker``, on free ports in the test's
temporary folder), because it stops and restarts it. A ``log_writer`` keeps appending and rolling logs
over the whole time; ``mpwatch ship`` runs with ``--metrics-port``. While the broker is down the shipper
must stop reading (one bounded batch is its whole read-ahead), so its resident memory must not grow beyond
a generous bound, and /metrics must say so (output down, seconds of backpressure, a growing lag).
After the restart every record written must arrive (compared by content), and the lag must fall to 0.

The writer replaces a ``.lo_`` only once the checkpoint shows it delivered (see ``log_writer``): during
the outage nothing is delivered, so it keeps appending to the current ``.log`` instead of destroying an
unread generation (which SMS would do, and which no shipper could undo).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.kafka_helpers import LocalBroker, create_topic, free_ports
from tests.integration.log_writer import RECORD_BYTES, read_manifest
from tests.integration.shipper_proc import (
    TopicFollower,
    check_delivery,
    log_tail,
    metric_total,
    reap,
    scrape_metrics,
    ship_command,
    spawn,
    status_kb,
    stop_process,
    toml_config,
    writer_command,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_S = 15.0
RATE = 1500  # records per second over four logs
RSS_BOUND_KB = 60 * 1024  # growth over the pre-outage baseline that would mean unbounded buffering
DRAIN_TIMEOUT_S = 90
BATCH_RECORDS = 1000
PREFIX = "mpwatch_shipper_"


async def test_broker_outage_loses_nothing_and_memory_stays_bounded(tmp_path: Path) -> None:
    broker = LocalBroker.on_free_ports(
        tmp_path / "kafka", tls=False, extra_env={"KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m"}
    )
    await asyncio.to_thread(broker.up)
    logs, state = tmp_path / "logs", tmp_path / "state"
    state.mkdir()
    manifest, summary = tmp_path / "manifest.txt", tmp_path / "writer.json"
    shipper_log, writer_log = tmp_path / "shipper.log", tmp_path / "writer.log"
    (metrics_port,) = free_ports(1)
    config = toml_config(
        tmp_path / "ship.toml",
        {
            "batch": {"max_records": BATCH_RECORDS},
            "tail": {"rotate_wait_s": 1.0, "rescan_interval_s": 1.0},
            "retry": {"initial_s": 0.2, "max_s": 2.0},
        },
    )
    writer = shipper = None
    follower: TopicFollower | None = None
    rss: list[tuple[float, int]] = []
    try:
        topic = f"shipper-outage-{uuid.uuid4().hex[:8]}"
        await create_topic(broker.bootstrap, topic, 1)
        writer = spawn(
            writer_command(logs, manifest, RATE, summary=summary, gate_state_dir=state), writer_log
        )
        shipper = spawn(
            ship_command(
                paths=[logs],
                output=f"kafka://{broker.bootstrap}/{topic}",
                state_dir=state,
                host="OUTAGETEST",
                config=config,
                metrics_port=metrics_port,
            ),
            shipper_log,
        )
        first = follower = TopicFollower(broker.bootstrap, topic)
        await first.start()
        assert await first.poll_until(lambda: len(first.values) > 0, 30), log_tail(shipper_log)
        await asyncio.sleep(3)
        baseline = status_kb(shipper.pid)
        await first.stop()

        await asyncio.to_thread(broker.down)
        written_before_outage = len(read_manifest(manifest))
        loop = asyncio.get_running_loop()
        outage_end = loop.time() + OUTAGE_S
        while loop.time() < outage_end:
            assert shipper.poll() is None, f"the shipper exited during the outage:\n{log_tail(shipper_log)}"
            rss.append((time.monotonic(), status_kb(shipper.pid)))
            await asyncio.sleep(0.5)
        during = scrape_metrics(metrics_port)
        written_during_outage = len(read_manifest(manifest)) - written_before_outage

        await asyncio.to_thread(broker.up)
        follower = final = TopicFollower(broker.bootstrap, topic)
        await final.start()
        await asyncio.sleep(5)
        assert stop_process(writer) == 0, log_tail(writer_log)
        written = read_manifest(manifest)
        drained = await final.poll_until(lambda: final.holds_all(written), DRAIN_TIMEOUT_S)
        lag_zero = False
        for _ in range(50):  # the lag gauge follows the checkpoint, refreshed on the next scan
            after = scrape_metrics(metrics_port)
            if metric_total(after, PREFIX + "lag_bytes") == 0:
                lag_zero = True
                break
            await asyncio.sleep(0.2)
        assert shipper.poll() is None, f"the shipper exited by itself:\n{log_tail(shipper_log)}"
        assert stop_process(shipper) == 0, (
            f"SIGTERM did not stop the shipper cleanly:\n{log_tail(shipper_log)}"
        )
        await final.catch_up()
    finally:
        if follower is not None:
            await follower.stop()
        reap(writer, shipper)
        await asyncio.to_thread(broker.down)

    stats = json.loads(summary.read_text())
    report = check_delivery(written, final.values)
    peak = max(kb for _t, kb in rss)
    context = (
        f"{report.summary()}; writer {stats}; RSS baseline {baseline} kB, peak during outage {peak} kB; "
        f"shipper log tail:\n{log_tail(shipper_log)}"
    )
    print(
        f"outage run: {report.summary()}; written during the outage {written_during_outage}; "
        f"RSS baseline {baseline} kB, peak {peak} kB; metrics during outage: errors "
        f"{during[PREFIX + 'output_errors_total']}, "
        f"backpressure {during[PREFIX + 'backpressure_seconds_total']:.1f} s, "
        f"lag {metric_total(during, PREFIX + 'lag_bytes'):.0f} bytes, "
        f"output_up {during[PREFIX + 'output_up']}"
    )

    assert written_during_outage > 0, f"the writer did not write during the outage: {context}"
    assert during[PREFIX + "output_up"] == 0, f"output_up was not 0 during the outage: {during}"
    # Default settings: the client notices a dead broker only after its 30 s request timeout, so a 15 s
    # outage may end before any attempt failed (output_errors_total 0); the shipper must still report it,
    # as an output that is down and seconds of backpressure.
    assert during[PREFIX + "backpressure_seconds_total"] > 0, f"no backpressure counted: {during}"
    # the files grew by megabytes while nothing was delivered: lag_bytes must show it, new files included
    # (half of what was written during the outage is a generous floor: the gauge refreshes every second)
    lag_during = metric_total(during, PREFIX + "lag_bytes")
    floor = written_during_outage * RECORD_BYTES // 2
    assert lag_during >= floor, f"lag_bytes {lag_during:.0f} < {floor} during the outage: {during}"
    assert peak - baseline <= RSS_BOUND_KB, f"memory grew during the outage: {context}"
    assert drained, f"the backlog did not drain within {DRAIN_TIMEOUT_S} s: {context}"
    assert lag_zero, f"lag_bytes did not fall to 0 after the drain: {after}"
    assert after[PREFIX + "output_up"] == 1, f"output_up did not return to 1: {after}"
    assert report.missing == [], f"records lost: {context}"
    assert report.unexpected == [], f"records delivered that were never written: {context}"
    assert report.unparsed == 0, f"records without a sequence number: {context}"
    assert report.ids_per_seq_conflicts == {}, f"one record delivered under several ids: {context}"
    assert report.seqs_per_id_conflicts == {}, f"one id shared by several records: {context}"
    # a send that timed out may still have landed: each failed attempt may repeat at most its batch
    errors = after[PREFIX + "output_errors_total"]
    assert report.duplicates <= errors * BATCH_RECORDS, f"more duplicates than failed batches: {context}"
