"""CMTrace format: attributes by name, multi-line messages, zone variants, types, torn writes."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.formats import Record, parse_bytes
from streams.formats.cmtrace import CmtraceParser
from streams.formats.record import Line


def cm(text: str) -> list[Record]:
    return list(parse_bytes(text.encode(), "ccmexec.log", "cmtrace"))


def entry(message: str, attrs: str) -> str:
    return f"<![LOG[{message}]LOG]!><{attrs}>"


STD = (
    'time="10:19:13.567+240" date="10-18-2019" component="OSDDownloadContent" context="" type="{t}" '
    'thread="2580" file="downloadcontent.cpp:1785"'
)


def test_standard_line() -> None:
    [record] = cm(entry("Downloaded file", STD.format(t=1)) + "\r\n")
    assert record.format == "cmtrace"
    assert record.message == "Downloaded file"
    assert record.component == "OSDDownloadContent"
    assert record.thread == "2580"
    assert record.time == datetime(2019, 10, 18, 14, 19, 13, 567000, tzinfo=UTC)  # UTC = local + 240 min
    assert record.fields["source"] == "downloadcontent.cpp:1785"
    assert record.fields["type"] == 1


def test_types_zero_to_three() -> None:
    severities = [cm(entry("m", STD.format(t=t)) + "\n")[0].severity for t in range(4)]
    assert severities == ["info", "info", "warning", "error"]


def test_missing_type_falls_back_to_text() -> None:
    attrs = 'date="10-18-2019" time="10:19:13.567+240" component="X"'
    [record] = cm(entry("Failed to download", attrs) + "\n")
    assert record.severity == "error"


def test_attributes_in_any_order() -> None:
    attrs = (
        'thread="7" file="" type="2" component="Shuffled" date="1-2-2020" context="ctx" time="03:04:05.6-60"'
    )
    [record] = cm(entry("any order", attrs) + "\n")
    assert (record.component, record.thread, record.severity) == ("Shuffled", "7", "warning")
    assert record.time == datetime(2020, 1, 2, 2, 4, 5, 600000, tzinfo=UTC)  # -60: UTC is an hour earlier
    assert record.fields["context"] == "ctx"


def test_negative_and_two_digit_zones_and_missing_zone() -> None:
    [east] = cm(entry("m", STD.replace("+240", "-120")).format(t=1) + "\n")
    assert east.time == datetime(2019, 10, 18, 8, 19, 13, 567000, tzinfo=UTC)
    [zero] = cm(entry("m", STD.replace("+240", "+00")).format(t=1) + "\n")
    assert zero.time == datetime(2019, 10, 18, 10, 19, 13, 567000, tzinfo=UTC)
    [local] = cm(entry("m", STD.replace("+240", "")).format(t=1) + "\n")
    assert local.time == datetime(2019, 10, 18, 10, 19, 13, 567000) and local.time_is_local


def test_seven_fraction_digits_and_unpadded_date_and_empty_thread() -> None:
    attrs = (
        'time="17:19:49.1590494" date="3-1-2026" component="ClientHealth" context="" type="1" '
        'thread="" file=""'
    )
    [record] = cm(entry("OnStart", attrs) + "\n")
    assert record.time == datetime(2026, 3, 1, 17, 19, 49, 159049)
    assert record.thread == ""


def test_multi_line_message_ends_at_the_closing_marker() -> None:
    text = (
        "<![LOG[Request headers:\r\n"
        "<Request><Body/></Request>\r\n"
        "\r\n"
        "end of body]LOG]!><" + STD.format(t=1) + ">\r\n" + entry("next", STD.format(t=1)) + "\r\n"
    )
    first, second = cm(text)
    assert first.message == "Request headers:\n<Request><Body/></Request>\n\nend of body"
    assert (first.line, second.line) == (1, 5)
    assert first.offset == 0 and first.size == second.offset
    assert second.message == "next"


def test_open_record_is_held_with_its_offset() -> None:
    parser = CmtraceParser("f")
    assert parser.feed(Line("<![LOG[start of a long message", 50, 31, 3)) == []
    assert parser.pending_offset() == 50
    [record] = parser.feed(Line("rest]LOG]!><" + STD.format(t=3) + ">", 81, 150, 4))
    assert (record.offset, record.size, record.line, record.severity) == (50, 181, 3, "error")
    assert parser.pending_offset() is None


def test_torn_tail_is_a_record_flagged_torn() -> None:
    text = "…ding file 0-455847]LOG]!><" + STD.format(t=1) + ">\n"
    [record] = cm(text)
    assert record.format == "cmtrace" and record.fields["torn"] is True
    assert record.message == "…ding file 0-455847"


def test_garbage_line_is_raw_and_unclosed_record_is_given_up_as_raw() -> None:
    text = "not a log line\n<![LOG[never closed\n" + entry("ok", STD.format(t=1)) + "\n"
    records = cm(text)
    assert [r.format for r in records] == ["raw", "raw", "cmtrace"]
    assert records[1].message == "<![LOG[never closed"


def test_statmsg_in_a_cmtrace_message() -> None:
    message = 'STATMSG: ID=1015 SEV=W LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" SYS=MP1'
    [record] = cm(entry(message, STD.format(t=1)) + "\n")
    assert record.fields["status_id"] == 1015
    assert record.severity == "warning"
