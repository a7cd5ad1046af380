"""Host clocks: learning UTC offsets from zoned records, --tz overrides, placing zoneless local times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.core.clock import HostClock, offset_from_record, parse_offset
from streams.core.events import iso, to_us
from streams.errors import InputError
from streams.formats.record import Record


def zoned(raw: str, utc: datetime, fields: dict | None = None) -> Record:
    return Record(
        "sms", utc, "SMS_MP_CONTROL_MANAGER", "2008", "info", "x", "MPControl.log", 0, 1, 1, fields or {}, raw
    )


def test_numeric_trailer_bias_gives_the_offset() -> None:
    utc = datetime(2004, 12, 6, 18, 29, 19, 147000, tzinfo=UTC)
    east = zoned(
        "Starting.  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 13:29:19.147+300><thread=2008 (0x7D8)>", utc
    )
    cet = zoned("x $$<SMS_COLLECTION_EVALUATOR><11-30-2022 01:03:34.174-60><thread=4844 (0x12EC)>", utc)
    assert offset_from_record(east) == -300
    assert offset_from_record(cet) == 60


def test_text_trailer_offset_comes_from_local_versus_utc_time() -> None:
    utc = datetime(2004, 12, 6, 18, 29, 19, 147000, tzinfo=UTC)
    record = zoned(
        "Starting.  $$<X><Mon Dec 06 13:29:19.147 2004 Eastern Standard Time><thread=2008 (0x7D8)>", utc
    )
    assert offset_from_record(record) == -300
    india = zoned("x $$<X><Mon Dec 06 23:59:19.147 2004 India Standard Time><thread=1>", utc)
    assert offset_from_record(india) == 330


def test_cmtrace_time_attribute_and_parser_fields() -> None:
    utc = datetime(2019, 10, 1, 12, 0, tzinfo=UTC)
    cm = zoned('<![LOG[hello]LOG]!><time="08:00:00.000+240" date="10-01-2019" component="x">', utc)
    assert offset_from_record(cm) == -240
    assert offset_from_record(zoned("no trailer here", utc, {"bias": 480})) == -480
    assert offset_from_record(zoned("no trailer here", utc)) is None


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+05:30", 330), ("-0800", -480), ("+5", 300), ("UTC", 0), ("Z", 0), ("UTC-03:00", -180)],
)
def test_parse_offset(text: str, minutes: int) -> None:
    assert parse_offset(text) == minutes


@pytest.mark.parametrize("text", ["EST", "+25:00", "5 hours", ""])
def test_parse_offset_rejects_nonsense(text: str) -> None:
    with pytest.raises(InputError):
        parse_offset(text)


def test_learned_offset_places_local_time() -> None:
    clock = HostClock()
    clock.observe("MGTPOINT1", to_us(datetime(2004, 12, 6, 18, 0, tzinfo=UTC)), -300)
    placed = clock.place("mgtpoint1.corp.example.com", datetime(2004, 12, 6, 13, 29, 2))
    assert iso(placed) == "2004-12-06T18:29:02.000Z"


def test_the_offset_observed_nearest_in_time_is_used_across_a_dst_change() -> None:
    clock = HostClock()
    clock.observe("MP", to_us(datetime(2004, 3, 1, 12, tzinfo=UTC)), -300)  # EST
    clock.observe("MP", to_us(datetime(2004, 7, 1, 12, tzinfo=UTC)), -240)  # EDT
    assert iso(clock.place("MP", datetime(2004, 3, 2, 8, 0))) == "2004-03-02T13:00:00.000Z"
    assert iso(clock.place("MP", datetime(2004, 7, 2, 8, 0))) == "2004-07-02T12:00:00.000Z"


def test_observation_order_does_not_matter() -> None:
    points = [(to_us(datetime(2004, 1, d, tzinfo=UTC)), o) for d, o in ((1, -300), (20, -240), (9, -300))]
    forward, backward = HostClock(), HostClock()
    for ts, offset in points:
        forward.observe("MP", ts, offset)
    for ts, offset in reversed(points):
        backward.observe("MP", ts, offset)
    assert forward.to_dict() == backward.to_dict()


def test_override_beats_learning_and_unknown_hosts_borrow_the_site_offset() -> None:
    clock = HostClock({"mgtpoint2": 60})
    clock.observe("SERVER1", 0, -300)
    clock.observe("MGTPOINT1", 0, -300)
    clock.observe("MGTPOINT2", 0, -300)
    clock.observe("FARAWAY", 0, 540)
    assert clock.offset_for("MGTPOINT2", 0) == (60, "tz")
    assert clock.offset_for("MGTPOINT1", 0) == (-300, "learned")
    assert clock.offset_for("NEWHOST", 0) == (-300, "site")
    assert HostClock().offset_for("ANY", 0) == (0, "utc")


def test_round_trip() -> None:
    clock = HostClock({"A": 60})
    clock.observe("B", 5, -300)
    assert HostClock.from_dict(clock.to_dict()).to_dict() == clock.to_dict()
