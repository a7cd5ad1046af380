"""``wire.parse_records`` parses the one-line records of SMS, CMTrace and IIS batches as one run of lines;
it must give exactly what parsing each framed record alone gives (``_parse_each``, the definition),
including for batches where a run would not (lines the parser holds, blank lines, raw lines)."""

from __future__ import annotations

import pytest

from streams import wire
from streams.core.correlator import Correlator, FileRef
from streams.formats import make_parser
from streams.formats.record import Framed, Line, Record
from streams.wire import FileHeader, ShippedBatch, parse_records, parser_context

SMS = "Done.  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 13:21:{s:02d}.{ms:03d}+300><thread=1700 (0x6A4)>"
CMTRACE = (
    '<![LOG[Step {s}]LOG]!><time="13:21:{s:02d}.000+300" date="12-06-2004" component="ccmsetup" '
    'context="" type="1" thread="1" file="x.cpp:1">'
)
IIS = "2004-12-06 13:21:{s:02d} GET /SMS_MP/.sms_aut {status}"
IIS_FIELDS = "#Fields: date time cs-method cs-uri-stem sc-status"
STATMSG = (
    'STATMSG: ID=1013 SEV=I LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" SYS=MP01  '
    "$$<SMS_SITE_COMPONENT_MANAGER><12-06-2004 13:21:01.000+300><thread=1 (0x1)>"
)


def batch(fmt: str, texts: list[str]) -> ShippedBatch:
    framed, offset = [], 0
    for number, text in enumerate(texts, start=1):
        framed.append(Framed(offset, len(text) + 2, number, text, False))
        offset += len(text) + 2
    context: dict[str, object] = {}
    if fmt == "iis":  # the columns a shipper sends with every IIS batch
        parser = make_parser("iis", "x.log")
        parser.feed(Line(IIS_FIELDS, 0, 0, 1))
        context = parser_context(parser)
    header = FileHeader("MP01", "mpcontrol", "C:\\SMS\\Logs\\x.log", "x.log", "7-1", fmt, "utf-8", context)
    return ShippedBatch(header, framed)


def compared(records: list[Record]) -> list[dict[str, object]]:
    return [{**r.to_dict(), "raw": r.raw} for r in records]


# name -> (format, record texts, whether the run is used: False = it falls back record by record)
CASES: dict[str, tuple[str, list[str], bool]] = {
    "sms plain": ("sms", [SMS.format(s=s, ms=s * 7) for s in range(20)], True),
    "sms statmsg and tilde": ("sms", [STATMSG, SMS.replace("Done.", "a~b").format(s=2, ms=0)], True),
    "sms held line": ("sms", [SMS.format(s=1, ms=0), "no trailer here", SMS.format(s=2, ms=0)], False),
    # a held line given up as raw where the run ends (or the next record starts): still one per record
    "sms held line last": ("sms", [SMS.format(s=1, ms=0), "no trailer here"], True),
    "sms blank record": ("sms", [SMS.format(s=1, ms=0), "   ", SMS.format(s=2, ms=0)], False),
    "cmtrace plain": ("cmtrace", [CMTRACE.format(s=s) for s in range(10)], True),
    "cmtrace open record": ("cmtrace", [CMTRACE.format(s=1), "<![LOG[open", CMTRACE.format(s=3)], True),
    "cmtrace continued record": (
        "cmtrace",
        [CMTRACE.format(s=1), "<![LOG[open", CMTRACE.format(s=3)[6:]],
        False,
    ),
    "iis plain": ("iis", [IIS.format(s=s, status=200 + s * 20) for s in range(20)], True),
    "iis directive and raw": (
        "iis",
        [IIS.format(s=1, status=200), "#Fields: date time cs-uri-stem", "2004-12-06 13:21:02 /x", "bad"],
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_run_of_lines_parses_like_each_record_alone(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fmt, texts, run_used = CASES[name]
    shipped = batch(fmt, texts)
    each = wire._parse_each(shipped)
    fell_back: list[ShippedBatch] = []
    monkeypatch.setattr(wire, "_parse_each", lambda b: fell_back.append(b) or each)
    fast = parse_records(shipped)
    assert len(fast) == len(texts)
    assert compared(fast) == compared(each)
    assert bool(fell_back) is not run_used


IIS_LEAN_CASES = {
    "plain": [IIS.format(s=s, status=200 + s * 20) for s in range(20)],
    "raw and urlscan": [
        IIS.format(s=1, status=200),
        IIS.format(s=2, status=404),
        "bad",
        IIS.format(s=3, status=200),
        "2004-12-06 13:21:04 GET /rejected-by-urlscan 404",
        IIS.format(s=5, status=200),
    ],
}


@pytest.mark.parametrize("name", sorted(IIS_LEAN_CASES))
def test_a_lean_iis_batch_correlates_like_its_full_records(name: str) -> None:
    shipped = batch("iis", IIS_LEAN_CASES[name])
    lean = parse_records(shipped, lean=True)
    assert any(r.format == "run" for r in lean)
    results = []
    for records in (lean, wire._parse_each(shipped)):
        correlator = Correlator("MP01")
        events = correlator.feed_many(FileRef("7-1", "x.log", "iis"), records) + correlator.finish()
        results.append(([e.to_dict() for e in events], correlator.state()))
    assert results[0] == results[1]
    assert results[0][0]  # the failed MP requests and the URLScan rejection are events
