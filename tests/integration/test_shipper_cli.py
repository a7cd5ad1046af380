"""``mpwatch ship`` as a real process: --once end to end, restart without duplicates, SIGTERM, errors,
/metrics."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from shipper.checkpoint import Checkpointer
from shipper.config import ShipperConfig
from tests.shipper_harness import (
    make_config,
    messages,
    read_output,
    read_records,
    run_ship,
    sms_line,
    started_ship,
)


def tree(root) -> set[str]:
    """A small site-system tree; returns the messages it holds."""
    logs = root / "logs"
    (logs / "W3SVC1").mkdir(parents=True)
    (logs / "SiteComp.log").write_text("".join(sms_line(f"sc-{i}") for i in range(300)), newline="")
    (logs / "SiteComp.lo_").write_text("".join(sms_line(f"old-{i}") for i in range(100)), newline="")
    (logs / "MPSetup.log").write_text(
        "".join(f"<12-06-2004 15:35:{i % 60:02d}> mpsetup-{i}\r\n" for i in range(50)), newline=""
    )
    (logs / "W3SVC1" / "u_ex041206.log").write_text(
        "#Software: Microsoft Internet Information Services 6.0\r\n#Version: 1.0\r\n"
        "#Date: 2004-12-06 00:00:00\r\n#Fields: date time cs-method cs-uri-stem sc-status\r\n"
        + "".join(f"2004-12-06 00:00:{i:02d} GET /iis-{i} 200\r\n" for i in range(40)),
        newline="",
    )
    return (
        {f"sc-{i}" for i in range(300)}
        | {f"old-{i}" for i in range(100)}
        | {f"mpsetup-{i}" for i in range(50)}
    )


def test_once_end_to_end_then_restart_without_duplicates(tmp_path):
    expected = tree(tmp_path)
    out, state = tmp_path / "out.jsonl", tmp_path / "state"
    args = ("--path", str(tmp_path / "logs"), "--output", f"file://{out}", "--state-dir", str(state))
    first = run_ship(*args, "--once", "--host", "mp01")
    assert first.returncode == 0, first.stderr
    envelopes = read_records(out)
    assert len(envelopes) == 490
    assert expected <= set(messages(envelopes))
    assert {e["host"] for e in envelopes} == {"mp01"}
    assert {e["kind"] for e in envelopes} == {"sitecomp", "mpsetup", "iis"}
    assert all(e["id"] == f"mp01:{e['file_id']}:{e['offset']}" for e in envelopes)
    # a second run finds everything checkpointed
    again = run_ship(*args, "--once", "--host", "mp01")
    assert again.returncode == 0, again.stderr
    assert len(read_records(out)) == 490
    with open(tmp_path / "logs" / "SiteComp.log", "a", newline="") as handle:
        handle.write("".join(sms_line(f"sc-{i}") for i in range(300, 310)))
    assert run_ship(*args, "--once", "--host", "mp01").returncode == 0
    ids = Counter(e["id"] for e in read_records(out))
    assert len(ids) == 500 and max(ids.values()) == 1


@contextlib.contextmanager
def shipping_tree(tmp_path: Path) -> Iterator[tuple[ShipperConfig, subprocess.Popen[str]]]:
    """The small tree of ``tree`` shipped to a file by a live ``mpwatch ship`` with /metrics on a free
    port; yields the config it uses and the process."""
    tree(tmp_path)
    config = make_config(tmp_path)
    with started_ship(
        "--path", str(tmp_path / "logs"), "--output", config.output, "--state-dir", config.state_dir,
        "--metrics-port", "0",
    ) as process:  # fmt: skip
        yield config, process


def test_sigterm_sends_what_was_read_saves_the_checkpoint_and_exits_0(tmp_path):
    with shipping_tree(tmp_path) as (config, process):
        deadline = time.monotonic() + 60
        while len(read_output(config)) < 490 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        with open(tmp_path / "logs" / "SiteComp.log", "a", newline="") as handle:
            handle.write("".join(sms_line(f"late-{i}") for i in range(20)))
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "metrics on http://127.0.0.1:" in stderr
    shipped = read_output(config)
    entries = Checkpointer(config.state_dir).load()
    sitecomp = next(e for e in entries.values() if e.path.endswith("SiteComp.log"))
    shipped_sitecomp = [e for e in shipped if e["path"].endswith("SiteComp.log")]
    # the checkpoint is exactly after the last record shipped from the file: nothing lost, nothing twice
    last = max(shipped_sitecomp, key=lambda e: e["offset"])
    assert sitecomp.offset == last["offset"] + last["size"]
    before = len(shipped)
    assert run_ship("--path", str(tmp_path / "logs"), "--output", config.output,
                    "--state-dir", config.state_dir, "--once").returncode == 0  # fmt: skip
    after = read_output(config)
    assert len({e["id"] for e in after}) == len(after)
    assert {f"late-{i}" for i in range(20)} <= set(messages(after))
    assert len(after) == before + 20 - sum(1 for m in messages(shipped) if m.startswith("late-"))


def test_bad_config_is_one_clear_line(tmp_path):
    cfg = tmp_path / "ship.toml"
    cfg.write_text("[tail]\nmax_line_bytes = 'lots'\n")
    result = run_ship("--config", str(cfg), "--path", str(tmp_path), "--output", f"file://{tmp_path}/o.jsonl")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mpwatch ship: error: tail.max_line_bytes: expected an integer, got 'lots'"
    ]


def test_unreachable_broker_is_reported_once_and_retried(tmp_path):
    tree(tmp_path)
    with started_ship(
        "--path", str(tmp_path / "logs"), "--output", "kafka://127.0.0.1:9/mpwatch",
        "--state-dir", str(tmp_path / "state"), "--metrics-port", "0", "--log-level", "warning",
    ) as process:  # fmt: skip
        time.sleep(4)  # several retries happen meanwhile
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    errors = [line for line in stderr.splitlines() if "kafka://127.0.0.1:9/mpwatch" in line]
    assert any("cannot connect" in line for line in errors)
    assert sum("output unavailable" in line for line in stderr.splitlines()) == 1  # logged once
    assert any("next run resends them" in line for line in stderr.splitlines())  # not silent
    assert not (tmp_path / "state" / "checkpoint.json").exists() or all(
        e.offset == 0 for e in Checkpointer(str(tmp_path / "state")).load().values()
    )


def test_metrics_endpoint_serves_shipper_metrics(tmp_path):
    with shipping_tree(tmp_path) as (_config, process):
        port = None
        assert process.stderr is not None
        for line in process.stderr:
            if "metrics on http://127.0.0.1:" in line:
                port = int(line.rsplit(":", 1)[1].split("/")[0])
                break
        assert port
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            if 'mpwatch_shipper_records_shipped_total{kind="sitecomp"} 400.0' in body:
                break
            time.sleep(0.1)
        assert 'mpwatch_shipper_records_shipped_total{kind="sitecomp"} 400.0' in body
        assert 'mpwatch_shipper_lag_bytes{kind="sitecomp"} 0.0' in body
        assert "mpwatch_shipper_files_watched 4.0" in body
        for name in ("truncated_lines_total", "parse_fallback_total", "output_errors_total",
                     "backpressure_seconds_total", "checkpoint_writes_total"):  # fmt: skip
            assert f"mpwatch_shipper_{name}" in body
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0


def test_metrics_port_in_use_is_one_clear_line(tmp_path):
    tree(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_ship(
            "--path", str(tmp_path / "logs"), "--output", f"file://{tmp_path}/o.jsonl",
            "--state-dir", str(tmp_path / "state"), "--metrics-port", str(port), "--once",
        )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mpwatch ship: error: metrics_port: ")
    assert str(port) in lines[0]


def test_a_path_that_matches_nothing_is_warned_about(tmp_path):
    tree(tmp_path)
    missing = str(tmp_path / "no-such-folder" / "*.log")
    result = run_ship(
        "--path", str(tmp_path / "logs"), "--path", missing, "--output", f"file://{tmp_path}/o.jsonl",
        "--state-dir", str(tmp_path / "state"), "--once",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and missing in warnings[0], result.stderr
