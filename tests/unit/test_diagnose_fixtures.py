"""The whole offline path over the fixture log sets: every code from its fixture and from no other,
success healthy, concurrent installs attributed right, and order/replay independence of the JSON."""

from __future__ import annotations

import random
import re
from pathlib import Path

import orjson
import pytest

from streams.core.catalogue import CODES
from streams.core.correlator import FileRef
from streams.core.events import Event
from streams.core.reducer import Reducer
from streams.core.view import build_view
from streams.engine import Engine
from streams.formats.api import parse_bytes
from streams.loader import Source, discover
from streams.offline import run
from tests.fixtures.logsets import SCENARIOS, write_logset

STYLES = ("numeric", "text")
CASES = [(name, style) for name in SCENARIOS for style in STYLES]
View = dict


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    out = {}
    for style in STYLES:
        root = tmp_path_factory.mktemp(f"logsets-{style}")
        for name in SCENARIOS:
            out[(name, style)] = write_logset(name, root, style=style)
    return out


@pytest.fixture(scope="module")
def views(folders: dict[tuple[str, str], Path]) -> dict[tuple[str, str], View]:
    return {case: run(discover([str(folder)])).view for case, folder in folders.items()}


def produced(view: View) -> dict[str, tuple[str, frozenset[str]]]:
    return {s["server"]: (s["state"], frozenset(d["code"] for d in s["diagnoses"])) for s in view["servers"]}


def events_by_file(folder: Path) -> tuple[dict[tuple[str, str], list[Event]], int | None]:
    """Every event of the offline engine, grouped by the file it came from (the file of each event)."""
    engine = Engine()
    grouped: dict[tuple[str, str], list[Event]] = {}
    engine.reducer.apply_all = lambda events: _group(grouped, events)  # type: ignore[method-assign]
    for source in sorted(discover([str(folder)]), key=lambda s: s.order):
        engine.feed(
            source.host, FileRef(source.file_id, source.file_id, source.kind), parse_bytes(_read(source))
        )
    engine.finish()
    return grouped, engine.stats.latest


def _group(grouped: dict[tuple[str, str], list[Event]], events: list[Event]) -> int:
    for ev in events:
        grouped.setdefault((ev.host, ev.file_id), []).append(ev)
    return len(events)


def _read(source: Source) -> bytes:
    with source.open() as handle:
        return handle.read()


def as_json(events: list[Event], now: int | None) -> bytes:
    reducer = Reducer()
    reducer.apply_all(events)
    return orjson.dumps(build_view(reducer, now))


@pytest.mark.parametrize(("name", "style"), CASES)
def test_fixture_gives_its_expected_states_and_codes(views: dict, name: str, style: str) -> None:
    scenario = SCENARIOS[name]
    expected = {server: (state, frozenset(codes)) for server, (state, codes) in scenario.expected.items()}
    assert produced(views[(name, style)]) == expected


def test_every_catalogue_code_has_its_fixture() -> None:
    assert {code.lower() for code in CODES} <= set(SCENARIOS)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("code", CODES)
def test_each_code_comes_from_its_fixture_and_from_no_other(views: dict, code: str, style: str) -> None:
    producers = {
        name
        for name in SCENARIOS
        if any(code in codes for _, codes in produced(views[(name, style)]).values())
    }
    declared = {
        name for name, s in SCENARIOS.items() if any(code in codes for _, codes in s.expected.values())
    }
    assert code.lower() in producers
    assert producers == declared  # e.g. concurrent_installs declares MGTPOINT2's TASK_SCHEDULER_DISABLED


@pytest.mark.parametrize("style", STYLES)
def test_success_ends_healthy_without_diagnosis(views: dict, style: str) -> None:
    servers = views[("success", style)]["servers"]
    assert [(s["server"], s["state"], s["diagnoses"]) for s in servers] == [("MGTPOINT1", "healthy", [])]
    kinds = {entry["kind"] for entry in servers[0]["timeline"]}
    assert {"nal_drive_probe", "install_pending", "install_confirmed", "http_verify"} <= kinds


@pytest.mark.parametrize("style", STYLES)
def test_concurrent_installs_in_one_sitecomp_log_are_attributed_right(views: dict, style: str) -> None:
    servers = {s["server"]: s for s in views[("concurrent_installs", style)]["servers"]}
    assert set(servers) == {"MGTPOINT1", "MGTPOINT2"}
    milestones = {
        "install_started",
        "drive_chosen",
        "install_dir_created",
        "files_installed",
        "bootstrap_started",
    }
    for name, server in servers.items():
        site_kinds = {e["kind"] for e in server["timeline"] if e["host"] == "SERVER1"}
        assert milestones <= site_kinds, name
        for entry in server["timeline"]:
            named = set(re.findall(r"MGTPOINT\d", entry["message"]))
            assert named <= {name}, (name, entry)
    assert "sitecomp_install_ok" in {e["kind"] for e in servers["MGTPOINT1"]["timeline"]}
    assert "sitecomp_install_ok" not in {e["kind"] for e in servers["MGTPOINT2"]["timeline"]}
    assert servers["MGTPOINT1"]["state"] == "healthy" and servers["MGTPOINT2"]["state"] == "failed"


@pytest.mark.parametrize(("name", "style"), CASES)
def test_shuffling_files_and_events_per_file_gives_identical_json(
    folders: dict, name: str, style: str
) -> None:
    grouped, now = events_by_file(folders[(name, style)])
    baseline = as_json([e for events in grouped.values() for e in events], now)
    rng = random.Random(f"{name}-{style}")
    for _ in range(3):
        files = list(grouped.values())
        rng.shuffle(files)
        shuffled = []
        for events in files:
            events = list(events)
            rng.shuffle(events)
            shuffled.extend(events)
        assert as_json(shuffled, now) == baseline


@pytest.mark.parametrize(("name", "style"), CASES)
def test_replaying_every_event_twice_gives_identical_json(folders: dict, name: str, style: str) -> None:
    grouped, now = events_by_file(folders[(name, style)])
    events = [e for file_events in grouped.values() for e in file_events]
    baseline = as_json(events, now)
    assert as_json(events + events, now) == baseline
    assert as_json([e for e in events for _ in range(2)], now) == baseline


@pytest.mark.parametrize("style", STYLES)
def test_reading_order_of_sources_does_not_matter(folders: dict, style: str) -> None:
    sources = discover([str(folders[("install_retrying", style)])])
    assert any(s.file_id.endswith(".lo_") for s in sources)
    forward = run(sources).view
    backward = run(list(reversed(sources))).view
    assert orjson.dumps(forward) == orjson.dumps(backward)
