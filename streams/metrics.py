"""Every metric name mpwatch's read side exports, for both shells (``mpwatch run`` and ``mpwatch worker``).

Two parts, each handed the application's own ``CollectorRegistry`` (never the global one):

``register_state_metrics(registry, store)``
    A collector that derives every per-server series from the ``StateStore`` *at scrape time*, with the
    same rules (``streams.core.rules.evaluate`` at ``store.now()``) as ``mpwatch diagnose``. Nothing is
    incremented as events arrive, so replays, duplicate deliveries and restarts that rebuild the state
    never double count; a worker that loses a partition simply stops exporting those servers (so
    dashboards and alerts aggregate with ``max by (server)``). Only servers the diagnose view shows
    (some management-point specific event) are exported. Labels are bounded: ``server``, ``state``
    (``STATES``), ``code`` (the catalogue), ``message_id``/``severity`` (status messages kept by the
    core: install milestones 1013/1014/1015, SQL access group failures, other warnings and errors and
    any status of the MP component), ``result`` (verification outcome: HTTP status such as ``200`` /
    ``401`` / ``503``, ``no_header``, or a WinInet error number such as ``12029``).

    ========================================================  =======  ==================================
    name                                                      type     meaning
    ========================================================  =======  ==================================
    mpwatch_server_state{server,state}                        gauge    1 for the current state, 0 others
    mpwatch_diagnosis_active{server,code}                     gauge    1 per active diagnosis (only those)
    mpwatch_status_messages_total{server,message_id,severity} counter  status messages seen
    mpwatch_status_last_timestamp_seconds{server,message_id}  gauge    time of the latest such message
    mpwatch_install_attempts_since_success{server}            gauge    SiteComp attempts since success
    mpwatch_status_1013_since_1015{server}                    gauge    1013s since the last 1015
    mpwatch_last_verification_timestamp_seconds{server}       gauge    latest *successful* (200) check
    mpwatch_verification_failing{server}                      gauge    1 when the latest check failed
    mpwatch_mp_verifications_total{server,result}             counter  MP HTTP verifications
    mpwatch_install_step{server}                              gauge    ``INSTALL_STEPS`` index reached
    mpwatch_install_last_duration_seconds{server}             gauge    latest install: start to 1015
    mpwatch_install_duration_seconds                          histo    every install: start to 1015
    ========================================================  =======  ==================================

    *1013 since 1015* counts the 1013 (install pending) status messages after the latest confirmation,
    where a SiteComp "Installation successful." counts as a confirmation too, exactly as the
    ``INSTALL_RETRYING`` rule does (so the alert and the diagnosis agree). *Attempts* counts SiteComp
    "Installing server" starts (or, for a server whose SiteComp log is absent, MPSetup starts) after
    the latest confirmation. An *install* runs from the first 1013 (or attempt start) after the previous
    confirmation to the 1015 that ends it, retries included; the seed says under 10 minutes is normal,
    hence the buckets around ``NORMAL_INSTALL_SECONDS``. Counts are exact: the reducer keeps a count of
    the events it compresses; only "since" counts past 64 kept events of one kind are lower bounds.

``PipelineMetrics(registry)``
    The pipeline's own figures, incremented by the shells: records and events in, malformed input by
    reason, wire messages of an unknown major version, consumer lag per partition, rebalances, table
    sizes.

``ProbeMetrics(registry)``
    The active MP probe's figures (``streams.probe``), set by the shell that probes after each check:
    ``mpwatch_probe_success{server,check}`` (gauge, 1 when the latest answer was what a healthy MP
    gives, else 0) and ``mpwatch_probe_duration_seconds{server,check}`` (gauge, how long the latest
    check took, time-outs included). ``check`` is ``mplist`` or ``mpcert``; ``server`` is a configured
    target, so the label set is bounded by the configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from streams.core import kinds as K
from streams.core.events import Event
from streams.core.reducer import Series, ServerState
from streams.core.rules import evaluate
from streams.store import StateStore

PREFIX = "mpwatch_"
# Every state the rules can give (streams.core.rules), worst first.
STATES = ("failed", "stuck", "degraded", "healthy", "installed", "installing", "pending", "unknown")
SEVERITIES = {"E": "error", "W": "warning", "I": "info"}
NORMAL_INSTALL_SECONDS = 600
DURATION_BUCKETS = (60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)

# The seed walkthrough, in order: mpwatch_install_step is the index (1..N) of the latest step the current
# attempt reached (0: nothing seen). A failed attempt stays at the step it got to; a new attempt (flagged
# again, 1013, "Installing server", or MPSetup starting again after the install had gone further)
# starts over. A successful verification counts as the last step once installed (or when only the
# MP's runtime logs are known).
INSTALL_STEPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("role assigned", frozenset({K.ROLE_ASSIGNED, K.COMPONENT_FLAGGED})),
    ("install pending (1013)", frozenset({K.INSTALL_PENDING})),
    ("installing (1014)", frozenset({K.INSTALL_STARTED, K.INSTALL_IN_PROGRESS})),
    ("install drive chosen", frozenset({K.DRIVE_CHOSEN})),
    ("install directory created", frozenset({K.INSTALL_DIR_CREATED})),
    ("files copied", frozenset({K.FILES_INSTALLED})),
    ("bootstrap started", frozenset({K.BOOTSTRAP_STARTED})),
    ("bootstrap executed", frozenset({K.BOOTSTRAP_EXECUTED})),
    ("MPSetup started", frozenset({K.MPSETUP_STARTED, K.MPSETUP_STEP})),
    ("mp.msi started", frozenset({K.MSI_STARTED})),
    ("mp.msi installed", frozenset({K.MSI_PRODUCT_OK, K.MPSETUP_OK})),
    ("bootstrap completed", frozenset({K.BOOTSTRAP_COMPLETED})),
    ("installed (1015)", frozenset({K.INSTALL_CONFIRMED, K.SITECOMP_INSTALL_OK})),
    ("verified (HTTP 200)", frozenset()),
)
STEP_NAMES = tuple(name for name, _ in INSTALL_STEPS)
N_STEPS = len(INSTALL_STEPS)
_STEP_OF = {kind: i for i, (_, kinds) in enumerate(INSTALL_STEPS, start=1) for kind in kinds}
_INSTALLED_STEP = STEP_NAMES.index("installed (1015)") + 1
_RESTARTS = frozenset(
    {K.ROLE_ASSIGNED, K.COMPONENT_FLAGGED, K.INSTALL_PENDING, K.INSTALL_STARTED, K.MPSETUP_STARTED}
)
_STATUS_KINDS = frozenset(
    {K.INSTALL_PENDING, K.INSTALL_IN_PROGRESS, K.INSTALL_CONFIRMED, K.SQL_ACCESS_GROUP_FAILED, K.STATUS}
)
_INSTALL_STARTS = frozenset({K.INSTALL_PENDING, K.INSTALL_STARTED})

# Names of every series this module exports (tests and dashboards check queries against them).
STATE_METRICS = (
    "mpwatch_server_state",
    "mpwatch_diagnosis_active",
    "mpwatch_status_messages_total",
    "mpwatch_status_last_timestamp_seconds",
    "mpwatch_install_attempts_since_success",
    "mpwatch_status_1013_since_1015",
    "mpwatch_last_verification_timestamp_seconds",
    "mpwatch_verification_failing",
    "mpwatch_mp_verifications_total",
    "mpwatch_install_step",
    "mpwatch_install_last_duration_seconds",
    "mpwatch_install_duration_seconds",
)


def _total(series: Series) -> int:
    return len(series.head) + len(series.tail) + series.n_mid


def _count_after(series: Series | None, key: Any) -> int:
    """Events of a series after ``key`` (all when None); compressed ones count when all lie after it."""
    if series is None:
        return 0
    if key is None:
        return _total(series)
    kept = sum(1 for e in series.events() if e.key > key)
    return kept + (series.n_mid if series.n_mid and series.mid_lo > key else 0)


def install_step(events: Iterable[Event]) -> int:
    """How far the current attempt got (1..N_STEPS, 0 when no step is known); events sorted by key."""
    step = 0
    for ev in events:
        kind = ev.kind
        if kind == K.HTTP_VERIFY and ev.variant == "200":
            if step == 0 or step >= _INSTALLED_STEP:
                step = N_STEPS
            continue
        if kind in (K.MSI_EXIT, K.MSI_ENGINE_RETURN) and ev.variant in K.SUCCESS_EXIT_CODES:
            index = _STEP_OF[K.MSI_PRODUCT_OK]
        else:
            found = _STEP_OF.get(kind)
            if found is None:
                continue
            index = found
        if index > step or (kind in _RESTARTS and index < step):  # further, or a new attempt
            step = index
    return step


def install_durations(events: Iterable[Event]) -> list[float]:
    """Seconds from each install's start (first 1013 / attempt start after the previous confirmation)
    to the confirmation that ends it; events sorted by key."""
    out: list[float] = []
    start: int | None = None
    for ev in events:
        if ev.kind in _INSTALL_STARTS:
            if start is None:
                start = ev.ts
        elif ev.kind in K.CONFIRMED and start is not None:
            out.append((ev.ts - start) / 1e6)
            start = None
    return out


class _Families:
    """The metric families of one scrape."""

    def __init__(self) -> None:
        p = PREFIX
        self.state = GaugeMetricFamily(
            p + "server_state",
            "1 for the server's current health state, 0 for the others",
            labels=["server", "state"],
        )
        self.diagnosis = GaugeMetricFamily(
            p + "diagnosis_active", "1 for each active diagnosis (catalogue code)", labels=["server", "code"]
        )
        self.status = CounterMetricFamily(
            p + "status_messages",
            "Status messages seen per server, message id and severity",
            labels=["server", "message_id", "severity"],
        )
        self.status_last = GaugeMetricFamily(
            p + "status_last_timestamp_seconds",
            "Unix time of the latest status message per server and message id",
            labels=["server", "message_id"],
        )
        self.attempts = GaugeMetricFamily(
            p + "install_attempts_since_success",
            "Install attempts started since the latest confirmed install",
            labels=["server"],
        )
        self.pending = GaugeMetricFamily(
            p + "status_1013_since_1015",
            "Status 1013 (install pending) messages since the latest 1015 (or SiteComp success)",
            labels=["server"],
        )
        self.last_ok = GaugeMetricFamily(
            p + "last_verification_timestamp_seconds",
            "Unix time of the latest successful (HTTP 200) MP verification",
            labels=["server"],
        )
        self.failing = GaugeMetricFamily(
            p + "verification_failing", "1 when the latest MP verification failed, else 0", labels=["server"]
        )
        self.verifications = CounterMetricFamily(
            p + "mp_verifications", "MP HTTP verifications by result", labels=["server", "result"]
        )
        self.step = GaugeMetricFamily(
            p + "install_step",
            f"Index (1..{N_STEPS}) of the latest install walkthrough step the current attempt reached: "
            + ", ".join(f"{i}={name}" for i, name in enumerate(STEP_NAMES, start=1)),
            labels=["server"],
        )
        self.last_duration = GaugeMetricFamily(
            p + "install_last_duration_seconds",
            "Seconds from the start to the confirmation (1015) of the server's latest install",
            labels=["server"],
        )
        self.durations: list[float] = []

    def all(self) -> list[Metric]:
        counts = [sum(1 for d in self.durations if d <= le) for le in DURATION_BUCKETS]
        histogram = HistogramMetricFamily(
            PREFIX + "install_duration_seconds",
            f"Install durations from start to 1015 (normal: under {NORMAL_INSTALL_SECONDS} s)",
            buckets=[(floatToGoString(le), c) for le, c in zip(DURATION_BUCKETS, counts, strict=True)]
            + [("+Inf", len(self.durations))],
            sum_value=sum(self.durations),
        )
        return [
            self.state,
            self.diagnosis,
            self.status,
            self.status_last,
            self.attempts,
            self.pending,
            self.last_ok,
            self.failing,
            self.verifications,
            self.step,
            self.last_duration,
            histogram,
        ]

    def add(self, state: ServerState, now: int) -> None:
        server = state.server
        events = state.events()
        verdict = evaluate(events, now)
        for name in STATES:
            self.state.add_metric([server, name], 1.0 if verdict.state == name else 0.0)
        for finding in verdict.findings:
            self.diagnosis.add_metric([server, finding.code], 1.0)
        self._status(state)
        confirmed = max((e.key for e in events if e.kind in K.CONFIRMED), default=None)
        self.pending.add_metric(
            [server], float(_count_after(state.series.get((K.INSTALL_PENDING, "")), confirmed))
        )
        started = _count_after(state.series.get((K.INSTALL_STARTED, "")), confirmed)
        if not started and (K.INSTALL_STARTED, "") not in state.series:
            started = _count_after(state.series.get((K.MPSETUP_STARTED, "")), confirmed)
        self.attempts.add_metric([server], float(started))
        self._verifications(state, events)
        self.step.add_metric([server], float(install_step(events)))
        durations = install_durations(events)
        if durations:
            self.last_duration.add_metric([server], durations[-1])
            self.durations.extend(durations)

    def _status(self, state: ServerState) -> None:
        totals: dict[tuple[str, str], int] = {}
        latest: dict[str, int] = {}
        for (kind, _variant), series in state.series.items():
            if kind not in _STATUS_KINDS:
                continue
            last = series.latest()
            if last is None:
                continue
            data = last.data or {}
            message_id = str(data.get("id", _variant))
            severity = SEVERITIES.get(str(data.get("sev", "")), "unknown")
            key = (message_id, severity)
            totals[key] = totals.get(key, 0) + _total(series)
            latest[message_id] = max(latest.get(message_id, 0), last.ts)
        for (message_id, severity), count in sorted(totals.items()):
            self.status.add_metric([state.server, message_id, severity], float(count))
        for message_id, ts in sorted(latest.items()):
            self.status_last.add_metric([state.server, message_id], ts / 1e6)

    def _verifications(self, state: ServerState, events: list[Event]) -> None:
        server = state.server
        results: dict[str, int] = {}
        for (kind, variant), series in state.series.items():
            if kind in K.VERIFY:
                results[variant or "unknown"] = results.get(variant or "unknown", 0) + _total(series)
        for result, count in sorted(results.items()):
            self.verifications.add_metric([server, result], float(count))
        ok = state.series.get((K.HTTP_VERIFY, "200"))
        last_ok = ok.latest() if ok is not None else None
        if last_ok is not None:
            self.last_ok.add_metric([server], last_ok.ts / 1e6)
        if results:
            last = max((e for e in events if e.kind in K.VERIFY), key=lambda e: e.key, default=None)
            failing = last is not None and not (last.kind == K.HTTP_VERIFY and last.variant == "200")
            self.failing.add_metric([server], 1.0 if failing else 0.0)


class StateCollector(Collector):
    """Derives the per-server families from a ``StateStore`` on every scrape (see the module doc)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def describe(self) -> Iterator[Metric]:
        return iter(_Families().all())

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        now = self.store.now()
        for state in sorted(self.store.servers(), key=lambda s: s.server):
            if state.mp:
                families.add(state, now)
        return iter(families.all())


