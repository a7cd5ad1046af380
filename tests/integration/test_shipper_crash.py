"""``kill -9`` of ``mpwatch ship`` at random moments while SMS-like logs are written and rolled over.

A ``log_writer`` process appends records with unique sequence numbers to four logs and rolls them over
(``x.log -> x.lo_``, replacing the previous ``x.lo_``) every 50 KB. The shipper is killed with SIGKILL
at seeded random moments and restarted from the same state folder each time; at the end the writer stops,
the shipper drains and is stopped with SIGTERM. Then the topic must hold every record written (compared
by content: the sequence number in the text), each record under one stable id, and no more duplicates
than one unconfirmed batch per kill.

The writer replaces a ``.lo_`` only once the shipper's checkpoint shows it delivered (see
``log_writer``): replacing an unread generation while the shipper is dead is data loss SMS itself causes,
which no shipper can undo. Everything else (renames, new files, inode reuse, kills mid-batch, mid-rotation,
mid-checkpoint) happens as it comes. MPWATCH_CRASH_SEED picks another sequence of kill moments.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.kafka_helpers import create_topic
from tests.integration.log_writer import read_manifest
from tests.integration.shipper_proc import (
    TopicFollower,
    check_delivery,
    log_tail,
    reap,
    ship_command,
    spawn,
    stop_process,
    toml_config,
    writer_command,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SEED = int(os.environ.get("MPWATCH_CRASH_SEED", "20041206"))
KILLS = 9
BATCH_RECORDS = 500  # batch.max_records: the most one crash may repeat
RATE = 2000  # records per second over all four logs: a 50 KB rollover every ~0.6 s per log
BURST = 15_000  # extra records on SIGUSR1, so some kills land while the shipper is busy
ROTATE_BYTES = 50_000
DRAIN_TIMEOUT_S = 60


async def _sleep_polling(follower: TopicFollower, seconds: float) -> None:
    """Sleep while consuming what arrives, so the end does not have to read everything at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await follower.poll(min(0.5, left))


async def test_kill_9_at_random_moments_loses_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    topic = f"shipper-crash-{uuid.uuid4().hex[:8]}"
    await create_topic(kafka_bootstrap, topic, 1)
    logs, state = tmp_path / "logs", tmp_path / "state"
    state.mkdir()
    manifest, summary = tmp_path / "manifest.txt", tmp_path / "writer.json"
    config = toml_config(
        tmp_path / "ship.toml",
        {
            "batch": {"max_records": BATCH_RECORDS},
            "tail": {"rotate_wait_s": 1.0, "rescan_interval_s": 1.0},
            "retry": {"initial_s": 0.2, "max_s": 2.0},
        },
    )
    cmd = ship_command(
        paths=[logs],
        output=f"kafka://{kafka_bootstrap}/{topic}",
        state_dir=state,
        host="CRASHTEST",
        config=config,
    )
    shipper_log = tmp_path / "shipper.log"
    writer = spawn(
        writer_command(
            logs,
            manifest,
            RATE,
            rotate_bytes=ROTATE_BYTES,
            summary=summary,
            burst=BURST,
            gate_state_dir=state,
        ),
        tmp_path / "writer.log",
    )
    follower = TopicFollower(kafka_bootstrap, topic)
    await follower.start()
    shipper: subprocess.Popen[bytes] | None = None
    kills = 0
    try:
        for _ in range(KILLS):
            shipper = spawn(cmd, shipper_log)
            await _sleep_polling(follower, rng.uniform(0.5, 4.0))
            if rng.random() < 0.6:  # a burst, and the kill somewhere inside its shipping
                writer.send_signal(signal.SIGUSR1)
                await _sleep_polling(follower, rng.uniform(0.0, 0.8))
            else:
                await _sleep_polling(follower, rng.uniform(0.0, 1.5))
            assert shipper.poll() is None, f"the shipper exited by itself:\n{log_tail(shipper_log)}"
            shipper.kill()
            shipper.wait()
            kills += 1
            await _sleep_polling(follower, rng.uniform(0.0, 0.5))
        shipper = spawn(cmd, shipper_log)
        await _sleep_polling(follower, 3.0)
        assert stop_process(writer) == 0, log_tail(tmp_path / "writer.log")
        written = read_manifest(manifest)
        assert written, "the writer wrote nothing"
        drained = await follower.poll_until(lambda: follower.holds_all(written), DRAIN_TIMEOUT_S)
        assert shipper.poll() is None, f"the shipper exited by itself:\n{log_tail(shipper_log)}"
        assert stop_process(shipper) == 0, (
            f"SIGTERM did not stop the shipper cleanly:\n{log_tail(shipper_log)}"
        )
        await follower.catch_up()
    finally:
        await follower.stop()
        reap(writer, shipper)

    stats = json.loads(summary.read_text())
    report = check_delivery(written, follower.values)
    context = f"{report.summary()}; writer {stats}; kills {kills}; shipper log tail:\n{log_tail(shipper_log)}"
    print(f"crash run (seed {SEED}): {kills} kills; {report.summary()}; writer {stats}")

    assert stats["rotations"] >= 4 * KILLS, f"too few rollovers to mean anything: {stats}"
    assert drained, f"not every written record arrived within {DRAIN_TIMEOUT_S} s: {context}"
    assert report.missing == [], f"records lost: {context}"
    assert report.unexpected == [], f"records delivered that were never written: {context}"
    assert report.unparsed == 0, f"records without a sequence number (cut or mangled): {context}"
    assert report.wrong_log == [], f"records attributed to another log's file: {context}"
    assert report.ids_per_seq_conflicts == {}, f"one record delivered under several ids: {context}"
    assert report.seqs_per_id_conflicts == {}, f"one id shared by several records: {context}"
    assert report.duplicates <= kills * BATCH_RECORDS, f"more duplicates than one batch per kill: {context}"
