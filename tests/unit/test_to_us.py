"""``events``: ``to_us`` (integer arithmetic for UTC and naive times) equals the calendar computation for
any time from year 1 to 9999, aware or naive, in UTC or any other zone."""

from __future__ import annotations

import calendar
import pickle
import random
from datetime import UTC, datetime, timedelta, timezone

from streams.core.events import Event, from_us, to_us


def _calendar_us(value: datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return calendar.timegm(value.timetuple()) * 1_000_000 + value.microsecond


def test_to_us_equals_the_calendar_computation() -> None:
    rng = random.Random(3)
    east = timezone(timedelta(hours=5, minutes=30))
    span = int((datetime(9998, 1, 1) - datetime(2, 1, 1)) / timedelta(microseconds=1))
    for _ in range(20_000):
        naive = datetime(2, 1, 1) + timedelta(microseconds=rng.randrange(span))
        for value in (naive, naive.replace(tzinfo=UTC), naive.replace(tzinfo=east)):
            assert to_us(value) == _calendar_us(value), value


def test_from_us_inverts_to_us() -> None:
    value = datetime(2004, 12, 6, 13, 21, 35, 123456, tzinfo=UTC)
    assert from_us(to_us(value)) == value and to_us(datetime(1969, 12, 31, 23, 59, 59)) == -1_000_000


def test_an_event_survives_pickling_whole() -> None:
    """``diagnose --jobs`` pickles events between processes (``Event.__reduce__``)."""
    event = Event(
        "http_verify", "MGTPOINT1", 1_102_338_005_000_000, "SERVER1", "SMS/Logs/mpcontrol.log", 35,
        variant="500", prev=19, line=7, file="SMS/Logs/mpcontrol.log", text="raw", message="msg",
        inferred=True, mp=True, data={"status": 500},
    )  # fmt: skip
    back = pickle.loads(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL))
    assert back.to_dict() == event.to_dict() and back.key == event.key and back.fkey == event.fkey
