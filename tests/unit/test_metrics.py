"""streams.metrics over the fixture log sets: per-server series derived at scrape time agree with
``mpwatch diagnose``, never double count (replays, restarts, any order) and use bounded labels."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.core import kinds as K
from streams.core.events import Event
from streams.core.reducer import Reducer, ServerState
from streams.core.view import build_view
from streams.engine import RunResult
from streams.loader import discover
from streams.metrics import (
    N_STEPS,
    PIPELINE_METRICS,
    STATE_METRICS,
    STATES,
    STEP_NAMES,
    PipelineMetrics,
    register_state_metrics,
)
from streams.offline import run
from streams.store import MemoryStore
from tests.fixtures.logsets import SCENARIOS, write_logset

MP1 = "MGTPOINT1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    root = tmp_path_factory.mktemp("logsets")
    return {name: run(discover([str(write_logset(name, root))])) for name in SCENARIOS}


def registry_for(states: dict[str, ServerState], now: int | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    register_state_metrics(registry, MemoryStore(states, now=now))
    return registry


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as (name, sorted labels) -> value."""
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def of(result: RunResult) -> dict:
    return scrape(registry_for(result.reducer.servers, result.now))


def test_retrying_counts_every_1013_without_1015(runs: dict[str, RunResult]) -> None:
    samples = of(runs["install_retrying"])
    assert value(samples, "mpwatch_status_1013_since_1015", server=MP1) == 3
    assert value(samples, "mpwatch_install_attempts_since_success", server=MP1) == 3
    assert (
        value(samples, "mpwatch_status_messages_total", server=MP1, message_id="1013", severity="info") == 3
    )
    assert (
        value(samples, "mpwatch_status_messages_total", server=MP1, message_id="1015", severity="info")
        is None
    )
    assert value(samples, "mpwatch_diagnosis_active", server=MP1, code="INSTALL_RETRYING") == 1
    assert value(samples, "mpwatch_server_state", server=MP1, state="stuck") == 1
    assert sum(value(samples, "mpwatch_server_state", server=MP1, state=s) or 0 for s in STATES) == 1
    # each attempt dies when the bootstrap service does not start: the current one got that far
    assert value(samples, "mpwatch_install_step", server=MP1) == STEP_NAMES.index("bootstrap started") + 1
    assert value(samples, "mpwatch_install_duration_seconds_count") == 0
    assert value(samples, "mpwatch_last_verification_timestamp_seconds", server=MP1) is None


def test_successful_install_is_through_every_step(runs: dict[str, RunResult]) -> None:
    result = runs["success"]
    samples = of(result)
    assert value(samples, "mpwatch_status_1013_since_1015", server=MP1) == 0
    assert value(samples, "mpwatch_install_attempts_since_success", server=MP1) == 0
    assert value(samples, "mpwatch_server_state", server=MP1, state="healthy") == 1
    assert not [k for k in samples if k[0] == "mpwatch_diagnosis_active"]
    assert value(samples, "mpwatch_install_step", server=MP1) == N_STEPS
    assert value(samples, "mpwatch_verification_failing", server=MP1) == 0
    state = result.reducer.servers[MP1]
    oks = [e for e in state.events() if e.kind == K.HTTP_VERIFY and e.variant == "200"]
    assert value(samples, "mpwatch_mp_verifications_total", server=MP1, result="200") == len(oks)
    assert value(samples, "mpwatch_last_verification_timestamp_seconds", server=MP1) == oks[-1].ts / 1e6
    events = state.events()
    first_1013 = next(e for e in events if e.kind == K.INSTALL_PENDING)
    the_1015 = next(e for e in events if e.kind in K.CONFIRMED)  # 1015 or SiteComp success
    duration = (the_1015.ts - first_1013.ts) / 1e6
    assert value(samples, "mpwatch_install_last_duration_seconds", server=MP1) == pytest.approx(duration)
    assert duration < 600  # the seed: about 8 minutes
    assert value(samples, "mpwatch_install_duration_seconds_bucket", le="600.0") == 1
    assert value(samples, "mpwatch_install_duration_seconds_bucket", le="300.0") == 0
    assert value(samples, "mpwatch_install_duration_seconds_count") == 1
    # the site server only runs SiteComp: not a management point, not exported
    assert not [k for k in samples if ("server", "SERVER1") in k[1]]


