"""``mpwatch run`` as a real process for tests and benchmarks: start it on a free port, read its URL
from its log, ask its API, stop it by PID (SIGTERM, or SIGKILL for crash tests)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from streams.loader import discover
from streams.offline import run
from tests.integration.shipper_proc import python_env

_URL = re.compile(rb"page (http://\S+?)/ ")


class RunProcess:
    """One ``mpwatch run`` child; ``url`` is known once it listens."""

    def __init__(self, args: Sequence[str], log: Path, *, cwd: Path | None = None) -> None:
        self.log = log
        self.start_at = log.stat().st_size if log.exists() else 0  # the log may hold earlier runs
        self.handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "run", *args],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env=python_env(),
            cwd=cwd,
        )
        self.url = ""

    def wait_listening(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _URL.findall(self.log.read_bytes()[self.start_at :])
            if found:
                self.url = found[-1].decode()
                return self.url
            if self.proc.poll() is not None:
                raise AssertionError(f"mpwatch run exited {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"mpwatch run did not listen within {timeout} s:\n{self.tail()}")

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        is_json = body[:1] in (b"{", b"[")
        return status, orjson.loads(body) if is_json else body.decode()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (status, body)
        return body

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.handle.close()
        return self.proc.returncode

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_run(logs: Path, state: Path, log: Path, *extra: str) -> RunProcess:
    proc = RunProcess(
        [
            "--logs",
            str(logs),
            "--state-dir",
            str(state),
            "--listen",
            "127.0.0.1:0",
            "--hold-seconds",
            "2",
            *extra,
        ],
        log,
    )
    try:
        proc.wait_listening()
    except BaseException:
        proc.stop(signal.SIGKILL)
        raise
    return proc


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def oracle(folder: Path) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(run(discover([str(folder)])).view))


def matches_oracle(proc: RunProcess, expected: dict[str, Any]) -> bool:
    listed = proc.json("/api/servers")
    if [r["server"] for r in listed["servers"]] != [s["server"] for s in expected["servers"]]:
        return False
    for entry in expected["servers"]:
        got = proc.json(f"/api/servers/{entry['server']}?now={expected['now']}")
        got.pop("now")
        if got != entry:
            return False
    return True


def assert_matches(proc: RunProcess, expected: dict[str, Any], timeout: float = 30.0) -> None:
    try:
        wait_for(lambda: matches_oracle(proc, expected), timeout, "the API to answer what diagnose answers")
    except AssertionError:
        for entry in expected["servers"]:  # show the first difference, not just "timed out"
            got = proc.json(f"/api/servers/{entry['server']}?now={expected['now']}")
            got.pop("now")
            if got != entry:
                raise AssertionError(
                    f"{entry['server']} differs from diagnose:\n{_difference(got, entry)}"
                ) from None
        raise


def _difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    """What differs, readably: state, codes, timeline entries missing or extra."""
    out = []
    if got["state"] != want["state"]:
        out.append(f"state {got['state']} != {want['state']}")
    codes = ([d["code"] for d in got["diagnoses"]], [d["code"] for d in want["diagnoses"]])
    if codes[0] != codes[1]:
        out.append(f"codes {codes[0]} != {codes[1]}")
    seen = [orjson.dumps(e) for e in got["timeline"]]
    wanted = [orjson.dumps(e) for e in want["timeline"]]
    out += [f"extra   {e.decode()}" for e in seen if e not in wanted][:10]
    out += [f"missing {e.decode()}" for e in wanted if e not in seen][:10]
    if not out:
        out.append(
            orjson.dumps(got["diagnoses"]).decode() + "\n!=\n" + orjson.dumps(want["diagnoses"]).decode()
        )
    return "\n".join(out)
