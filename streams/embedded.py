"""The embedded shell behind ``mpwatch run``: the shipper's tailing and the engine in one asyncio process.

::

    Shipper (one per host folder) --ShippedBatch objects--> EngineOutput --> LiveEngine (Engine)
        checkpoint per host  <--confirmed once the snapshot holds them--      snapshot (one file)

Each host folder gets a real ``shipper.pipeline.Shipper`` (identity, rollover, encodings, checkpoints,
backpressure: all of it), whose output is not Kafka but ``EngineOutput``: the batches are handed over
in-process (``Output.in_process``, no encode/decode round trip), parsed and correlated by the same
``Engine`` the offline run uses, and the reducer's server states are what the API and metrics read.

**The checkpoint is never ahead of the snapshot.** ``EngineOutput.send`` applies a batch at once (the
API shows it within a tick) and returns: the batch is accepted into memory. Before a shipper writes its
checkpoint it calls ``EngineOutput.sync``, which waits for a snapshot holding everything applied so far
(temporary file, fsync, rename, folder fsync; asked for at once instead of at the next interval). After
a crash the shipper re-reads from its checkpoint, which can only be at or behind the snapshot: records
the snapshot already holds come again and are ignored by each file's replay guard in the
``Correlator`` (and events by their ids in ``ServerState``), so nothing is counted twice and nothing is
missed. While a snapshot cannot be written every send fails (``OutputError``): the shippers retry with
back-off and read nothing more meanwhile, so memory holds nothing the disk could not take.

Snapshots are written every ``snapshot_interval`` seconds while something changed (sooner when a
checkpoint waits) and only serialise what changed since the last: each server's and each host's state
is kept as its encoded bytes until an event touches it. Their interval bounds only what a crash makes
the shippers read again, not what the API shows. The same loop calls ``Engine.tick`` with the wall
clock, so local-time records whose host never states its UTC offset are placed after ``hold_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from shipper.checkpoint import write_atomic
from shipper.errors import OutputError
from shipper.outputs.base import Output
from streams.core.events import Event
from streams.engine import Engine
from streams.errors import InputError
from streams.metrics import PipelineMetrics
from streams.store import MemoryStore, wall_clock_us
from streams.wire import ShippedBatch

log = logging.getLogger("mpwatch.run")

SNAPSHOT_VERSION = 1
SNAPSHOT_NAME = "engine-snapshot.json"


class LiveEngine:
    """The engine of a live process, with its snapshot and time-driven work (see the module docstring)."""

    def __init__(
        self,
        state_dir: str,
        metrics: PipelineMetrics,
        *,
        tz: Mapping[str, int] | None = None,
        hold_seconds: float | None = None,
        snapshot_interval: float = 5.0,
        tick_interval: float = 1.0,
    ) -> None:
        self.engine = Engine(tz)
        if hold_seconds is not None:
            self.engine.hold_seconds = hold_seconds
        self.metrics = metrics
        self.path = os.path.join(state_dir, SNAPSHOT_NAME)
        self.snapshot_interval = snapshot_interval
        self.tick_interval = tick_interval
        self.store = MemoryStore(self.engine.reducer.servers)  # live: the wall clock is "now"
        self._applied = 0  # batches applied so far
        self._saved = 0  # batches the latest snapshot holds
        self._failure: str | None = None  # why the latest snapshot write failed
        self._changed = asyncio.Event()
        self._urgent = asyncio.Event()  # a checkpoint waits for a snapshot: write it now
        self._written = asyncio.Condition()
        self._servers: dict[str, bytes] = {}  # server -> encoded state, while unchanged
        self._hosts: dict[str, bytes] = {}  # source host -> encoded correlator state, while unchanged
        self._dirty_servers: set[str] = set()
        self._dirty_hosts: set[str] = set()
        self.snapshots = 0
        self._load()

    # ------------------------------------------------------------------ feeding
    def apply(self, batches: Iterable[ShippedBatch]) -> int:
        """Correlate shipped batches now; returns the generation a snapshot must reach to hold them."""
        engine = self.engine
        records = engine.stats.records
        events = 0
        for batch in batches:
            got = engine.feed_batch(batch)
            self._dirty_hosts.add(engine.correlator(batch.header.host).host)
            self._touch(got)
            events += len(got)
        self.metrics.records_in.inc(engine.stats.records - records)
        self.metrics.events_in.inc(events)
        self._applied += 1
        self._changed.set()
        return self._applied

    def apply_events(self, events: Sequence[Event]) -> int:
        """Apply events that come from no log (the active probe) straight to the server states; they
        are saved with the next snapshot. Returns how many were new."""
        applied = self.engine.reducer.apply_all(events)
        self._touch(events)
        self.metrics.events_in.inc(applied)
        if applied:
            self._changed.set()
        return applied

    def tick(self, now_us: int | None = None) -> None:
        """Release local-time records that waited too long for their host's UTC offset, and records whose
        file stated no time for as long (placed from context)."""
        holding = [h for h, c in self.engine.correlators.items() if c.held or c.waiting]
        if not holding:
            return
        got = self.engine.tick(wall_clock_us() if now_us is None else now_us)
        if got:
            self._dirty_hosts.update(holding)
            self._touch(got)
            self.metrics.events_in.inc(len(got))
            self._changed.set()

    def _touch(self, events: Sequence[Event]) -> None:
        for ev in events:
            self._dirty_servers.add(ev.server)

    @property
    def applied(self) -> int:
        """The generation of the latest batch applied."""
        return self._applied

    def check_writable(self) -> None:
        """OutputError while the latest snapshot write failed (sends are refused until one succeeds)."""
        if self._failure is not None:
            raise OutputError(f"cannot write the engine snapshot {self.path}: {self._failure}")

    async def confirmed(self, generation: int) -> None:
        """Wait until a snapshot holds ``generation`` (asking for one now); OutputError when the
        snapshot cannot be written."""
        async with self._written:
            while self._saved < generation:
                self._urgent.set()
                if self._failure is not None:
                    raise OutputError(f"cannot write the engine snapshot {self.path}: {self._failure}")
                await self._written.wait()

    # ------------------------------------------------------------------ the background loop
    async def run(self, stop: asyncio.Event) -> None:
        """Snapshot and tick until ``stop``; a last snapshot on the way out."""
        next_tick = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.tick_interval)
            now = loop.time()
            if now >= next_tick:
                self.tick()
                next_tick = now + self.tick_interval
            if self._changed.is_set():
                if not self._urgent.is_set():  # gather what arrives meanwhile, unless a checkpoint waits
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), self.snapshot_interval)
                self._urgent.clear()
                await self.save()
        await self.save()

    async def save(self) -> None:
        """Write a snapshot of everything applied so far (if anything changed) and wake the waiters."""
        self._changed.clear()
        generation = self._applied
        if generation == self._saved and not self._dirty_servers and not self._dirty_hosts:
            return
        payload = self.snapshot_bytes()
        try:
            await asyncio.to_thread(write_atomic, self.path, payload, ".engine-")
        except OSError as exc:
            if self._failure is None:
                log.error("cannot write the engine snapshot %s: %s; retrying", self.path, exc)
            self._failure = exc.strerror or str(exc)
            self.metrics.malformed.labels("snapshot_write_failed").inc()
            self._changed.set()
        else:
            if self._failure is not None:
                log.warning("engine snapshot written again")
            self._failure = None
            self._saved = max(self._saved, generation)
            self.snapshots += 1
        async with self._written:
            self._written.notify_all()

    def snapshot_bytes(self) -> bytes:
        """The snapshot: only changed servers and hosts are encoded again."""
        engine = self.engine
        for name in self._dirty_servers:
            state = engine.reducer.servers.get(name)
            if state is not None:
                self._servers[name] = orjson.dumps(state.to_dict())
        for host in self._dirty_hosts:
            self._hosts[host] = orjson.dumps(engine.correlator_state(host))
        self._dirty_servers.clear()
        self._dirty_hosts.clear()
        stats = engine.stats
        head = orjson.dumps(
            {"v": SNAPSHOT_VERSION, "records": stats.records, "events": stats.events, "latest": stats.latest}
        )
        return b"".join(
            [
                head[:-1],
                b',"correlators":[',
                b",".join(self._hosts[h] for h in sorted(self._hosts)),
                b'],"servers":[',
                b",".join(self._servers[s] for s in sorted(self._servers)),
                b"]}",
            ]
        )

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InputError(f"cannot read the engine snapshot {self.path}: {exc.strerror or exc}") from exc
        try:
            data: dict[str, Any] = orjson.loads(raw)
            if data.get("v") != SNAPSHOT_VERSION:
                raise ValueError(f"version {data.get('v')!r}, this mpwatch writes {SNAPSHOT_VERSION}")
            self.engine.restore(data["correlators"], data["servers"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"the engine snapshot {self.path} is unusable ({exc}); move it away to start over "
                "(the logs are then read again from the start: also remove the checkpoints folder)"
            ) from exc
        stats = self.engine.stats
        stats.records = int(data.get("records") or 0)
        stats.events = int(data.get("events") or 0)
        stats.latest = data.get("latest")
        for state in self.engine.reducer.servers.values():
            self._servers[state.server] = orjson.dumps(state.to_dict())
        for host in self.engine.correlators:
            self._hosts[host] = orjson.dumps(self.engine.correlator_state(host))
        log.info("resumed from %s: %d servers, %d records seen", self.path, len(self._servers), stats.records)


class EngineOutput(Output):
    """The shipper's output in the embedded shell: batches go straight into the ``LiveEngine``."""

    in_process = True

    def __init__(self, live: LiveEngine, host: str) -> None:
        self.live = live
        self.host = host

    def describe(self) -> str:
        return f"the embedded engine (host {self.host})"

    async def send(self, batch: Sequence[Any]) -> None:
        """Apply at once (accepted into memory); refused while snapshots cannot be written."""
        self.live.check_writable()
        self.live.apply(batch)

    async def sync(self) -> None:
        """Return once a snapshot holds every batch applied so far (from every host)."""
        await self.live.confirmed(self.live.applied)

    async def close(self) -> None:
        return None
