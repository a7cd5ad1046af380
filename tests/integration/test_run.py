"""``mpwatch run`` as a real process over real files: it answers what ``mpwatch diagnose`` answers (the
oracle), shows appended lines live, survives kill -9 without re-counting or missing anything, and keeps
its access rules (loopback without a token; 401 without the token)."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from streams.loader import discover
from streams.offline import run
from tests.fixtures.logsets import SCENARIOS, write_logset
from tests.integration.run_proc import RunProcess, assert_matches, oracle, start_run, wait_for
from tests.integration.shipper_proc import python_env


def split_lines(data: bytes) -> list[bytes]:
    """Whole lines (with their ends), UTF-16LE aware (a line end there is ``\\n\\0`` at an even offset)."""
    wide = data[:2] == b"\xff\xfe"
    unit = b"\n\x00" if wide else b"\n"
    lines, start = [], 0
    pos = data.find(unit)
    while pos != -1:
        if not wide or pos % 2 == 0:
            lines.append(data[start : pos + len(unit)])
            start = pos + len(unit)
        pos = data.find(unit, pos + 1)
    if start < len(data):
        lines.append(data[start:])
    return lines


def copy_prefix(src: Path, dst: Path, fraction: float) -> dict[Path, list[bytes]]:
    """Copy every file of ``src`` to ``dst`` with only its first ``fraction`` of lines; returns the
    lines still to append per destination file."""
    rest: dict[Path, list[bytes]] = {}
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = split_lines(path.read_bytes())
        keep = max(1, int(len(lines) * fraction))
        target.write_bytes(b"".join(lines[:keep]))
        if lines[keep:]:
            rest[target] = lines[keep:]
    return rest


def append(path: Path, lines: list[bytes]) -> None:
    with open(path, "ab") as handle:
        handle.write(b"".join(lines))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_api_answers_what_diagnose_answers(tmp_path: Path, name: str) -> None:
    folder = write_logset(name, tmp_path / "logs")
    expected = oracle(folder)
    proc = start_run(folder, tmp_path / "state", tmp_path / "run.log")
    try:
        assert_matches(proc, expected)
        metrics = proc.get("/metrics")[1]
        assert (
            "mpwatch_server_state{" in metrics and 'mpwatch_shipper_records_shipped_total{host="' in metrics
        )
        assert proc.json("/api/openapi.json")["openapi"].startswith("3.")
    finally:
        assert proc.stop() == 0, proc.tail()


def test_samples_answer_like_diagnose(tmp_path: Path) -> None:
    import shutil

    samples = tmp_path / "samples"
    shutil.copytree(Path(__file__).resolve().parents[2] / "samples", samples)
    expected = oracle(samples)
    proc = start_run(samples, tmp_path / "state", tmp_path / "run.log")
    try:
        assert_matches(proc, expected)
    finally:
        proc.stop()


def test_appended_lines_show_up_live(tmp_path: Path) -> None:
    source = write_logset("install_retrying", tmp_path / "source")
    live = tmp_path / "live"
    rest = copy_prefix(source, live, 0.5)
    proc = start_run(live, tmp_path / "state", tmp_path / "run.log")
    try:
        assert_matches(proc, oracle(live))
        before = {r["server"]: r["events"] for r in proc.json("/api/servers")["servers"]}
        sitecomp = next(p for p in rest if p.name.lower() == "sitecomp.log")
        append(sitecomp, rest.pop(sitecomp))

        def grew() -> bool:
            rows = proc.json("/api/servers")["servers"]
            return any(r["events"] > before.get(r["server"], 0) for r in rows)

        wait_for(grew, 3.0, "appended sitecomp.log lines to reach the API")
        for path, lines in rest.items():
            append(path, lines)
        assert_matches(proc, oracle(source))
    finally:
        proc.stop()


def test_kill_9_and_restart_neither_recounts_nor_misses(tmp_path: Path) -> None:
    source = write_logset("concurrent_installs", tmp_path / "source")
    live = tmp_path / "live"
    rest = copy_prefix(source, live, 0.3)
    state = tmp_path / "state"
    rng = random.Random(20261203)
    proc = start_run(live, state, tmp_path / "run.log")
    pending = {path: list(lines) for path, lines in rest.items()}
    try:
        for _round in range(4):
            for path, lines in pending.items():  # append a random share of every file's rest
                take = lines[: rng.randint(0, max(1, len(lines) // 3))]
                del lines[: len(take)]
                append(path, take)
            time.sleep(rng.uniform(0.0, 1.5))  # kill at a random moment: mid-read, mid-snapshot or idle
            proc.stop(signal.SIGKILL)
            proc = start_run(live, state, tmp_path / "run.log")
        for path, lines in pending.items():
            append(path, lines)
        expected = oracle(source)
        assert oracle(live) == expected  # every line is in the live files now
        assert_matches(proc, expected)
        _, metrics = proc.get("/metrics")
        # status counts come from the de-duplicated state: equal to the oracle's, however often re-read
        assert _status_total(metrics) == _oracle_status_total(source)
    finally:
        proc.stop()


def _status_total(metrics: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics):
        if family.name == "mpwatch_status_messages":
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


def _oracle_status_total(folder: Path) -> float:
    from prometheus_client import CollectorRegistry, generate_latest

    from streams.metrics import register_state_metrics
    from streams.store import MemoryStore

    result = run(discover([str(folder)]))
    registry = CollectorRegistry()
    register_state_metrics(registry, MemoryStore(result.reducer.servers, now=result.now))
    return _status_total(generate_latest(registry).decode())


def test_beyond_loopback_needs_a_token_and_requests_need_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = write_logset("success", tmp_path / "logs")
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "run",
            "--logs",
            str(folder),
            "--listen",
            "0.0.0.0:0",
            "--state-dir",
            str(tmp_path / "s0"),
        ],
        capture_output=True,
        text=True,
        env={**python_env(), "MPWATCH_TOKEN": ""},
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2
    assert "needs a token" in refused.stderr
    proc = RunProcess(
        [
            "--logs",
            str(folder),
            "--listen",
            "0.0.0.0:0",
            "--state-dir",
            str(tmp_path / "s1"),
            "--token",
            "s3cret",
        ],
        tmp_path / "run.log",
    )
    try:
        url = proc.wait_listening()
        proc.url = url.replace("0.0.0.0", "127.0.0.1")
        for path in ("/", "/api/servers", "/api/servers/MGTPOINT1", "/api/openapi.json"):
            assert proc.get(path)[0] == 401, path
            assert proc.get(path, token="wrong")[0] == 401, path
        assert proc.get("/metrics")[0] == 200  # metrics stay open, as exporters do
        wait_for(lambda: proc.get("/api/servers", token="s3cret")[1]["servers"], 20, "servers")
        assert proc.get("/api/servers/MGTPOINT1", token="s3cret")[0] == 200
        status, body = proc.get("/api/servers/NOSUCHMP", token="s3cret")
        assert status == 404 and body["error"] == "unknown server NOSUCHMP"
    finally:
        proc.stop()
