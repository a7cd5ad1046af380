"""The worker's probe loop, wired but without a broker: settings from TOML, environment and flags; the
leader-only timer; a round's events sent keyed by server the way stage 2 reads them; a failing round
never raises (a Faust timer that raises crashes the app). The Kafka suites run the real thing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest

from streams.core.events import Event
from streams.core.reducer import ServerState
from streams.core.rules import evaluate
from streams.errors import WorkerError
from streams.worker.app import Worker
from streams.worker.settings import load_settings
from tests.fake_mp import FakeMP


def settings(tmp_path: Path, **overrides: Any) -> Any:
    return load_settings(
        None, {"store": "memory://", "data_dir": str(tmp_path / "data"), **overrides}, environ={}
    )


def test_probe_settings_from_toml_environment_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "worker.toml"
    config.write_text(
        '[probe]\nservers = ["mgtpoint1", "MP2=https://10.0.0.2:8443"]\ninterval_seconds = 120\n'
    )
    s = load_settings(str(config), environ={})
    assert s.probe.servers == ["mgtpoint1", "MP2=https://10.0.0.2:8443"] and s.probe.interval_seconds == 120.0
    s = load_settings(str(config), environ={"MPWATCH_PROBE": "a, b", "MPWATCH_PROBE_HTTPS": "yes"})
    assert s.probe.servers == ["a", "b"] and s.probe.https is True
    s = load_settings(str(config), {"probe.servers": ["c"], "probe.interval_seconds": 30.0}, environ={})
    assert s.probe.servers == ["c"] and s.probe.interval_seconds == 30.0
    assert load_settings(None, environ={}).probe.servers == []
    bad = [
        ({"MPWATCH_PROBE": "no such host!"}, "probe.servers"),
        ({"MPWATCH_PROBE": "a,A"}, "more than once"),
        ({"MPWATCH_PROBE_INTERVAL": "soon"}, "MPWATCH_PROBE_INTERVAL"),
        ({"MPWATCH_PROBE_INTERVAL": "0"}, "probe.interval_seconds"),
        ({"MPWATCH_PROBE_TIMEOUT": "nan"}, "probe.timeout_seconds"),
        ({"MPWATCH_PROBE_TIMEOUT": "1e9"}, "probe.timeout_seconds"),
        ({"MPWATCH_PROBE_HTTPS": "maybe"}, "MPWATCH_PROBE_HTTPS"),
        ({"MPWATCH_PROBE_CA": str(tmp_path / "none.pem")}, "probe.ca_file"),
    ]
    for environ, message in bad:
        with pytest.raises(WorkerError, match=message):
            load_settings(None, environ=environ)


def test_the_probe_timer_exists_only_when_mps_are_configured(tmp_path: Path) -> None:
    names = [getattr(t, "__name__", "") for t in Worker(settings(tmp_path)).app._app_tasks]
    assert "probe" not in names
    worker = Worker(settings(tmp_path, **{"probe.servers": ["MP1=http://127.0.0.1:1"]}))
    assert "probe" in [getattr(t, "__name__", "") for t in worker.app._app_tasks]
    assert worker.prober is not None and [t.server for t in worker.prober.targets] == ["MP1"]


async def test_a_probe_round_sends_events_stage_2_applies(tmp_path: Path) -> None:
    with FakeMP("later") as mp:
        worker = Worker(
            settings(tmp_path, **{"probe.servers": [f"MGTPOINT1={mp.url}"], "probe.timeout_seconds": 5.0})
        )
        sent: list[list[Event]] = []

        async def capture(events: list[Event]) -> None:
            sent.append(events)

        worker._send_events = capture  # type: ignore[method-assign]
        await worker.probe()
        assert worker.prober is not None
        await worker.prober.close()
    (events,) = sent
    assert {e.server for e in events} == {"MGTPOINT1"} and len(events) == 2
    state = ServerState("MGTPOINT1")  # what stage 2 does with the message: from_dict, apply
    for item in orjson.loads(orjson.dumps([e.to_dict() for e in events])):
        assert state.apply(Event.from_dict(item))
    assert evaluate(state.events(), events[-1].ts).state == "healthy"
    scraped = generate_latest(worker.registry).decode()
    assert 'mpwatch_probe_success{check="mpcert",server="MGTPOINT1"} 1.0' in scraped


async def test_a_failing_round_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker(
        settings(tmp_path, **{"probe.servers": ["MP1=http://127.0.0.1:1"], "probe.timeout_seconds": 1.0})
    )

    async def broken(events: list[Event]) -> None:
        raise RuntimeError("broker away")

    worker._send_events = broken  # type: ignore[method-assign]
    await worker.probe()
    assert worker.prober is not None
    await worker.prober.close()
    assert "probe round failed" in caplog.text
