"""``mpwatch timeline`` against a real ``mpwatch run``: a known server, an unknown one (close matches,
exit 1), an API that is down (one line, exit 2), and a log line full of escape sequences (the captured
output holds no ESC byte)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.integration.run_proc import RunProcess, start_run, wait_for
from tests.integration.shipper_proc import python_env

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x9b1m\u202eevil"


def timeline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "timeline", *args],
        capture_output=True, env={**python_env(), "TZ": "America/New_York", **(env or {})}, timeout=30,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunProcess]:
    root = tmp_path_factory.mktemp("timeline")
    samples = root / "samples"
    shutil.copytree(REPO / "samples", samples)
    control = samples / "MGTPOINT4" / "SMS" / "Logs" / "MPControl.log"
    trailer = "  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 15:59:56.993+300><thread=2008 (0x7D8)>\r\n"
    with open(control, "ab") as handle:
        handle.write(f"Http verification .sms_aut failed with status code 500, {HOSTILE}{trailer}".encode())
    proc = start_run(samples, root / "state", root / "run.log")
    try:
        wait_for(lambda: len(proc.json("/api/servers")["servers"]) == 4, 30, "the four sample MPs")
        yield proc
    finally:
        proc.stop()


def test_known_server_prints_state_diagnoses_and_timeline_in_local_time(service: RunProcess) -> None:
    done = timeline("mgtpoint3.contoso.com", "--api", service.url)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "MGTPOINT3" in out and "stuck" in out and "INSTALL_RETRYING" in out
    assert "cause" in out and "remedy" in out
    assert "(local time)" in out
    first = service.json("/api/servers/MGTPOINT3")["timeline"][0]["time"]  # UTC
    hour_utc = int(first[11:13])
    assert f" {(hour_utc - 5) % 24:02d}:" in out  # New York in December is UTC-5
    utc = timeline("MGTPOINT3", "--api", service.url, "--utc").stdout.decode()
    assert f" {hour_utc:02d}:" in utc and "(UTC)" in utc


def test_json_and_since(service: RunProcess) -> None:
    whole = orjson.loads(timeline("MGTPOINT1", "--api", service.url, "--json").stdout)
    assert whole["server"] == "MGTPOINT1" and whole["timeline"]
    recent = orjson.loads(timeline("MGTPOINT1", "--api", service.url, "--json", "--since", "1h").stdout)
    assert len(recent["timeline"]) <= len(whole["timeline"])


def test_unknown_server_lists_close_matches_and_exits_1(service: RunProcess) -> None:
    done = timeline("MGTPOINT", "--api", service.url)
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "unknown server MGTPOINT" in err and "MGTPOINT1" in err
    assert done.stdout == b""


def test_api_down_is_one_line_and_exit_2() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = timeline("MGTPOINT1", "--api", f"http://127.0.0.1:{port}")
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0]


def test_escape_sequences_from_logs_never_reach_the_terminal(service: RunProcess) -> None:
    done = timeline("MGTPOINT4", "--api", service.url, env={"TERM": "xterm"})
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout and b"\xc2\x9b" not in done.stdout
    assert b"\\x1b]0;owned\\x07" in done.stdout
    assert b"\x1b" not in done.stderr
