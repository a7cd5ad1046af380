"""Log lines with no time of their own or of their file (Windows Installer 2.0 logs collected after
their banner) are placed from context and never lost, offline and streaming, across state round trips."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.core import kinds as K
from streams.core.correlator import AFTER_MSI_STARTED, HOLD_SECONDS, MAX_STREAMS, Correlator, FileRef
from streams.core.events import Event, to_us
from streams.core.view import INFERRED_MARK
from streams.formats.api import parse_bytes
from streams.formats.record import Record
from streams.loader import discover
from streams.offline import run
from tests.fixtures.logsets import write_logset

MSI = FileRef("msi", "SMS/Logs/MPMSI.log", "mpmsi")
SETUP = FileRef("setup", "SMS/Logs/MPSetup.log", "mpsetup")
CONTROL = FileRef("control", "SMS/Logs/MPControl.log", "mpcontrol")
# The seed's MPMSI.log excerpt: the banner's tail, then Windows Installer 2.0 lines without times.
EXCERPT = (
    "2.00.3790.00\r\n"
    "Calling process: D:\\SMS\\bin\\i386\\MPsetup.exe ===\r\n"
    "MSI (c) (A0:18): Resetting cached policy values\r\n"
    "MSI (c) (A0:18): Failed to grab execution mutex.\r\n"
    "System error 258.\r\n"
    "MSI (c) (A0:18): MainEngineThread is returning 1618\r\n"
)
INSTALLING = datetime(2004, 12, 2, 21, 51, 56, tzinfo=UTC)  # 16:51:56 at UTC-5


def _msi(text: str = EXCERPT) -> list[Record]:
    return list(parse_bytes(("\ufeff" + text).encode("utf-16-le"), "MPMSI.log"))


def _setup() -> list[Record]:
    text = (
        "<12-02-2004 16:51:50> MP Setup Started....\r\n"
        '<12-02-2004 16:51:56> Installing C:\\SMS\\bin\\i386\\\r\nmp.msi CCMINSTALLDIR="C:\\SMS_CCM"\r\n'
    )
    return list(parse_bytes(text.encode(), "MPSetup.log"))


def _control(minute: int) -> list[Record]:
    line = (
        "Http verification .sms_aut succeeded with status code 200, OK  "
        f"$$<SMS_MP_CONTROL_MANAGER><12-02-2004 17:{minute:02d}:00.000+300><thread=1 (0x1)>\r\n"
    )
    return list(parse_bytes(line.encode(), "MPControl.log"))


def _kinds(events: list[Event], ref: FileRef) -> list[str]:
    return [e.kind for e in events if e.file_id == ref.file_id]


def test_the_parser_gives_the_excerpt_no_time() -> None:
    records = _msi()
    assert records and all(r.time is None for r in records)


def test_timeless_msi_lines_are_placed_at_mpsetups_mp_msi_start() -> None:
    corr = Correlator("MGTPOINT1", tz=-300)
    assert corr.feed_many(MSI, _msi()) == []  # nothing in the file states a time: they wait
    assert corr.waiting == 2
    corr.feed_many(SETUP, _setup())
    released = corr.finish()
    assert _kinds(released, MSI) == [K.MSI_MUTEX_BUSY, K.MSI_ENGINE_RETURN]
    placed = {e.ts for e in released if e.file_id == MSI.file_id}
    assert placed == {to_us(INSTALLING) + AFTER_MSI_STARTED}
    assert all(e.inferred for e in released) and corr.stats["untimed"] == 0
    assert corr.stats["placed_from_context"] == 2


def test_without_mpsetup_the_hosts_other_logs_place_them() -> None:
    corr = Correlator("MGTPOINT1")
    corr.feed_many(MSI, _msi())
    corr.feed_many(CONTROL, _control(30))
    released = corr.finish()
    assert {e.ts for e in released} == {to_us(datetime(2004, 12, 2, 22, 30, tzinfo=UTC))}


def test_a_host_without_any_time_takes_the_inputs_latest_time() -> None:
    corr = Correlator("MGTPOINT1")
    corr.feed_many(MSI, _msi())
    latest = to_us(datetime(2004, 12, 2, 23, 0, tzinfo=UTC))
    released = corr.finish(latest=latest)
    assert [(e.kind, e.ts) for e in released] == [(K.MSI_MUTEX_BUSY, latest), (K.MSI_ENGINE_RETURN, latest)]


def test_only_when_nothing_has_a_time_are_they_counted_and_dropped() -> None:
    corr = Correlator("MGTPOINT1")
    corr.feed_many(MSI, _msi())
    assert corr.finish() == []
    assert corr.stats["untimed"] == 2


def test_a_banner_later_in_the_file_still_places_them_first() -> None:
    corr = Correlator("MGTPOINT1", tz=-300)
    corr.feed_many(SETUP, _setup())
    events = corr.feed_many(MSI, _msi(EXCERPT + "=== Verbose logging stopped: 12/2/2004  16:52:30 ===\r\n"))
    stopped = to_us(datetime(2004, 12, 2, 21, 52, 30, tzinfo=UTC))
    assert [(e.kind, e.ts) for e in events] == [(K.MSI_MUTEX_BUSY, stopped), (K.MSI_ENGINE_RETURN, stopped)]


def test_streaming_waits_the_hold_then_places_them_and_the_file_keeps_that_time() -> None:
    corr = Correlator("MGTPOINT1", tz=-300)
    corr.feed_many(SETUP, _setup())
    records = _msi()
    corr.feed_many(MSI, records[:-1])
    assert corr.tick(1_000_000) == []  # the wait starts
    corr = Correlator.from_state(orjson.loads(orjson.dumps(corr.state())))  # a restart meanwhile
    assert corr.waiting == 1
    assert corr.tick(1_000_000 + (HOLD_SECONDS - 1) * 1_000_000) == []
    released = corr.tick(1_000_000 + HOLD_SECONDS * 1_000_000)
    anchor = to_us(INSTALLING) + AFTER_MSI_STARTED
    assert [(e.kind, e.ts) for e in released] == [(K.MSI_MUTEX_BUSY, anchor)]
    later = corr.feed_many(MSI, records[-1:])  # the next timeless line of the file: at once, same time
    assert [(e.kind, e.ts, e.prev) for e in later] == [(K.MSI_ENGINE_RETURN, anchor, released[0].pos)]


def test_state_round_trip_keeps_the_mp_msi_start() -> None:
    corr = Correlator("MGTPOINT1", tz=-300)
    corr.feed_many(SETUP, _setup())
    restored = Correlator.from_state(orjson.loads(orjson.dumps(corr.state())))
    restored.feed_many(MSI, _msi())
    assert {e.ts for e in restored.finish()} == {to_us(INSTALLING) + AFTER_MSI_STARTED}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_logset("msi_log_without_times", tmp_path_factory.mktemp("timeless"))


def _server(folder: Path) -> dict:
    (server,) = run(discover([str(folder)])).view["servers"]
    return server


def test_the_fixture_diagnosis_carries_the_mpmsi_lines_at_the_mp_msi_start(folder: Path) -> None:
    server = _server(folder)
    assert server["state"] == "failed"
    (diagnosis,) = server["diagnoses"]
    assert diagnosis["code"] == "MSI_MUTEX_BUSY"
    from_msi = [e for e in diagnosis["evidence"] if e["file"].endswith("MPMSI.log")]
    assert len(from_msi) == 2
    started = next(e for e in server["timeline"] if e["kind"] == "msi_started")
    assert all(e["time"] > started["time"] for e in from_msi)
    shown = [e for e in server["timeline"] if e["file"].endswith("MPMSI.log")]
    assert shown and all(e["message"].endswith(INFERRED_MARK) for e in shown)


def test_without_mpsetup_log_the_mpmsi_lines_alone_give_the_diagnosis(folder: Path) -> None:
    (folder / "MGTPOINT1/SMS/Logs/MPSetup.log").unlink()
    server = _server(folder)
    assert (server["state"], [d["code"] for d in server["diagnoses"]]) == ("failed", ["MSI_MUTEX_BUSY"])


def test_a_forgotten_file_or_stream_hands_its_waiting_lines_out_first() -> None:
    corr = Correlator("MGTPOINT1")
    corr.feed_many(MSI, _msi())
    corr.feed_many(CONTROL, _control(30))
    released: list[Event] = []
    for n in range(MAX_STREAMS + 1):  # every other stream fed since: the MPMSI stream is forgotten
        name = f"SMS/Logs/other{n}.log"
        released.extend(corr.feed_many(FileRef(name, name, "mpcontrol"), _control(31)))
    assert _kinds(released, MSI) == [K.MSI_MUTEX_BUSY, K.MSI_ENGINE_RETURN]
    assert corr.waiting == 0 and corr.finish() == [] and corr.stats["untimed"] == 0


def test_streaming_places_them_only_after_held_local_times_are_released() -> None:
    """A host that states no UTC offset: MPSetup's lines wait for the fallback, and the timeless MPMSI
    lines wait for them (they carry the mp.msi start), so live shells place them as offline does."""
    corr = Correlator("MGTPOINT1", fallback=lambda: (-300, "site"))
    corr.feed_many(MSI, _msi())
    corr.feed_many(SETUP, _setup())
    iis = (
        "#Fields: date time cs-method cs-uri-stem sc-status\r\n2004-12-02 23:30:00 GET /iisstart.htm 200\r\n"
    )
    corr.feed_many(FileRef("iis", "W3SVC1/ex041202.log", "iis"), parse_bytes(iis.encode(), "ex041202.log"))
    assert corr.latest_ts() is not None  # the IIS log (UTC) gives the host a time, not its offset
    assert corr.held == 2 and corr.waiting == 2
    second = 1_000_000
    released: list[Event] = []
    for tick in range(0, 3 * HOLD_SECONDS + 2):
        released.extend(corr.tick(second + tick * second))
    placed = {e.ts for e in released if e.file_id == MSI.file_id}
    assert placed == {to_us(INSTALLING) + AFTER_MSI_STARTED}
