"""``iso``: the one time spelling of every view (its seconds part is cached; the text must not change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.core.events import iso, parse_iso

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=253402214399_999_999))
def test_iso_is_strftime_with_milliseconds_and_round_trips(us: int) -> None:
    moment = EPOCH + timedelta(microseconds=us)
    assert iso(us) == f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{moment.microsecond // 1000:03d}Z"
    assert parse_iso(iso(us)) == us - us % 1000
