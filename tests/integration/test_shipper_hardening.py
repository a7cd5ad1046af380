"""Bad situations a one-shot or live shipper meets, each ending in a clear line and the right exit status
(issue: hardening): an unusable state folder, an output that can never work, a topic that does not exist,
a checkpoint edited by hand, and a file whose last line ends in a bare CR."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from shipper.checkpoint import Checkpointer
from tests.shipper_harness import (
    REPO,
    make_config,
    metric,
    new_metrics,
    read_records,
    run_ship,
    ship_once_async,
    sms_line,
)


def small_tree(tmp_path: Path, lines: int = 30) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "SiteComp.log").write_text("".join(sms_line(f"sc-{i}") for i in range(lines)), newline="")
    return logs


def quick_retry_config(tmp_path: Path, seconds: float = 2.0) -> Path:
    config = tmp_path / "ship.toml"
    config.write_text(f"[retry]\ninitial_s = 0.1\nmax_s = 0.5\nonce_timeout_s = {seconds}\n")
    return config


def test_a_state_folder_that_cannot_be_created_is_refused_at_start(tmp_path: Path) -> None:
    logs = small_tree(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    done = run_ship("--path", str(logs), "--output", f"file://{tmp_path / 'out.jsonl'}",
                    "--state-dir", str(blocker / "state"), "--once")  # fmt: skip
    assert done.returncode == 2
    assert "not writable" in done.stderr or "cannot use state folder" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()  # nothing shipped that could not be checkpointed


def test_once_into_a_folder_gives_up_at_once_with_exit_1(tmp_path: Path) -> None:
    logs = small_tree(tmp_path)
    folder = tmp_path / "out-is-a-folder"
    folder.mkdir()
    started = time.monotonic()
    done = run_ship("--path", str(logs), "--output", f"file://{folder}", "--state-dir", str(tmp_path / "s"),
                    "--once", timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Is a directory" in done.stderr and "never confirmed" in done.stderr
    assert time.monotonic() - started < 30  # a permanent error is not retried under --once
    assert "Traceback" not in done.stderr


def test_once_to_an_unresolvable_broker_retries_for_a_bounded_time_then_exits_1(tmp_path: Path) -> None:
    logs = small_tree(tmp_path)
    done = run_ship("--config", str(quick_retry_config(tmp_path)), "--path", str(logs),
                    "--output", "kafka://no-such-broker.invalid:9092/t", "--state-dir", str(tmp_path / "s"),
                    "--once", timeout=90)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "no-such-broker.invalid" in done.stderr and "never confirmed" in done.stderr
    assert all(e.offset == 0 for e in Checkpointer(str(tmp_path / "s")).load().values())  # nothing claimed


@pytest.mark.kafka
async def test_a_missing_topic_is_named_once_in_the_log_and_in_a_metric(
    tmp_path: Path, kafka_bootstrap: str, caplog
):
    small_tree(tmp_path)
    config = make_config(tmp_path)
    config.output = f"kafka://{kafka_bootstrap}/no-such-topic-here"
    config.retry.once_timeout_s = 8.0
    metrics = new_metrics()
    summary = await ship_once_async(config, metrics)
    assert not summary.delivered_all
    assert summary.failure is not None and "does not exist" in summary.failure
    assert metric(metrics, "output_failures_total", reason="unknown_topic") >= 1
    outage_lines = [r.getMessage() for r in caplog.records if "output unavailable" in r.getMessage()]
    assert (
        len(outage_lines) == 1
        and "no-such-topic-here" in outage_lines[0]
        and "does not exist" in outage_lines[0]
    )


def test_a_negative_offset_in_the_checkpoint_is_rejected_with_what_to_do(tmp_path: Path) -> None:
    logs = small_tree(tmp_path)
    state = tmp_path / "state"
    args = (
        "--path",
        str(logs),
        "--output",
        f"file://{tmp_path / 'out.jsonl'}",
        "--state-dir",
        str(state),
        "--once",
    )
    assert run_ship(*args).returncode == 0
    path = state / "checkpoint.json"
    data = orjson.loads(path.read_bytes())
    for entry in data["files"].values():
        entry["offset"] = -5
    path.write_bytes(orjson.dumps(data))
    done = run_ship(*args)
    assert done.returncode == 2
    assert "impossible position" in done.stderr and "move the file away" in done.stderr
    assert "Traceback" not in done.stderr


def test_once_ships_a_last_line_ended_by_a_bare_cr_as_parse_does(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    text = "".join(sms_line(f"cr-{i}").replace("\r\n", "\r") for i in range(200))
    (logs / "SiteComp.log").write_text(text, newline="")
    parsed = subprocess.run([sys.executable, "-m", "streams.cli", "parse", str(logs / "SiteComp.log")],
                            capture_output=True, check=True, cwd=REPO)  # fmt: skip
    out = tmp_path / "out.jsonl"
    done = run_ship(
        "--path", str(logs), "--output", f"file://{out}", "--state-dir", str(tmp_path / "s"), "--once"
    )
    assert done.returncode == 0, done.stderr
    assert len(parsed.stdout.splitlines()) == 200
    assert [r["record"]["message"] for r in read_records(out)] == [f"cr-{i}" for i in range(200)]
