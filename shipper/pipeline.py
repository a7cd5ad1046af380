"""The shipper's run loop: discover -> read -> batch -> send -> checkpoint, in one visible function.

``Shipper.run`` is the whole algorithm; everything it calls is a small noun (registry, batch, output,
checkpointer). The rules it enforces:

* **The checkpoint moves only after the output confirmed the batch.** A crash at any moment repeats at
  most the batch that was in flight, never skips one.
* **Two bounded batches are the only read-ahead:** the one being sent and the next one, read meanwhile.
  Sends happen one at a time and are confirmed in order. While a send is retrying nothing more is read,
  so memory stays flat however long the output is down (backpressure): the files themselves are the
  buffer.
* **Retries back off exponentially with jitter** (``delivery.Delivery``); an outage is logged once when it
  starts and once when it ends, with metrics (``output_up``, ``output_errors_total``,
  ``backpressure_seconds_total``, a growing ``lag_bytes``) in between.
* **Stop (SIGTERM / Ctrl-C) is graceful.** Reading stops; records already read are sent (retrying for at
  most ``retry.shutdown_timeout_s``) and checkpointed; held multi-line records and partial lines are not
  shipped but stay before the checkpoint, so the next run reads them again.

Everything runs on one asyncio loop (aiokafka is asyncio). File reads are small ``os.read`` calls made
between awaits; the file output's write + fsync runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from shipper.batch import Batch
from shipper.checkpoint import Checkpointer
from shipper.config import ShipperConfig
from shipper.delivery import Delivery
from shipper.errors import CheckpointError, OutputError
from shipper.metrics import ShipperMetrics
from shipper.outputs.base import Output, open_output
from shipper.registry import FileRegistry
from shipper.watcher import ChangeWatcher, open_watcher

log = logging.getLogger("mpwatch.shipper")


@dataclass(slots=True)
class RunSummary:
    records: int = 0
    batches: int = 0
    delivered_all: bool = True  # False when a shutdown gave up on an unconfirmed batch
    failure: str | None = None  # --once: why a batch was given up (the output's last error)
    checkpoint_saved: bool = True  # False when the last checkpoint write failed


class Shipper:
    """Ships the configured files to the configured output until stopped (or once, with ``once``)."""

    def __init__(
        self,
        config: ShipperConfig,
        metrics: ShipperMetrics,
        *,
        output: Output | None = None,
        clock: Callable[[], float] = time.monotonic,
        external_hints: bool = False,
    ) -> None:
        self.config = config
        #: True when the caller watches the folders and passes change hints in through ``hint`` (mpwatch
        #: run: one watch over every host folder instead of one observer thread per shipper)
        self.external_hints = external_hints
        self._registry: FileRegistry | None = None
        self._wake: Wakeup | None = None
        self.metrics = metrics
        self.output = output or open_output(config.output, host=config.host, kafka=config.kafka)
        self.clock = clock
        self.checkpointer = Checkpointer(config.state_dir)
        self._checkpoint_failing = False
        self._last_save = float("-inf")
        tail = config.tail
        timers = (tail.multiline_idle_s, tail.rotate_wait_s, tail.identify_wait_s, tail.rescan_interval_s)
        self.tick = max(0.05, min(1.0, *timers) / 2)

    async def run(self, stop: asyncio.Event | None = None) -> RunSummary:
        """The run loop (see the module docstring)."""
        config, metrics = self.config, self.metrics
        stop = stop or asyncio.Event()
        summary = RunSummary()
        self.checkpointer.check_writable()
        registry = FileRegistry(
            config,
            self.checkpointer.load(),
            metrics,
            max_record_bytes=self.output.max_record_bytes,
            in_process=self.output.in_process,
        )
        delivery = Delivery(
            self.output,
            config.retry,
            metrics,
            self.clock,
            on_wait=registry.refresh_lag,
            give_up_s=config.retry.once_timeout_s if config.once else None,
        )
        wake = Wakeup()
        self._registry, self._wake = registry, wake
        stopping = asyncio.ensure_future(stop.wait())  # a stop ends the current sleep at once
        stopping.add_done_callback(lambda _: wake.set())
        watcher: ChangeWatcher | None = None
        if not config.once and not self.external_hints:

            def on_hint(path: str) -> None:
                registry.hint(path)
                wake.set()

            try:
                watcher = open_watcher(
                    registry.provider.watch_roots(),
                    on_hint,
                    asyncio.get_running_loop(),
                    notify=config.tail.notify,
                )
            except OSError as exc:  # inotify instance limit, ...: the periodic rescan still finds changes
                log.warning(
                    "no change notifications (%s); relying on rescans every %.0f s",
                    exc,
                    config.tail.rescan_interval_s,
                )
                watcher = None
        await self._connect()
        next_scan = 0.0
        ended = False  # --once: the final flush of held records was done
        sending: tuple[Batch, asyncio.Task[bool]] | None = None  # the batch being delivered
        try:
            while True:
                now = self.clock()
                if not stop.is_set() and (registry.scan_requested or now >= next_scan):
                    registry.scan(force_identify=config.once)
                    next_scan = now + config.tail.rescan_interval_s
                    if watcher is not None:
                        watcher.refresh()
                registry.housekeeping()

                # read the next batch while the previous one is being sent ...
                batch = Batch(config.batch.max_records, config.batch.max_bytes)
                registry.fill(batch, read=not stop.is_set())
                # ... but confirm batches strictly in order, one send at a time
                if sending is not None:
                    sent, task = sending
                    sending = None
                    if not await task:
                        summary.delivered_all = False
                        summary.failure = delivery.failure
                        break
                    registry.commit(sent)
                    self._count(sent, summary)
                    if not batch.full:  # top up with what was appended meanwhile (else it waits a cycle)
                        registry.fill(batch, read=not stop.is_set())
                if batch:
                    sending = (batch, asyncio.ensure_future(delivery.deliver(batch, stop)))
                    await self._save(registry)  # what the previous batch confirmed
                    await asyncio.sleep(0)  # the send starts before the next batch is read
                    continue

                registry.settle()  # nothing in flight: positions may pass lines without records
                await self._save(registry, force=stop.is_set() or config.once)
                if stop.is_set():
                    break
                if config.once:
                    if registry.has_ready or registry.scan_requested:
                        continue
                    if not ended:
                        ended = True
                        registry.end_of_run()
                        continue
                    break
                wake.clear()
                if not registry.has_ready and not registry.scan_requested:
                    # quiet (no timer pending): sleep until the next scan unless a notification comes
                    quiet = watcher is not None or self.external_hints
                    idle = (
                        max(self.tick, next_scan - self.clock()) if quiet and not registry.needs_timers else 0
                    )
                    await wake.wait(idle or self.tick)
        finally:
            stopping.cancel()
            if sending is not None:  # only after an error: the batch stays unconfirmed
                sending[1].cancel()
                with contextlib.suppress(BaseException):
                    await sending[1]
            if watcher is not None:
                watcher.stop()
            registry.close()
            await self.output.close()
        summary.checkpoint_saved = not self._checkpoint_failing
        return summary

    def hint(self, path: str) -> None:
        """``path`` changed (a notification from the caller's own watcher): look at it now."""
        if self._registry is not None and self._wake is not None:
            self._registry.hint(path)
            self._wake.set()

    async def _connect(self) -> None:
        """One eager connection attempt so a bad destination is reported at start, in one line."""
        try:
            await self.output.start()
        except OutputError as exc:
            self.metrics.output_up.set(0)
            log.error("%s; will keep retrying (nothing is read meanwhile)", exc)

    def _count(self, batch: Batch, summary: RunSummary) -> None:
        metrics = self.metrics
        for kind, count in batch.records_by_kind.items():
            metrics.records_by_kind[kind].inc(count)
        for kind, count in batch.source_bytes_by_kind.items():
            metrics.bytes_by_kind[kind].inc(count)
        summary.records += len(batch)
        summary.batches += 1

    async def _save(self, registry: FileRegistry, *, force: bool = False) -> None:
        """Write the checkpoint if it changed (and ``checkpoint_interval_s`` passed since the last write,
        unless ``force``), once the output made what it accepted durable (``Output.sync``). A failed
        write (disk full, no descriptors left) is logged once and retried on the next round; delivery
        goes on (a crash meanwhile only repeats records)."""
        if not registry.dirty:
            return
        now = self.clock()
        if not force and now - self._last_save < self.config.checkpoint_interval_s:
            return
        self._last_save = now
        entries = registry.entries()  # the positions confirmed now; sync covers at least those
        try:
            await self.output.sync()
            written = self.checkpointer.save(entries)
        except (CheckpointError, OutputError) as exc:
            self.metrics.checkpoint_errors.inc()
            if not self._checkpoint_failing:
                log.error("%s; retrying", exc)
                self._checkpoint_failing = True
            return
        if self._checkpoint_failing:
            log.warning("checkpoint written again")
            self._checkpoint_failing = False
        if written:
            self.metrics.checkpoint_writes.inc()
        registry.dirty = False
        registry.update_gauges()


class Wakeup:
    """``asyncio.Event`` for the run loop's one waiter, plus a time-out, without a task per sleep (the
    loop sleeps after nearly every batch of a slowly growing file: two tasks and ``asyncio.wait`` per
    sleep were a visible share of ``mpwatch run``'s CPU)."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self, timeout: float) -> None:
        """Return when ``set`` is called (or was, since the last ``clear``) or after ``timeout`` s."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
