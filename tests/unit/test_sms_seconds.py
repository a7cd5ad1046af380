"""``SmsParser._second`` (a new second of a known day = that day's midnight + seconds) answers exactly
what ``parse_numeric_stamp`` answers, for every shape a trailer's timestamp may take."""

from __future__ import annotations

import random

import pytest

from streams.formats.sms import SmsParser, parse_numeric_stamp

KEYS = [
    "12-06-2004 13:21:35+300",
    "12-06-2004 00:00:00+300",
    "12-06-2004 23:59:59-060",
    "12-31-2004 23:59:59-840",  # the bias carries it into the next year
    "01-01-2005 00:00:01+720",
    "02-29-2004 12:00:00+0",  # a leap day
    "02-29-2005 12:00:00+0",  # not one: an impossible date
    "13-01-2004 12:00:00+0",
    "12-06-2004 24:00:00+300",  # impossible times go to the full parse
    "12-06-2004 23:60:00+300",
    "12-06-2004 23:59:60+300",
    "12-06-2004 13:21:35",  # no bias: local time
    "1-6-2004 13:21:35+300",  # one-digit month and day
    "12-06-2004 1:21:35+300",
    "12-06-2004 13:21:35+3x0",
    "12-06-2004 ١٣:21:35+300",  # Arabic-Indic digits: the regex's \\d takes them
    "garbage at all",
    "",
]


@pytest.mark.parametrize("key", KEYS)
def test_second_matches_the_full_parse(key: str) -> None:
    parser = SmsParser("x.log")
    assert parser._second(key) == parse_numeric_stamp(key)
    assert parser._second(key) == parse_numeric_stamp(key)  # and again, from the caches


def test_random_seconds_of_cached_days_match_the_full_parse() -> None:
    rng = random.Random(7)
    parser = SmsParser("x.log")
    for _ in range(5_000):
        key = (
            f"{rng.randint(1, 12):02d}-{rng.randint(1, 31):02d}-{rng.choice([2004, 2023])} "
            f"{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:{rng.randint(0, 60):02d}"
            f"{rng.choice(['+300', '-060', '+0', ''])}"
        )
        assert parser._second(key) == parse_numeric_stamp(key), key
