"""The streaming Correlator: fed one record at a time, in any chunking, with state round trips and
replayed batches, it gives exactly what the offline engine (the oracle) gives; its state stays bounded;
local-time records wait for the host's offset and then fall back as documented."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.correlator import (
    HOLD_LIMIT,
    HOLD_SECONDS,
    MAX_FILES,
    MAX_STREAMS,
    Correlator,
    FileRef,
    site_fallback,
)
from streams.core.events import Event
from streams.core.reducer import Reducer
from streams.core.view import build_view
from streams.formats.api import parse_bytes
from streams.formats.record import Record
from streams.loader import discover
from streams.offline import run
from tests.fixtures.logsets import SCENARIOS, write_logset

CASES = tuple(SCENARIOS)  # every fixture log set


def _files(folder: Path) -> list[tuple[str, FileRef, list[Record]]]:
    """(host, file, records) for every file of a log set, in the offline reading order."""
    out = []
    for source in sorted(discover([str(folder)]), key=lambda s: s.order):
        with source.open() as handle:
            records = list(parse_bytes(handle.read(), source.file_id))
        out.append((source.host, FileRef(source.file_id, source.file_id, source.kind), records))
    return out


@pytest.fixture(scope="module")
def logsets(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[bytes, list[tuple[str, FileRef, list[Record]]], int | None]]:
    root = tmp_path_factory.mktemp("correlator")
    out = {}
    for name in CASES:
        folder = write_logset(name, root)
        result = run(discover([str(folder)]))
        out[name] = (orjson.dumps(result.view), _files(folder), result.now)
    return out


def _stream(files: list, cuts: list[int], replays: list[int], restarts: list[int]) -> tuple[bytes, int]:
    """Feed every record one chunk at a time through Correlators + a reducer, restoring the
    correlators from their state at the chosen chunk numbers and replaying the chosen chunks."""
    correlators: dict[str, Correlator] = {}
    reducer = Reducer()

    def fallback() -> tuple[int, str]:
        return site_fallback(correlators.values())

    chunk_no = 0
    for host, ref, records in files:
        start = 0
        cut_iter = iter(cuts)
        while start < len(records):
            size = max(1, next(cut_iter, len(records)))
            chunk = records[start : start + size]
            corr = correlators.setdefault(host, Correlator(host, fallback=fallback))
            events = corr.feed_many(ref, chunk)
            if chunk_no in replays:  # the same batch delivered again (a shipper crash)
                events += corr.feed_many(ref, chunk)
            reducer.apply_all(events)
            if chunk_no in restarts:  # a worker restart: the state is all that survives
                state = orjson.loads(orjson.dumps(correlators[host].state()))
                correlators[host] = Correlator.from_state(state, fallback=fallback)
            start += size
            chunk_no += 1
    final = site_fallback(correlators.values())
    latest = None
    for corr in correlators.values():
        reducer.apply_all(corr.finish(final))
        seen = corr.latest_ts()
        latest = seen if latest is None or (seen is not None and seen > latest) else latest
    return orjson.dumps(build_view(reducer.servers.values(), latest)), latest or 0


@pytest.mark.parametrize("name", CASES)
def test_record_at_a_time_equals_the_offline_engine(logsets: dict, name: str) -> None:
    oracle, files, now = logsets[name]
    view, latest = _stream(files, cuts=[1], replays=[], restarts=[])
    assert latest == now
    assert view == oracle


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(CASES),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    replays=st.lists(st.integers(0, 80), max_size=6),
    restarts=st.lists(st.integers(0, 80), max_size=8),
)
def test_any_chunking_restarts_and_replays_give_the_oracle(
    logsets: dict, name: str, cuts: list[int], replays: list[int], restarts: list[int]
) -> None:
    oracle, files, _now = logsets[name]
    view, _ = _stream(files, cuts, replays, restarts)
    assert view == oracle


def _iis(day: int, n: int = 3) -> tuple[FileRef, list[Record]]:
    name = f"W3SVC1/u_ex{day:06d}.log"
    ref = FileRef(f"iis-{day}", name, "iis")
    base = datetime(2004, 12, 6, 10, 0) + timedelta(days=day)
    lines = "#Fields: date time cs-method cs-uri-stem sc-status\r\n" + "".join(
        f"{(base + timedelta(minutes=i)):%Y-%m-%d %H:%M:%S} GET /SMS_MP/.sms_aut 401\r\n" for i in range(n)
    )
    return ref, list(parse_bytes(lines.encode(), name))


def test_state_stays_bounded_across_a_thousand_daily_iis_files() -> None:
    corr = Correlator("MGTPOINT1")
    sizes = []
    events = 0
    for day in range(1000):
        ref, records = _iis(day)
        events += len(corr.feed_many(ref, records))
        if day % 100 == 99:
            sizes.append(len(orjson.dumps(corr.state())))
    assert events >= 1000  # the files were understood: each 401 on /SMS_MP/ is an event
    state = corr.state()
    assert len(state["last"]) <= MAX_FILES
    assert len(state["extractors"]) <= MAX_STREAMS
    assert max(sizes[4:]) <= min(sizes[4:]) * 1.1  # flat once the caps are reached
    assert corr.stats["streams_forgotten"] >= 1000 - MAX_STREAMS


def _mpsetup(n: int, start: datetime) -> list[Record]:
    text = "".join(
        f"<{(start + timedelta(seconds=i)):%m-%d-%Y %H:%M:%S}> MP Setup Started....\r\n" for i in range(n)
    )
    return list(parse_bytes(text.encode(), "MPSetup.log"))


def _mpcontrol(at: datetime, bias: int) -> list[Record]:
    line = (
        "Http verification .sms_aut succeeded with status code 200, OK  "
        f"$$<SMS_MP_CONTROL_MANAGER><{at:%m-%d-%Y %H:%M:%S}.000{bias:+d}><thread=1 (0x1)>\r\n"
    )
    return list(parse_bytes(line.encode(), "MPControl.log"))


SETUP = FileRef("setup", "SMS/Logs/MPSetup.log", "mpsetup")
CONTROL = FileRef("control", "SMS/Logs/MPControl.log", "mpcontrol")


def test_local_times_wait_for_the_hosts_offset_then_use_it() -> None:
    corr = Correlator("MGTPOINT1")
    local = datetime(2004, 12, 6, 13, 30)
    assert corr.feed_many(SETUP, _mpsetup(3, local)) == []  # no offset known yet: held
    assert corr.held == 3
    events = corr.feed_many(CONTROL, _mpcontrol(datetime(2004, 12, 6, 13, 40), 300))  # UTC-5
    setup = [e for e in events if e.file == SETUP.name]
    assert len(setup) == 3 and corr.held == 0
    assert all(e.inferred for e in setup)
    assert datetime.utcfromtimestamp(setup[0].ts / 1e6) == local + timedelta(hours=5)


def test_held_records_fall_back_after_the_wait_and_at_the_end() -> None:
    corr = Correlator("MGTPOINT1", fallback=lambda: (60, "site"))
    corr.feed_many(SETUP, _mpsetup(2, datetime(2004, 12, 6, 13, 30)))
    assert corr.tick(1_000_000) == []  # the wait starts
    assert corr.tick(1_000_000 + (HOLD_SECONDS - 1) * 1_000_000) == []
    released = corr.tick(1_000_000 + HOLD_SECONDS * 1_000_000)
    assert len(released) == 2 and corr.fallback_used == (60, "site")
    assert datetime.utcfromtimestamp(released[0].ts / 1e6) == datetime(2004, 12, 6, 12, 30)
    # once settled by the fallback, later local records are placed at once, not held again
    assert len(corr.feed_many(SETUP, _mpsetup(3, datetime(2004, 12, 6, 14, 0))[2:])) == 1


def test_the_hold_is_bounded_in_records() -> None:
    corr = Correlator("MGTPOINT1")
    records = _mpsetup(HOLD_LIMIT + 5, datetime(2004, 12, 6, 13, 30))
    events: list[Event] = []
    for record in records:
        events.extend(corr.feed(SETUP, record))
    assert corr.held < HOLD_LIMIT
    assert len(events) == len(records) - corr.held
    assert corr.fallback_used == (0, "utc")


def test_a_held_record_survives_a_restart() -> None:
    corr = Correlator("MGTPOINT1")
    corr.feed_many(SETUP, _mpsetup(2, datetime(2004, 12, 6, 13, 30)))
    restored = Correlator.from_state(orjson.loads(orjson.dumps(corr.state())))
    assert restored.held == 2
    events = restored.feed_many(CONTROL, _mpcontrol(datetime(2004, 12, 6, 13, 40), 300))
    assert len([e for e in events if e.file == SETUP.name]) == 2


def test_records_at_or_below_the_last_offset_are_ignored() -> None:
    corr = Correlator("MGTPOINT1")
    records = _mpcontrol(datetime(2004, 12, 6, 13, 40), 300)
    assert len(corr.feed_many(CONTROL, records)) == 1
    assert corr.feed_many(CONTROL, records) == []
    assert corr.stats["replayed"] == 1
    # another identity (the file was truncated and rewritten) is a new file
    assert len(corr.feed_many(FileRef("control-2", CONTROL.name, "mpcontrol"), records)) == 1
