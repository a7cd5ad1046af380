"""Target attribution, drive enumeration, ids and chains of the EventExtractor (records built by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from streams.core import kinds as K
from streams.core.clock import HostClock
from streams.core.events import SUB_BITS, Event, to_us
from streams.core.extract import EventExtractor
from streams.formats.record import Record

T0 = datetime(2004, 12, 6, 18, 21, 35, tzinfo=UTC)
SITECOMP = "SMS_SITE_COMPONENT_MANAGER"


class Log:
    """Builds the records of one file with increasing offsets and line numbers."""

    def __init__(self, file: str, fmt: str = "sms", component: str = SITECOMP) -> None:
        self.file, self.fmt, self.component = file, fmt, component
        self.offset = 0
        self.line = 1

    def rec(
        self,
        message: str,
        thread: str = "1700",
        seconds: float = 0,
        fields: dict[str, Any] | None = None,
        local: datetime | None = None,
        no_time: bool = False,
    ) -> Record:
        time: datetime | None = local if local is not None else T0 + timedelta(seconds=seconds)
        record = Record(
            self.fmt,
            None if no_time else time,
            self.component,
            thread,
            "info",
            message,
            self.file,
            self.offset,
            100,
            self.line,
            fields or {},
            time_is_local=local is not None,
        )
        self.offset += 100
        self.line += 1
        return record


def feed(extractor: EventExtractor, records: list[Record], file_id: str = "") -> list[Event]:
    out: list[Event] = []
    for record in records:
        out.extend(extractor.feed(record, file_id or record.file))
    return out


def statmsg(status_id: int, sys: str, comp: str = "SMS_MP_CONTROL_MANAGER", sev: str = "I") -> dict[str, Any]:
    return {"statmsg": {"ID": str(status_id), "SEV": sev, "COMP": comp, "SYS": sys}, "status_id": status_id}


def test_interleaved_threads_each_keep_their_target() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    records = [
        log.rec("Synchronizing component server MGTPOINT1...", "1700", 0),
        log.rec("Synchronizing component server MGTPOINT2...", "2044", 1),
        log.rec("Installing server...", "2044", 2),
        log.rec("Installing server...", "1700", 3),
        log.rec("Enumerating drives A through Z for the NTFS drive with the most free space.", "1700", 4),
        log.rec("ERROR: NAL failed to access NAL path 'MSWNET:\\\\MGTPOINT1\\N$\\'", "1700", 5),
        log.rec("All files installed.", "2044", 6),
        log.rec("Bootstrap operations aborted.", "2044", 7),
        log.rec("All files installed.", "1700", 8),
        log.rec("Installation successful.", "1700", 9),
    ]
    events = feed(EventExtractor("SERVER1"), records)
    by_server = {(e.server, e.kind) for e in events}
    assert by_server == {
        ("MGTPOINT2", K.INSTALL_STARTED),
        ("MGTPOINT1", K.INSTALL_STARTED),
        ("MGTPOINT1", K.NAL_DRIVE_PROBE),
        ("MGTPOINT2", K.FILES_INSTALLED),
        ("MGTPOINT2", K.BOOTSTRAP_ABORTED),
        ("MGTPOINT1", K.FILES_INSTALLED),
        ("MGTPOINT1", K.SITECOMP_INSTALL_OK),
    }
    assert all(e.host == "SERVER1" for e in events)


def test_unc_path_to_the_site_server_itself_does_not_move_the_context() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    records = [
        log.rec("Synchronizing component server MGTPOINT1...", seconds=0),
        log.rec("Copying \\\\SERVER1\\SMS_ABC\\bin\\i386\\mp.msi to the install drive.", seconds=1),
        log.rec("All files installed.", seconds=2),
    ]
    events = feed(EventExtractor("server1.corp.example.com"), records)
    assert [(e.server, e.kind) for e in events] == [("MGTPOINT1", K.FILES_INSTALLED)]


def test_explicit_names_win_over_context_and_update_it() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    records = [
        log.rec("Synchronizing component server MGTPOINT1...", seconds=0),
        log.rec(
            '"\\\\MGTPOINT3\\ADMIN$\\srvmsgs.cmd /install" executed successfully on server MGTPOINT3.',
            seconds=1,
        ),
        log.rec("Bootstrap operations completed.", seconds=2),
    ]
    events = feed(EventExtractor("SERVER1"), records)
    assert [(e.server, e.kind) for e in events] == [
        ("MGTPOINT3", K.BOOTSTRAP_EXECUTED),
        ("MGTPOINT3", K.BOOTSTRAP_COMPLETED),
    ]


def test_drive_enumeration_failures_are_probes_but_admin_share_and_chosen_drive_are_not() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    nal = "ERROR: NAL failed to access NAL path 'MSWNET:\\\\MGTPOINT1\\{}\\', probably because the machine"
    records = [
        log.rec("Synchronizing component server MGTPOINT1...", seconds=0),
        log.rec(nal.format("admin$"), seconds=1),
        log.rec("Installing server...", seconds=2),
        log.rec("Enumerating drives A through Z for the NTFS drive with the most free space.", seconds=3),
        log.rec(nal.format("A$"), seconds=4),
        log.rec(nal.format("Z$"), seconds=5),
        log.rec("Drive 'C:\\' is the best drive for the SMS installation directory.", seconds=6),
        log.rec(nal.format("D$"), seconds=7),
        log.rec(nal.format("C$"), seconds=8),
    ]
    kinds = [e.kind for e in feed(EventExtractor("SERVER1"), records)]
    assert kinds == [
        K.NAL_UNREACHABLE,
        K.INSTALL_STARTED,
        K.NAL_DRIVE_PROBE,
        K.NAL_DRIVE_PROBE,
        K.DRIVE_CHOSEN,
        K.NAL_DRIVE_PROBE,
        K.NAL_UNREACHABLE,
    ]


def test_statmsg_system_decides_the_target_and_5414_on_the_site_server_follows_the_thread() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    records = [
        log.rec("Synchronizing component server MGTPOINT1...", seconds=0),
        log.rec("STATMSG: ID=1013", seconds=1, fields=statmsg(1013, "mgtpoint2.corp.example.com")),
        log.rec("STATMSG: ID=5414", seconds=2, fields=statmsg(5414, "SERVER1", SITECOMP, "E")),
    ]
    events = feed(EventExtractor("SERVER1"), records)
    assert [(e.server, e.kind) for e in events] == [
        ("MGTPOINT2", K.INSTALL_PENDING),
        ("MGTPOINT1", K.SQL_ACCESS_GROUP_FAILED),
    ]


def test_sitecomp_line_without_any_context_is_counted_not_guessed() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    extractor = EventExtractor("SERVER1")
    assert feed(extractor, [log.rec("All files installed.", thread="9999")]) == []
    assert extractor.stats["unattributed"] == 1


def test_mp_side_logs_concern_their_host_and_local_times_are_placed_and_flagged() -> None:
    clock = HostClock()
    clock.observe("MGTPOINT1", to_us(T0), -300)  # learned from its MPControl.log (bias +300)
    extractor = EventExtractor("mgtpoint1", clock)
    log = Log("SMS/Logs/MPSetup.log", "mpsetup", "MPSetup")
    local = datetime(2004, 12, 6, 13, 29, 2)
    events = feed(extractor, [log.rec("MP.MSI exited with return code: 1603", local=local)])
    assert len(events) == 1
    event = events[0]
    assert event.server == "MGTPOINT1" and event.host == "MGTPOINT1"
    assert event.ts == to_us(datetime(2004, 12, 6, 18, 29, 2, tzinfo=UTC))
    assert event.inferred


def test_ids_positions_and_chains() -> None:
    log = Log("SMS/Logs/sitecomp.log")
    records = [
        log.rec("Synchronizing component server MGTPOINT1...", "1700", 0),
        log.rec("Synchronizing component server MGTPOINT2...", "2044", 1),
        log.rec("Installing server...", "1700", 2),
        log.rec("Installing server...", "2044", 3),
        log.rec("All files installed.", "1700", 4),
    ]
    events = feed(EventExtractor("SERVER1"), records, "sitecomp-identity")
    first, second, third = events
    assert first.pos == records[2].offset * SUB_BITS and first.offset == records[2].offset
    assert first.id == f"SERVER1:sitecomp-identity:{records[2].offset}"
    assert (first.prev, second.prev) == (-1, -1)  # first event of each server in this file
    assert third.prev == first.pos  # chained to the previous MGTPOINT1 event, not to MGTPOINT2's
    again = feed(EventExtractor("SERVER1"), records, "sitecomp-identity")
    assert [e.to_dict() for e in again] == [e.to_dict() for e in events]


def test_a_record_without_time_waits_for_the_next_time_of_its_file() -> None:
    extractor = EventExtractor("MGTPOINT1")
    log = Log("SMS/Logs/MPMSI.log", "msi", "MSI")
    waiting = log.rec("MSI (c) (A0:18): Failed to grab execution mutex.", no_time=True)
    assert extractor.feed(waiting, "MPMSI.log") == []
    later = log.rec("MSI (c) (A0:18): MainEngineThread is returning 1618", seconds=30)
    events = extractor.feed(later, "MPMSI.log")
    assert [e.kind for e in events] == [K.MSI_MUTEX_BUSY, K.MSI_ENGINE_RETURN]
    assert events[0].ts == events[1].ts and events[0].inferred


def test_events_that_never_get_a_time_are_counted() -> None:
    extractor = EventExtractor("MGTPOINT1")
    log = Log("SMS/Logs/MPMSI.log", "msi", "MSI")
    extractor.feed(log.rec("MSI (c) (A0:18): MainEngineThread is returning 1618", no_time=True), "x")
    extractor.finish()
    assert extractor.stats["untimed"] == 1


def test_thread_context_survives_rotation_when_lo_and_log_share_an_extractor() -> None:
    extractor = EventExtractor("SERVER1")
    old = Log("SMS/Logs/sitecomp.lo_")
    new = Log("SMS/Logs/sitecomp.log")
    feed(extractor, [old.rec("Synchronizing component server MGTPOINT1...")])
    events = feed(extractor, [new.rec("All files installed.", seconds=1)])
    assert [(e.server, e.file_id) for e in events] == [("MGTPOINT1", "SMS/Logs/sitecomp.log")]


def test_state_round_trip_restores_context() -> None:
    extractor = EventExtractor("SERVER1")
    log = Log("SMS/Logs/sitecomp.log")
    feed(extractor, [log.rec("Synchronizing component server MGTPOINT1...")])
    restored = EventExtractor("SERVER1")
    restored.restore(extractor.state())
    events = feed(restored, [log.rec("Installing server...", seconds=1)])
    assert [e.server for e in events] == ["MGTPOINT1"]


def test_streaming_extractor_learns_its_hosts_offset_from_zoned_records() -> None:
    clock = HostClock()
    extractor = EventExtractor("MGTPOINT1", clock, learn=True)
    control = Log("SMS/Logs/MPControl.log", component="SMS_MP_CONTROL_MANAGER")
    zoned = control.rec("Starting MP Control Manager...", "2008", 0)
    zoned.raw = (
        "Starting MP Control Manager...  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 13:21:35.000+300><thread=2008>"
    )
    extractor.feed(zoned, "SMS/Logs/MPControl.log")
    setup = Log("SMS/Logs/MPSetup.log", "mpsetup", "MPSetup")
    events = feed(extractor, [setup.rec("MP Setup Started....", local=datetime(2004, 12, 6, 13, 22, 13))])
    assert [e.ts for e in events] == [to_us(datetime(2004, 12, 6, 18, 22, 13, tzinfo=UTC))]
