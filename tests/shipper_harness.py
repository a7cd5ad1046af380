"""Test harness for the shipper (in the spirit of Beats' filestream tests): real files, a real shipper
(in-process on the test's event loop, or as a ``mpwatch ship`` subprocess), polling assertions.

No mocks: the output is a real ``file://`` JSON-lines file or a real Kafka topic; metrics come from a
fresh ``CollectorRegistry`` per shipper. What the shipper wrote is read back through the wire codec
(``records_of``): one dict per record (``streams.wire.flatten``: id, host, kind, path, file, file_id,
offset, size, line, raw, truncated, and the parsed ``record``), whatever the batching.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from shipper.config import ShipperConfig, validate
from shipper.metrics import ShipperMetrics
from shipper.pipeline import RunSummary, Shipper
from streams.wire import decode, flatten

REPO = Path(__file__).resolve().parent.parent
SMS_TRAILER = "$$<SMS_SITE_COMPONENT_MANAGER><12-06-2004 15:35:41.000+480><thread=3260 (0xCBC)>"


def sms_line(text: str) -> str:
    """One SMS server-format record (a single physical line, CRLF)."""
    return f"{text}  {SMS_TRAILER}\r\n"


def make_config(tmp_path: Path, patterns: list[str] | None = None, **tail: Any) -> ShipperConfig:
    """A config shipping ``tmp_path/logs`` to ``tmp_path/out.jsonl`` with short timers for tests."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    config = ShipperConfig(
        paths=patterns or [str(logs)],
        host="MP01",
        output=f"file://{tmp_path / 'out.jsonl'}",
        state_dir=str(tmp_path / "state"),
    )
    config.tail.multiline_idle_s = 0.4
    config.tail.rotate_wait_s = 0.4
    config.tail.identify_wait_s = 0.2
    config.tail.rescan_interval_s = 0.5
    config.retry.initial_s = 0.05
    config.retry.max_s = 0.5
    for name, value in tail.items():
        setattr(config.tail, name, value)
    validate(config)
    return config


def output_path(config: ShipperConfig) -> Path:
    return Path(config.output.removeprefix("file://"))


def records_of(messages: Iterator[bytes] | list[bytes]) -> list[dict[str, Any]]:
    """Every record of the given wire messages, in order, as ``streams.wire.flatten`` objects."""
    out: list[dict[str, Any]] = []
    for message in messages:
        out.extend(flatten(decode(message)))
    return out


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record a ``file://`` output file holds (complete lines only)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # a batch being appended right now: complete lines only
    return records_of([line for line in data.splitlines() if line.strip()])


def read_output(config: ShipperConfig) -> list[dict[str, Any]]:
    """Every record the configured file output holds (complete lines only)."""
    return read_records(output_path(config))


def messages(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["record"]["message"] for e in envelopes]


def new_metrics() -> ShipperMetrics:
    return ShipperMetrics(CollectorRegistry())


def metric(metrics: ShipperMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"mpwatch_shipper_{name}", labels or None)
    return 0.0 if value is None else value


async def ship_once_async(config: ShipperConfig, metrics: ShipperMetrics | None = None) -> RunSummary:
    config.once = True
    return await Shipper(config, metrics or new_metrics()).run()


def ship_once(config: ShipperConfig, metrics: ShipperMetrics | None = None) -> RunSummary:
    return asyncio.run(ship_once_async(config, metrics))


class LiveShipper:
    """A shipper running as a task on the test's loop; ``async with LiveShipper(config) as live``."""

    def __init__(self, config: ShipperConfig, metrics: ShipperMetrics | None = None) -> None:
        config.once = False
        self.config = config
        self.metrics = metrics or new_metrics()
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[RunSummary] | None = None

    async def __aenter__(self) -> LiveShipper:
        self.task = asyncio.create_task(Shipper(self.config, self.metrics).run(self.stop_event))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> RunSummary | None:
        if self.task is None:
            return None
        self.stop_event.set()
        task, self.task = self.task, None
        return await asyncio.wait_for(task, 30)

    def output(self) -> list[dict[str, Any]]:
        return read_output(self.config)

    async def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Poll until ``predicate()`` holds; fail with ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.task is not None and self.task.done():
                self.task.result()  # re-raise the shipper's exception
                raise AssertionError(f"shipper stopped before: {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for: {what}")
            await asyncio.sleep(0.05)

    async def wait_for_messages(self, expected: set[str], timeout: float = 30.0) -> None:
        await self.wait_until(
            lambda: expected <= set(messages(self.output())), f"{len(expected)} messages", timeout
        )


class BackgroundShipper:
    """A live shipper on its own event loop in a thread, for synchronous tests (hypothesis rules)."""

    def __init__(self, config: ShipperConfig, metrics: ShipperMetrics | None = None) -> None:
        config.once = False
        self.config = config
        self.metrics = metrics or new_metrics()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="shipper", daemon=True)

    def start(self) -> BackgroundShipper:
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("the background shipper did not start")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the test thread by stop()/check()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await Shipper(self.config, self.metrics).run(self._stop)

    def check(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive():
            raise AssertionError("the background shipper stopped on its own")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._thread.is_alive():
            raise AssertionError("the background shipper did not stop within 30 s")
        if self._error is not None:
            raise self._error

    def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            self.check()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for: {what}")
            time.sleep(0.02)


def open_fds_to(path: Path) -> list[str]:
    """Targets of this process's open descriptors that name ``path`` (Linux /proc)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def ship_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", "ship", *args]


@contextlib.contextmanager
def started_ship(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``mpwatch ship ARGS`` running as a real process (stdout/stderr piped, text); killed on the way
    out if the test left it running."""
    process = subprocess.Popen(
        ship_command(*args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_ship(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``mpwatch ship ARGS`` to completion as a real process."""
    return subprocess.run(
        ship_command(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
