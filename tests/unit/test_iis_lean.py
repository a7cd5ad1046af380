"""Lean IIS parsing (``Parser.lean``, what ``mpwatch diagnose`` uses): runs of requests no rule can match
fold into one ``RUN`` record each, and correlation ends in exactly the state full records give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.core.clock import HostClock
from streams.core.correlator import Correlator, FileRef
from streams.core.extract import EventExtractor
from streams.formats.api import StreamParser
from streams.formats.record import RUN, Record

FIELDS = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip sc-status sc-substatus"  # noqa: E501


def req(clock: str, stem: str = "/default.htm", status: str = "200", day: str = "2004-12-06") -> str:
    return f"{day} {clock} 10.0.0.5 GET {stem} - 80 - 10.0.0.9 {status} 0"


LINES = [
    "#Software: Microsoft Internet Information Services 6.0",
    FIELDS,
    req("13:00:01"),
    req("13:00:03", "/SMS_MP/.sms_aut", "200"),  # an MP request that succeeded: nothing to say
    req("13:00:02"),  # time going back inside a run
    req("13:00:04", "/SMS_MP/.sms_aut", "500"),  # a failed MP request: a full record
    req("13:00:05"),
    req("13:00:06", "/rejected-by-urlscan", "404"),  # URLScan: a full record
    req("13:00:07", "/x", "404"),  # a 404 outside /SMS_MP/: folded
    "2004-12-06 13:00:08 too few columns",  # raw
    req("99:99:99"),  # no valid time: a full record with no time
    req("13:00:09"),
    "#Fields: date time cs-uri-stem sc-status",  # the columns change mid-file
    "2004-12-06 13:00:10 /a 200",
    "2004-12-06 13:00:11 /SMS_MP/.sms_pol 403",
    "2004-12-06 13:00:12 /b 200",
]


def parse(lines: list[str], lean: bool, cut: int | None = None) -> tuple[list[Record], StreamParser]:
    data = "".join(line + "\r\n" for line in lines).encode()
    stream = StreamParser("ex041206.log", "iis", lean=lean)
    cut = len(data) if cut is None else cut
    records = stream.feed(data[:cut]) + stream.feed(data[cut:]) + stream.flush()
    return records, stream


def test_runs_fold_what_no_rule_reads_and_keep_everything_a_rule_reads() -> None:
    records, _ = parse(LINES, lean=True)
    shapes = [
        (r.format, r.fields.get("lines") if r.format == RUN else r.fields.get("cs-uri-stem")) for r in records
    ]
    assert shapes == [
        (RUN, 3),
        ("iis", "/SMS_MP/.sms_aut"),
        (RUN, 1),
        ("iis", "/rejected-by-urlscan"),
        (RUN, 1),
        ("raw", None),
        ("iis", "/default.htm"),  # the line whose time is invalid
        (RUN, 1),
        (RUN, 1),  # after the new #Fields
        ("iis", "/SMS_MP/.sms_pol"),
        (RUN, 1),
    ]
    first = records[0]
    assert first.fields["first"] == datetime(2004, 12, 6, 13, 0, 1, tzinfo=UTC)
    assert first.fields["max"] == datetime(2004, 12, 6, 13, 0, 3, tzinfo=UTC)
    assert first.time == datetime(2004, 12, 6, 13, 0, 2, tzinfo=UTC)  # the last line's
    full, _ = parse(LINES, lean=False)
    data_lines = [r for r in full if r.format == "iis"][:3]
    assert first.offset == data_lines[-1].offset and first.line == data_lines[-1].line
    assert first.size == sum(r.size for r in data_lines)
    assert records[6].time is None


@pytest.mark.parametrize("cut", [0, 1, 137, 400, 10_000])
def test_record_counts_are_those_of_full_parsing(cut: int) -> None:
    _, lean = parse(LINES, lean=True, cut=cut)
    _, full = parse(LINES, lean=False, cut=cut)
    assert lean.stats().records == full.stats().records == {"iis": 12, "raw": 1}
    assert lean.stats().lines == full.stats().lines


def _extract(records: list[Record]) -> EventExtractor:
    extractor = EventExtractor("MGTPOINT1", HostClock(), learn=True)
    for record in records:
        extractor.feed(record, "f1", "ex041206.log", "iis")
    return extractor


@pytest.mark.parametrize(
    "lines",
    [
        LINES,
        # records waiting for the file's first time: a failed MP request with no valid time comes
        # first, and the first run places it at the run's first time (not its last or latest)
        [
            FIELDS,
            req("99:00:00", "/SMS_MP/.sms_aut", "500"),
            req("13:00:05"),
            req("13:00:04"),
            req("13:00:09"),
        ],
        # no date column: the day comes from #Date; then the time not first; then no sc-status
        [
            "#Date: 2004-12-06 13:00:00",
            "#Fields: time cs-uri-stem sc-status",
            "13:00:01 /a 200",
            "13:00:02 /SMS_MP/.sms_aut 200",
            "13:00:03 /SMS_MP/.sms_aut 502",
            "#Fields: s-ip date time cs-uri-stem sc-status",
            "10.0.0.1 2004-12-06 13:00:04 /a 200",
            "10.0.0.1 - 13:00:05 /a 200",
            "10.0.0.1 2004-12-06 13:00:06 /SMS_MP/x 401",
            "10.0.0.1 2004-12-06 13:00:06 /SMS_MP/x 301",
            "#Fields: date time cs-uri-stem",
            "2004-12-06 13:00:07 /SMS_MP/.sms_pol",
            "2004-12-06 13:00:07 /b",
            "2004 12-06 13:00:08 /b",
        ],
    ],
)
def test_the_extractor_ends_in_the_same_state_from_lean_and_full_records(lines: list[str]) -> None:
    lean = _extract(parse(lines, lean=True)[0])
    full = _extract(parse(lines, lean=False)[0])
    assert lean.state() == full.state()
    assert lean.latest_ts() == full.latest_ts()


def test_events_are_the_same_from_lean_and_full_records() -> None:
    lines = [FIELDS, req("99:00:00", "/SMS_MP/.sms_aut", "500"), req("13:00:05"), *LINES[2:12]]
    events = []
    for lean in (True, False):
        correlator = Correlator("MGTPOINT1")
        out = correlator.feed_many(FileRef("f1", "ex041206.log", "iis"), parse(lines, lean=lean)[0])
        events.append([e.to_dict() for e in out + correlator.finish()])
    assert events[0] == events[1] and len(events[0]) == 3


def test_an_iis_line_never_teaches_the_host_clock_an_offset() -> None:
    """The URI is the client's text: a CMTrace-style zoned time inside a query must not set the host's
    UTC offset (it would move every local-time MPSetup and MSI line of the host)."""
    crafted = req("13:00:01", "/x", "200").replace(" - 80 ", ' q=time="13:00:01.000+300" 80 ')
    records, _ = parse([FIELDS, crafted], lean=False)
    assert records[0].format == "iis" and 'time="13:00:01.000+300"' in records[0].raw
    correlator = Correlator("MGTPOINT1")
    correlator.feed_many(FileRef("f1", "ex041206.log", "iis"), records)
    assert not correlator.clock.known("MGTPOINT1")