def test_failing_verifications(runs: dict[str, RunResult]) -> None:
    samples = of(runs["mp_not_responding"])
    assert value(samples, "mpwatch_verification_failing", server=MP1) == 1
    assert value(samples, "mpwatch_mp_verifications_total", server=MP1, result="200") == 3
    assert (value(samples, "mpwatch_mp_verifications_total", server=MP1, result="503") or 0) >= 3
    assert value(samples, "mpwatch_diagnosis_active", server=MP1, code="MP_NOT_RESPONDING") == 1


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_state_and_diagnoses_agree_with_diagnose(runs: dict[str, RunResult], name: str) -> None:
    result = runs[name]
    samples = of(result)
    view = build_view(result.reducer, result.now)
    for server in view["servers"]:
        exported = {
            s for s in STATES if value(samples, "mpwatch_server_state", server=server["server"], state=s)
        }
        assert exported == {server["state"]}
        codes = {
            dict(k[1])["code"]
            for k in samples
            if k[0] == "mpwatch_diagnosis_active" and dict(k[1])["server"] == server["server"]
        }
        assert codes == {d["code"] for d in server["diagnoses"]}
    exported_servers = {dict(k[1]).get("server") for k in samples} - {None}
    assert exported_servers == {s["server"] for s in view["servers"]}


def test_replays_restarts_and_order_never_change_a_scrape(runs: dict[str, RunResult]) -> None:
    result = runs["install_retrying"]
    before = generate_latest(registry_for(result.reducer.servers, result.now))
    events = [e for s in result.reducer.servers.values() for e in s.events()]
    for state in result.reducer.servers.values():  # a shipper crash: everything delivered again
        assert not any(state.apply(e) for e in state.events())
    assert generate_latest(registry_for(result.reducer.servers, result.now)) == before
    restored = Reducer.from_dict(result.reducer.to_dict())  # a worker restarted from its changelog
    assert generate_latest(registry_for(restored.servers, result.now)) == before
    shuffled = Reducer()
    random.Random(7).shuffle(events)
    shuffled.apply_all(events)
    assert generate_latest(registry_for(shuffled.servers, result.now)) == before
    registry = registry_for(result.reducer.servers, result.now)
    assert generate_latest(registry) == generate_latest(registry)  # scraping twice counts nothing


def test_now_comes_from_the_store(runs: dict[str, RunResult]) -> None:
    result = runs["install_not_confirmed"]
    assert result.now is not None
    later = of(result)
    assert value(later, "mpwatch_diagnosis_active", server=MP1, code="INSTALL_NOT_CONFIRMED") == 1
    first_1013 = next(e for e in result.reducer.servers[MP1].events() if e.kind == K.INSTALL_PENDING)
    early = scrape(registry_for(result.reducer.servers, first_1013.ts + 60_000_000))
    assert value(early, "mpwatch_diagnosis_active", server=MP1, code="INSTALL_NOT_CONFIRMED") is None
    assert value(early, "mpwatch_status_1013_since_1015", server=MP1) == 1


def _verify(i: int, variant: str) -> Event:
    return Event(
        K.HTTP_VERIFY,
        MP1,
        1_000_000_000 * (i + 1),
        MP1,
        "mpcontrol.log",
        i * 16,
        variant=variant,
        prev=(i - 1) * 16,
        mp=True,
    )


def test_counts_are_exact_over_compressed_series() -> None:
    state = ServerState(MP1)
    for i in range(200):
        state.apply(_verify(i, "200" if i < 150 else "503"))
    assert state.series[(K.HTTP_VERIFY, "200")].n_mid > 0  # the reducer kept only a few of them
    samples = scrape(registry_for({MP1: state}, 10**12))
    assert value(samples, "mpwatch_mp_verifications_total", server=MP1, result="200") == 150
    assert value(samples, "mpwatch_mp_verifications_total", server=MP1, result="503") == 50
    assert value(samples, "mpwatch_verification_failing", server=MP1) == 1
    assert value(samples, "mpwatch_last_verification_timestamp_seconds", server=MP1) == 150 * 1000


def test_every_documented_name_is_exported(runs: dict[str, RunResult]) -> None:
    registry = registry_for(runs["success"].reducer.servers, runs["success"].now)
    pipeline = PipelineMetrics(registry)
    pipeline.malformed.labels("wire_format").inc()
    pipeline.lag.labels("mpwatch-records", "0").set(3)
    pipeline.table_size.labels("servers").set(1)
    names = {family.name for family in text_string_to_metric_families(generate_latest(registry).decode())}
    for name in STATE_METRICS + PIPELINE_METRICS:
        assert name.removesuffix("_total") in names, name
    PipelineMetrics(CollectorRegistry())  # one set per registry: a second app does not clash