def register_state_metrics(registry: CollectorRegistry, store: StateStore) -> None:
    """Serve every per-server series of ``store`` from ``registry`` (derived at scrape time)."""
    registry.register(StateCollector(store))


class PipelineMetrics:
    """The pipeline's own counters and gauges (the shells increment them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p = PREFIX
        self.registry = registry
        self.records_in = Counter(p + "records_in_total", "Raw log records taken in", registry=registry)
        self.events_in = Counter(p + "events_in_total", "Events applied to server states", registry=registry)
        self.malformed = Counter(
            p + "malformed_total", "Malformed input skipped, by reason", ["reason"], registry=registry
        )
        self.wire_version_rejected = Counter(
            p + "wire_version_rejected_total",
            "Wire messages rejected for an unknown major version",
            registry=registry,
        )
        self.lag = Gauge(
            p + "consumer_lag_records",
            "Messages behind the end offset of a source topic's partition",
            ["topic", "partition"],
            registry=registry,
        )
        self.rebalances = Counter(p + "rebalances_total", "Consumer group rebalances seen", registry=registry)
        self.table_size = Gauge(p + "table_size", "Keys held in a local table", ["table"], registry=registry)


PIPELINE_METRICS = (
    "mpwatch_records_in_total",
    "mpwatch_events_in_total",
    "mpwatch_malformed_total",
    "mpwatch_wire_version_rejected_total",
    "mpwatch_consumer_lag_records",
    "mpwatch_rebalances_total",
    "mpwatch_table_size",
)


class ProbeMetrics:
    """The active probe's gauges (latest result per configured server and check)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p = PREFIX
        self.success = Gauge(
            p + "probe_success",
            "1 when the latest probe of the MP URL answered as a healthy MP does, else 0",
            ["server", "check"],
            registry=registry,
        )
        self.duration = Gauge(
            p + "probe_duration_seconds",
            "Seconds the latest probe of the MP URL took (time-outs included)",
            ["server", "check"],
            registry=registry,
        )

    def observe(self, server: str, check: str, ok: bool, seconds: float) -> None:
        self.success.labels(server, check).set(1.0 if ok else 0.0)
        self.duration.labels(server, check).set(seconds)


PROBE_METRICS = ("mpwatch_probe_success", "mpwatch_probe_duration_seconds")
