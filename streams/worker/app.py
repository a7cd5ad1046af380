"""The Faust app of the distributed shell: two agents, two tables, a timer and the web views.

* **stage 1** (``records`` topic, key = source host, raw wire bytes): ``wire.decode`` (a malformed
  message is counted in ``PipelineMetrics.malformed``, logged with partition and offset, and skipped),
  ``parse_records``, the host's ``Correlator`` (restored from table ``correlators`` with
  ``Correlator.from_state``), ``feed_many``; each event goes to the ``events`` topic keyed by its target
  server. The correlator's new state is written only after the broker acknowledged the events.
* **stage 2** (``events`` topic, key = target server): ``ServerState.apply`` (idempotent: repeated
  events are ignored by the state itself), state written to table ``servers``; a change of health
  (state or active codes) is published to the ``health`` topic, one JSON object per change.
* **probe** (only with ``[probe] servers``; the elected leader, every ``probe.interval_seconds``): the
  seed's MP checks (``streams.probe``); their events go to the ``events`` topic keyed by server, as
  stage 1's do, and ``mpwatch_probe_success`` / ``mpwatch_probe_duration_seconds`` are the leader's.
* **timer** (every ``tick_seconds``): ``Correlator.tick`` for held local-time records and a re-evaluation
  of time rules against the wall clock for this worker's servers. Faust allows table writes only inside
  stream iteration, so the timer changes cached objects and sends events; the tables catch up with the
  next message of that key (a restart in between repeats released events, which are idempotent).

Both stages take batches of up to ``batch_messages`` messages (Faust ``take_events``, at most
``batch_seconds`` wait), so stage 1 sends one events message per server and writes each host's
correlator once per batch, and stage 2 saves each server and evaluates its health once per batch;
Faust acks a batch's messages in order once the loop body is done. A table key is touched with the
task's current event set to a message of the key's own partition (``_partition_of``): Faust picks
the changelog partition and RocksDB file from it, and ``take_events`` does not set it.

Both tables keep plain orjson bytes (``state()`` / ``to_dict()``) under raw byte keys (the name), so a
table key serialises exactly like the topic key that partitioned it and
``app.router`` finds the owning worker.
Decoded objects are cached per worker, not while the app rebalances, and dropped on every rebalance
(a partition may have moved) and when a batch fails before its events were delivered.

Web views: ``/api/servers/{server}`` is routed to the worker owning the canonical server name (as
``@app.table_route`` does, but after canonicalising the name); ``/api/servers`` merges this worker's
rows with ``/api/servers/local`` of every other worker listed in ``app.router.table_metadata``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import aiohttp
import faust
import orjson
from aiokafka.partitioner import DefaultPartitioner
from faust.exceptions import SameNode
from faust.streams import _current_event
from faust.types import TP, EventT
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from yarl import URL

from streams import api, wire
from streams.core.correlator import Correlator, FileRef, site_fallback
from streams.core.events import Event, iso
from streams.core.reducer import ServerState
from streams.core.servers import canonical_server
from streams.errors import ApiError, WireFormatError, WireVersionError
from streams.metrics import PipelineMetrics, ProbeMetrics, register_state_metrics
from streams.probe import Prober, parse_target, probe_round
from streams.store import wall_clock_us
from streams.worker.settings import WorkerSettings, faust_credentials

log = logging.getLogger("mpwatch.worker")

TABLES = ("correlators", "servers")
EVENTS_LIMIT = wire.DEFAULT_LIMIT  # bytes of one events message (a JSON list), well under 1 MiB
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 10.0  # backoff while the broker does not acknowledge events


def _key(key: Any) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


class TableStore:
    """A ``StateStore`` over this worker's partitions of table ``servers`` (wall-clock now)."""

    def __init__(
        self,
        table: Any,
        owned: Callable[[str], bool] = lambda server: True,
        caching: Callable[[], bool] = lambda: True,
    ) -> None:
        self.table = table
        self.owned = owned  # a memory:// table keeps revoked partitions' keys: hide them
        self.caching = caching  # False while the app rebalances: a partition may be moving
        self.cache: dict[str, ServerState] = {}

    def load(self, server: str) -> ServerState | None:
        state = self.cache.get(server)
        if state is None:
            raw = self.table.get(server.encode())
            if raw is None:
                return None
            state = ServerState.from_dict(orjson.loads(raw))
            if self.caching():
                self.cache[server] = state
        return state

    def save(self, state: ServerState) -> None:
        if self.caching():
            self.cache[state.server] = state
        self.table[state.server.encode()] = orjson.dumps(state.to_dict())

    def servers(self) -> list[ServerState]:
        out = []
        for key in list(self.table.keys()):
            if not self.owned(_key(key)):
                continue
            state = self.load(_key(key))
            if state is not None:
                out.append(state)
        return out

    def get(self, name: str) -> ServerState | None:
        return self.load(canonical_server(name))

    def now(self) -> int:
        return wall_clock_us()


