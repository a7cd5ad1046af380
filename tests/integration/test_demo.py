"""``make demo``'s script for real: it starts ``mpwatch run`` over the samples, the replayed install of
MGTPOINT5 completes while it runs (pending/installing -> healthy), the other samples keep their states,
and Ctrl-C stops everything it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson

from tests.integration.run_proc import wait_for
from tests.integration.shipper_proc import python_env

REPO = Path(__file__).resolve().parents[2]


def test_demo_installs_mgtpoint5_live_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    out = tmp_path / "demo.out"
    with open(out, "wb") as handle:
        demo = subprocess.Popen(
            [sys.executable, str(REPO / "deploy" / "local" / "demo.py"), "--port", "0", "--speed", "60",
             "--check-every", "1", "--workdir", str(tmp_path / "demo")],
            stdout=handle, stderr=subprocess.STDOUT, env=python_env(), cwd=REPO,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        url = ""
        while not url and time.monotonic() < deadline:
            found = re.search(r"open (http://\S+)/ ", out.read_text())
            url = found.group(1) if found else ""
            time.sleep(0.1)
        assert url, out.read_text()
        pid = int(re.search(r"PID (\d+)", out.read_text()).group(1))  # type: ignore[union-attr]
        states: list[str] = []
        while time.monotonic() < deadline + 40:
            with urllib.request.urlopen(url + "/api/servers", timeout=5) as response:
                rows = {r["server"]: r["state"] for r in orjson.loads(response.read())["servers"]}
            if "MGTPOINT5" in rows and (not states or states[-1] != rows["MGTPOINT5"]):
                states.append(rows["MGTPOINT5"])
            if rows.get("MGTPOINT5") == "healthy":
                break
            time.sleep(0.2)
        assert states and states[-1] == "healthy", (states, out.read_text())
        assert len(states) >= 2  # it was seen before it was done: the install happened live
        expected = {
            "MGTPOINT1": "healthy",
            "MGTPOINT2": "failed",
            "MGTPOINT3": "stuck",
            "MGTPOINT4": "degraded",
        }

        def samples_settled() -> bool:  # MGTPOINT2's zone-less local times wait up to --hold-seconds
            with urllib.request.urlopen(url + "/api/servers", timeout=5) as response:
                now = {r["server"]: r["state"] for r in orjson.loads(response.read())["servers"]}
            return all(now.get(name) == state for name, state in expected.items())

        wait_for(samples_settled, 30, "the samples' own states")
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait(30) == 0, out.read_text()
        assert "stopped (mpwatch run exited with status 0)" in out.read_text()
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, "mpwatch run outlived the demo"
    finally:
        if demo.poll() is None:  # a failed assertion: let the demo stop its mpwatch run (Ctrl-C) first
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        found = re.search(r"PID (\d+)", out.read_text())
        if found:  # never leave mpwatch run behind, whatever happened to the demo
            child = int(found.group(1))
            with contextlib.suppress(OSError):  # only if that PID is still our mpwatch run
                if b"streams.cli\x00run" in Path(f"/proc/{child}/cmdline").read_bytes():
                    os.kill(child, signal.SIGKILL)
