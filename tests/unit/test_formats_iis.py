"""IIS W3C extended logs: directives, #Fields changes, '-' and '+', status severity, UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.formats import ParseStats, Record, parse_bytes

HEADER = [
    "#Software: Microsoft Internet Information Services 6.0",
    "#Version: 1.0",
    "#Date: 2004-12-06 21:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "sc-status sc-substatus sc-win32-status",
]


def iis(lines: list[str], stats: ParseStats | None = None) -> list[Record]:
    return list(parse_bytes(("\r\n".join(lines) + "\r\n").encode(), "ex041206.log", stats=stats))


def test_urlscan_rejection_line() -> None:
    # the seed's IIS symptom ("GET /<Rejected-By-URLScan>~/ccm_system/request 404 ccmhttp") as a W3C line
    line = (
        "2004-12-06 21:35:08 10.0.0.5 GET /<Rejected-By-UrlScan> ~/ccm_system/request 80 - 10.0.0.9 "
        "ccmhttp 404 0 0"
    )
    stats = ParseStats()
    [record] = iis([*HEADER, line], stats)
    assert record.format == "iis"
    assert record.fields["cs-uri-stem"] == "/<Rejected-By-UrlScan>"
    assert record.fields["cs-uri-query"] == "~/ccm_system/request"
    assert record.fields["sc-status"] == 404 and record.fields["sc-substatus"] == 0
    assert record.fields["cs-username"] is None  # "-"
    assert record.message == "GET /<Rejected-By-UrlScan>?~/ccm_system/request 404.0"
    assert record.severity == "warning"
    assert record.time == datetime(2004, 12, 6, 21, 35, 8, tzinfo=UTC)
    assert stats.directive_lines == len(HEADER) and stats.raw_lines == 0


def test_status_severity_and_plus_decoding() -> None:
    ok = "2004-12-06 21:35:08 10.0.0.5 GET /SMS_MP/.sms_aut MPLIST 80 - 10.0.0.9 SMS+CCM 200 0 0"
    denied = "2004-12-06 21:45:08 10.0.0.5 GET /SMS_MP/.sms_aut MPLIST 80 - 10.0.0.9 SMS+CCM 401 3 5"
    broken = "2004-12-06 21:55:08 10.0.0.5 GET /SMS_MP/.sms_aut MPLIST 80 - 10.0.0.9 SMS+CCM 500 0 0"
    first, second, third = iis([*HEADER, ok, denied, broken])
    assert first.fields["cs(User-Agent)"] == "SMS CCM"
    assert [r.severity for r in (first, second, third)] == ["info", "warning", "error"]
    assert second.message == "GET /SMS_MP/.sms_aut?MPLIST 401.3"


def test_fields_directive_is_reread_mid_file() -> None:
    before = "2004-12-06 21:35:08 10.0.0.5 GET / - 80 - 10.0.0.9 UA 200 0 0"
    after = "2004-12-06 22:00:00 GET /x 503 10.0.0.9"
    records = iis([*HEADER, before, "#Fields: date time cs-method cs-uri-stem sc-status c-ip", after])
    assert [r.format for r in records] == ["iis", "iis"]
    assert set(records[1].fields) == {"date", "time", "cs-method", "cs-uri-stem", "sc-status", "c-ip"}
    assert records[1].severity == "error"


def test_wrong_column_count_is_raw_and_counted() -> None:
    stats = ParseStats()
    records = iis([*HEADER, "2004-12-06 21:35:08 too few columns"], stats)
    assert [r.format for r in records] == ["raw"]
    assert stats.raw_lines == 1


def test_time_only_logs_take_the_day_from_the_date_directive() -> None:
    header = ["#Software: Microsoft IIS", "#Date: 2004-12-06 21:00:00", "#Fields: time cs-method sc-status"]
    records = iis([*header, "21:35:08 GET 200"])
    assert records[0].time == datetime(2004, 12, 6, 21, 35, 8, tzinfo=UTC)