class Worker:
    """Everything one worker process holds; ``app`` is the Faust app."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        s = settings
        self.app = faust.App(
            s.app_id,
            broker=[f"kafka://{b}" for b in s.brokers()],
            broker_credentials=faust_credentials(s),
            store=s.store,
            datadir=s.data_dir,
            web_host=s.web_host,
            web_port=s.web_port,
            canonical_url=f"http://{s.web_host}:{s.web_port}",
            processing_guarantee="at_least_once",
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication,
            broker_max_poll_records=s.max_poll_records,
            broker_session_timeout=10.0,  # a killed worker's partitions move within seconds
            broker_heartbeat_interval=3.0,
            topic_allow_declare=False,
            key_serializer="raw",
            value_serializer="raw",
        )
        app = self.app
        self.registry = CollectorRegistry()
        self.metrics = PipelineMetrics(self.registry)
        self.records = app.topic(s.topics.records, key_serializer="raw", value_serializer="raw")
        self.events = app.topic(s.topics.events, key_serializer="raw", value_serializer="raw")
        self.health = app.topic(s.topics.health, key_serializer="raw", value_serializer="raw")
        # key_type/value_type bytes = raw serializers (changelog keys equal the topic keys)
        self.correlators = app.Table("correlators", partitions=s.partitions, key_type=bytes, value_type=bytes)
        self.servers = app.Table("servers", partitions=s.partitions, key_type=bytes, value_type=bytes)
        self.store = TableStore(self.servers, self.owns, self._caching)
        register_state_metrics(self.registry, self.store)
        self._correlators: dict[str, Correlator] = {}
        self._health: dict[str, tuple[str, tuple[str, ...]]] = {}
        app.agent(self.records, name="stage1-records")(self.stage1)
        app.agent(self.events, name="stage2-events")(self.stage2)
        app.timer(s.tick_seconds)(self.timer)
        app.timer(s.tick_seconds)(self.measure_lag)
        self._done: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset to process
        self.prober, self.probe_metrics = self._probe_setup()
        if self.prober is not None:
            app.timer(s.probe.interval_seconds, on_leader=True)(self.probe)
        app.task(self.quiet_clients)
        app.task(self.tune_gc)
        app.on_partitions_revoked.connect(self._on_rebalance)
        app.on_partitions_assigned.connect(self._on_rebalance)
        self._pages()

    # ------------------------------------------------------------------ batches
    def _caching(self) -> bool:
        """Decoded objects are cached only outside a rebalance (``_on_rebalance`` clears the caches)."""
        return not self.app.rebalancing

    @staticmethod
    @contextlib.contextmanager
    def _partition_of(event: EventT) -> Iterator[None]:
        """Table reads and writes inside the block go to ``event``'s partition. Faust picks a table key's
        partition (changelog partition, RocksDB file) from the task's current event, which is set per
        event by ``stream.events()`` but not by ``take_events`` (its buffer is filled by another task):
        a batch sets it to an event of the key's own partition before touching the key."""
        token = _current_event.set(weakref.ref(event))
        try:
            yield
        finally:
            _current_event.reset(token)

    def _batches(self, stream: Any) -> Any:
        """Up to ``batch_messages`` events at a time, waiting at most ``batch_seconds`` for more. Faust
        acks a batch's events, in order, once the loop body that processed them is done."""
        return stream.take_events(self.settings.batch_messages, within=self.settings.batch_seconds)

    # ------------------------------------------------------------------ stage 1
    def correlator(self, host: str) -> Correlator:
        correlator = self._correlators.get(host)
        if correlator is None:
            raw = self.correlators.get(host.encode())
            hold = self.settings.hold_seconds
            if raw is None:
                correlator = Correlator(host, fallback=self._fallback, hold_seconds=hold)
            else:
                correlator = Correlator.from_state(
                    orjson.loads(raw), fallback=self._fallback, hold_seconds=hold
                )
            if self._caching():
                self._correlators[host] = correlator
        return correlator

    def _fallback(self) -> tuple[int, str]:
        return site_fallback(self._correlators.values())

    async def stage1(self, stream: Any) -> Any:
        async for batch in self._batches(stream):
            yield await self.stage1_batch(batch)

    async def stage1_batch(self, batch: Sequence[EventT]) -> int:
        """Every message of the batch through its host's correlator (in order), then the events of the
        whole batch sent, one message per target server (``_send_events``), and only once the broker
        acknowledged them each host's correlator state written, once per batch."""
        hosts: dict[str, tuple[EventT, Correlator]] = {}
        events: list[Event] = []
        try:
            for event in batch:
                message = event.message
                self._done[(message.topic, message.partition)] = message.offset + 1
                shipped = self._records(event)
                if shipped is None:
                    continue
                host, ref, records, count = shipped
                self.metrics.records_in.inc(count)
                with self._partition_of(event):
                    correlator = hosts[host][1] if host in hosts else self.correlator(host)
                hosts[host] = (event, correlator)  # the host key's partition: its latest message's
                events.extend(correlator.feed_many(ref, records))
                await asyncio.sleep(0)  # a batch of big messages must not hold the loop (web, timers)
            await self._send_events(events)
        except BaseException:
            # events not (all) delivered: a cached correlator that moved past their records would
            # call the redelivered batch a replay; the next batch restores the saved state instead
            for host in hosts:
                self._correlators.pop(host, None)
            raise
        for host, (event, correlator) in hosts.items():
            with self._partition_of(event):
                self.correlators[host.encode()] = orjson.dumps(correlator.state())
        return len(events)

    def _records(self, event: EventT) -> tuple[str, FileRef, list[Any], int] | None:
        """(host, file, parsed records, how many records were shipped) of one wire message, parsed lean
        (runs of IIS requests no rule reads folded: ``wire.parse_records``); None for a malformed one
        (counted in ``mpwatch_malformed_total`` and logged with its partition and offset)."""
        message = event.message
        try:
            batch = wire.decode(event.value)
        except WireVersionError as exc:
            self.metrics.wire_version_rejected.inc()
            self.metrics.malformed.labels("wire_version").inc()
            log.warning("partition %s offset %s: skipped: %s", message.partition, message.offset, exc)
            return None
        except WireFormatError as exc:
            self.metrics.malformed.labels("wire_format").inc()
            log.warning(
                "partition %s offset %s: malformed, skipped: %s", message.partition, message.offset, exc
            )
            return None
        h = batch.header
        try:
            records = wire.parse_records(batch, lean=True)
        except Exception as exc:  # a parser failure on one batch must not stop the stream
            self.metrics.malformed.labels("parse").inc()
            log.warning(
                "partition %s offset %s: unparsable, skipped: %r", message.partition, message.offset, exc
            )
            return None
        host = canonical_server(h.host) or "UNKNOWN"
        return host, FileRef(h.file_id, h.name, h.kind), records, len(batch.records)

    async def _send_events(self, events: list[Event]) -> None:
        """Messages per target server (a JSON list of its events, in order, at most ``EVENTS_LIMIT``
        bytes each): a batch of records gives few servers, so this is a handful of sends instead of one
        per event. Returns once the broker acknowledged every one."""
        by_server: dict[str, list[bytes]] = {}
        for ev in events:
            by_server.setdefault(ev.server, []).append(orjson.dumps(ev.to_dict()))
        messages = [
            (server.encode(), value)
            for server, items in by_server.items()
            for value in _json_lists(items, EVENTS_LIMIT)
        ]
        delay = RETRY_FIRST_S
        while messages:
            try:
                futures = [await self.events.send(key=key, value=value) for key, value in messages]
                await asyncio.gather(*futures)  # acknowledged before the correlator state moves on
                return
            except Exception as exc:
                # The broker refused or timed out: the batch waits and every message is sent again
                # (repeats are idempotent). Letting it raise would end the batch, and Faust acks a
                # batch's messages even when its loop body failed: they would be lost.
                log.warning(
                    "%d events messages not delivered, again in %.1f s: %r", len(messages), delay, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    # ------------------------------------------------------------------ stage 2
    async def stage2(self, stream: Any) -> Any:
        async for batch in self._batches(stream):
            yield await self.stage2_batch(batch)

    async def stage2_batch(self, batch: Sequence[EventT]) -> int:
        """The batch's events grouped by server: each server's state loaded, applied to (idempotent) and
        saved once, and its health published once if it changed, however many messages it had."""
        groups: dict[tuple[int, str], tuple[EventT, list[Event]]] = {}
        for event in batch:
            message = event.message
            self._done[(message.topic, message.partition)] = message.offset + 1
            try:
                decoded = orjson.loads(event.value)
                items = decoded if isinstance(decoded, list) else [decoded]  # a list per server, or one
                events = [Event.from_dict(item) for item in items]
            except Exception as exc:  # not a message of stage 1 or the probe: must not stop the stream
                self.metrics.malformed.labels("event").inc()
                log.warning(
                    "partition %s offset %s: bad event, skipped: %r", message.partition, message.offset, exc
                )
                continue
            if not events:
                continue
            server = events[0].server
            mine = [ev for ev in events if ev.server == server]
            group = groups.get((message.partition, server))
            if group is None:
                groups[(message.partition, server)] = (event, mine)
            else:
                group[1].extend(mine)
                groups[(message.partition, server)] = (event, group[1])
        now = wall_clock_us()
        applied_total = 0
        for (_, server), (event, events) in groups.items():
            with self._partition_of(event):
                state = self.store.load(server) or ServerState(server)
                applied = 0
                try:
                    for ev in events:
                        if state.apply(ev):
                            applied += 1
                    if applied:
                        self.store.save(state)
                except BaseException:  # applied but not saved: the redelivery must not find it cached
                    self.store.cache.pop(server, None)
                    raise
            if applied:
                applied_total += applied
                self.metrics.events_in.inc(applied)
                await self._publish(state, now)
        return applied_total

    async def _publish(self, state: ServerState, now: int) -> None:
        if not state.mp:
            return
        row = api.summary(state, now)
        health = (row["state"], tuple(row["codes"]))
        if self._health.get(state.server) == health:
            return
        self._health[state.server] = health
        await self.health.send(key=state.server.encode(), value=orjson.dumps({"now": iso(now), **row}))

    async def quiet_clients(self) -> None:
        """Once Faust has set up logging: the Kafka client logs at the worker's level or above WARNING,
        never DEBUG (aiokafka built a debug record per produced event: about 6 % of stage 1's time)."""
        level = max(logging.WARNING, logging.getLevelName(self.settings.log_level.upper()))
        logging.getLogger("aiokafka").setLevel(level)

    async def tune_gc(self) -> None:
        """Once Faust has started: everything allocated so far (modules, Faust, aiokafka: long-lived)
        moves to the permanent generation, and young collections run every 20,000 allocations instead
        of 700, so a batch's records and events mostly die before they are promoted. Collections took
        0.5-0.6 s of the worker's CPU per 200,000 records of bench_worker (about 9 %), 0.04 s after."""
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)

    # ------------------------------------------------------------------ timer
    async def timer(self) -> None:
        now = wall_clock_us()
        for host in [_key(k) for k in list(self.correlators.keys())]:
            correlator = self.correlator(host)
            # Faust lets only a stream write a table: the timer changes the cached correlator only, and
            # the table catches up at that host's next batch. Until then a restart restores the held
            # records and releases them again: the same events, ignored by ServerState.apply.
            await self._send_events(correlator.tick(now))
        for state in self.store.servers():
            await self._publish(state, now)
        self.metrics.table_size.labels("correlators").set(len(self.correlators))
        self.metrics.table_size.labels("servers").set(len(self.servers))

    def _probe_setup(self) -> tuple[Prober | None, ProbeMetrics | None]:
        p = self.settings.probe
        if not p.servers:
            return None, None
        targets = [parse_target(text, p.https) for text in p.servers]
        prober = Prober(targets, timeout=p.timeout_seconds, ca=p.ca_file or None, concurrency=p.concurrency)
        return prober, ProbeMetrics(self.registry)

    async def probe(self) -> None:
        """The leader's probe round (``streams.probe``): the answers go to the events topic keyed by
        server, so stage 2 applies them like log events; the gauges are the leader's. A Faust timer
        that raises crashes the app: a failed round is logged and the next one tries again."""
        if self.prober is None:
            return
        try:
            await probe_round(self.prober, self._send_events, self.probe_metrics)
        except Exception as exc:
            log.error("probe round failed: %r", exc)

    async def measure_lag(self) -> None:
        """``mpwatch_consumer_lag_records{topic,partition}``: the partition's end offset (asked of the
        broker) minus the next offset this worker will process, for the two source topics' partitions it
        holds now. Before a partition's first message the committed position stands in. A Faust timer
        that raises crashes the app, so nothing here may: a partition revoked mid-measurement (aiokafka's
        IllegalStateError) or a broker away keeps the last figures until the next tick."""
        consumer = self.app.consumer
        sources = {self.settings.topics.records, self.settings.topics.events}
        held = [tp for tp in consumer.assignment() if tp.topic in sources]
        if not held:
            return
        try:
            ends = await consumer.highwaters(*held)
        except Exception as exc:
            log.warning("consumer lag not measured: %r", exc)
            return
        for tp in held:
            try:
                done = self._done.get((tp.topic, tp.partition))
                if done is None:
                    done = await consumer.position(tp)
            except Exception as exc:  # revoked since assignment() was read: its new owner reports it
                log.debug("consumer lag of %s not measured: %r", tp, exc)
                continue
            end = ends.get(tp)
            if end is not None and done is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, end - done))

    async def _on_rebalance(self, *args: Any, **kwargs: Any) -> None:
        self.metrics.rebalances.inc()
        held = {(tp.topic, tp.partition) for tp in self.app.consumer.assignment()}
        for key in [k for k in self._done if k not in held]:
            del self._done[key]
        self.metrics.lag.clear()  # partitions that moved away are another worker's to report
        self._correlators.clear()
        self.store.cache.clear()
        if self.probe_metrics is not None and not self.app.is_leader():  # the new leader probes now
            self.probe_metrics.success.clear()
            self.probe_metrics.duration.clear()

    # ------------------------------------------------------------------ web
    def _pages(self) -> None:
        app, worker = self.app, self

        def error(view: View, exc: ApiError) -> Response:
            return view.json(exc.body, status=exc.status)

        @app.page("/api/servers")
        class ServerList(View):
            async def get(self, request: Request) -> Response:
                try:
                    now = api.parse_now(request.query.get("now")) or wall_clock_us()
                except ApiError as exc:
                    return error(self, exc)
                parts = [api.rows_of(worker.store.servers(), now)]
                parts += await worker._remote_rows(request)
                rows = api.merge_rows(parts)
                return self.json({"now": iso(now), "counts": api.count_states(rows), "servers": rows})

        @app.page("/api/servers/local")
        class LocalRows(View):
            async def get(self, request: Request) -> Response:
                try:
                    now = api.parse_now(request.query.get("now")) or wall_clock_us()
                except ApiError as exc:
                    return error(self, exc)
                return self.json({"servers": api.rows_of(worker.store.servers(), now)})

        @app.page("/api/servers/{server}")
        class OneServer(View):
            async def get(self, request: Request, server: str) -> Response:
                try:
                    name = api.check_name(server)
                    now = api.parse_now(request.query.get("now"))
                except ApiError as exc:
                    return error(self, exc)
                try:
                    return await worker.route(name, self.web, request)
                except SameNode:
                    pass
                except Exception as exc:  # no assignment yet (starting, rebalancing): answer locally
                    log.warning("routing %s: %r", name, exc)
                try:
                    return self.json(api.get_server(worker.store, name, now))
                except ApiError as exc:
                    return error(self, exc)

        @app.page("/api/openapi.json")
        class OpenApi(View):
            async def get(self, request: Request) -> Response:
                return self.json(api.openapi())

        @app.page("/-/healthy")
        class Healthy(View):  # liveness probe (Docker HEALTHCHECK), the same path as mpwatch run's
            async def get(self, request: Request) -> Response:
                return self.text("ok\n")

        @app.page("/metrics")
        class Metrics(View):
            async def get(self, request: Request) -> Response:
                return self.bytes(
                    generate_latest(worker.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0]
                )

    def owner(self, server: str) -> URL | None:
        """Web URL of the worker owning ``server`` in table ``servers`` (None: not assigned yet).

        ``app.router.key_store`` asks the producer's metadata for the changelog's partition count, which
        a worker that never wrote to that changelog does not have (TypeError); every topic has
        ``settings.partitions`` partitions, so the partition is computed with the producer's own
        partitioner and looked up in the assignor's partition -> URL map."""
        partitions = list(range(self.settings.partitions))
        partition = DefaultPartitioner()(server.encode(), partitions, partitions)
        url = self.app.assignor._tps_url.get(TP(self.servers.changelog_topic.get_topic_name(), partition))  # type: ignore[attr-defined]
        return URL(url) if url else None

    def owns(self, server: str) -> bool:
        """True when this worker owns ``server`` (or nobody is known to: before the first assignment)."""
        url = self.owner(server)
        return url is None or self.app.router._urlident(url) == self.app.router._urlident(  # type: ignore[attr-defined]
            self.app.conf.canonical_url
        )

    async def route(self, server: str, web: Any, request: Request) -> Response:
        """Forward to the owner of ``server``; SameNode when that is this worker or none is known."""
        url = self.owner(server)
        if url is None:
            raise SameNode()
        return await self.app.router._route_req(url, web, request)  # type: ignore[attr-defined]

    async def _remote_rows(self, request: Request) -> list[list[dict[str, Any]]]:
        """Rows of every other worker holding partitions of ``servers``."""
        me = str(self.app.conf.canonical_url).rstrip("/")
        try:
            urls = {str(url).rstrip("/") for url in self.app.router.table_metadata(self.servers.name)}
        except Exception:  # no assignment yet
            return []
        out: list[list[dict[str, Any]]] = []
        for url in sorted(urls - {me}):
            target = f"{url}/api/servers/local"
            if "now" in request.query:
                target += f"?now={request.query['now']}"
            try:
                async with self.app.http_client.get(
                    target, timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    out.append((await response.json())["servers"])
            except Exception as exc:
                log.warning("cannot gather rows from %s: %r", url, exc)
        return out


def _json_lists(items: list[bytes], limit: int) -> Iterator[bytes]:
    """JSON lists of the serialised ``items``, in order, each at most ``limit`` bytes (an item longer than
    that on its own)."""
    start, size = 0, 2
    for i, item in enumerate(items):
        if i > start and size + len(item) + 1 > limit:
            yield b"[" + b",".join(items[start:i]) + b"]"
            start, size = i, 2
        size += len(item) + 1
    if start < len(items):
        yield b"[" + b",".join(items[start:]) + b"]"


def build_app(settings: WorkerSettings) -> faust.App:
    """The Faust app of one worker (see the module docstring); ``app.mpwatch`` is its ``Worker``."""
    worker = Worker(settings)
    worker.app.mpwatch = worker  # type: ignore[attr-defined]
    return worker.app
