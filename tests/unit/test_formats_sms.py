"""SMS server trailer format, STATMSG lines, and the SMS examples quoted in the seed document."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.formats import Record, parse_bytes
from streams.formats.record import Line
from streams.formats.severity import ERROR_WORDS, WARNING_WORDS, infer_severity
from streams.formats.sms import SmsParser
from streams.formats.statmsg import parse_statmsg

SITECOMP = "SMS_SITE_COMPONENT_MANAGER"


def trailer(stamp: str, component: str = SITECOMP, thread: str = "1700 (0x6A4)") -> str:
    """The SMS trailer, with the two separator spaces in front."""
    return f"  $$<{component}><{stamp}><thread={thread}>"


def sms(text: str) -> list[Record]:
    return list(parse_bytes(text.encode(), "sitecomp.log", "sms"))


def one(text: str) -> Record:
    [record] = sms(text)
    return record


def test_positive_bias_adds_minutes_to_get_utc() -> None:
    record = one("Installing server..." + trailer("12-06-2004 01:00:00.000+480") + "\n")
    assert record.time == datetime(2004, 12, 6, 9, 0, tzinfo=UTC)
    assert not record.time_is_local
    assert record.fields["bias"] == 480


def test_negative_bias_subtracts_and_can_cross_midnight() -> None:
    record = one("Done." + trailer("11-30-2022 00:03:34.174-60", "SMS_COLLECTION_EVALUATOR") + "\n")
    assert record.time == datetime(2022, 11, 29, 23, 3, 34, 174000, tzinfo=UTC)
    later = one("Done." + trailer("11-30-2022 01:03:34.174-60", "SMS_COLLECTION_EVALUATOR") + "\n")
    assert later.time == datetime(2022, 11, 30, 0, 3, 34, 174000, tzinfo=UTC)


def test_trailer_fields_and_separator() -> None:
    record = one("Synchronization complete." + trailer("12-06-2004 13:21:36.000+300") + "\n")
    assert record.format == "sms"
    assert record.component == "SMS_SITE_COMPONENT_MANAGER"
    assert record.thread == "1700"
    assert record.message == "Synchronization complete."  # the two spaces before $$ are not message
    assert record.severity == "info"


def test_only_two_separator_spaces_are_removed() -> None:
    record = one("padded    $$<C><12-06-2004 13:21:36.000+0><thread=1 (0x1)>\n")
    assert record.message == "padded  "


def test_tilde_is_a_line_break_in_message_but_kept_in_raw() -> None:
    line = "select Name from T where ID = 7  order by Name~" + trailer(
        "11-30-2022 01:03:34.179-60", "COLLEVAL"
    )
    record = one(line + "\n")
    assert record.message == "select Name from T where ID = 7  order by Name\n"
    assert record.raw == line


def test_lines_without_trailer_belong_to_the_next_trailer() -> None:
    text = (
        "ERROR: NAL failed to access NAL path 'MSWNET:\\\\MGTPOINT1\\N$\\', probably because the machine\r\n"
        "is down, the network is down, or the Site System Connection Accounts are misconfigured.\r\n"
        "0x80070043: The operation completed successfully." + trailer("12-06-2004 13:21:37.000+300") + "\r\n"
        "Next record" + trailer("12-06-2004 13:21:38.000+300") + "\r\n"
    )
    first, second = sms(text)
    assert first.line == 1 and second.line == 4
    assert first.offset == 0 and first.size == second.offset
    assert first.message.split("\n")[0].startswith("ERROR: NAL failed")
    assert first.message.endswith("0x80070043: The operation completed successfully.")
    assert first.message.count("\n") == 2
    assert first.severity == "error"
    assert second.message == "Next record"


def test_continuation_lines_are_held_until_their_trailer_arrives() -> None:
    parser = SmsParser("x")
    assert parser.feed(Line("first part", 100, 11, 7)) == []
    assert parser.pending_offset() == 100
    [record] = parser.feed(Line("end  $$<C><12-06-2004 13:21:38.000+300><thread=1 (0x1)>", 111, 60, 8))
    assert (record.offset, record.size, record.line) == (100, 71, 7)
    assert parser.pending_offset() is None


def test_unterminated_continuation_at_end_of_input_is_raw_not_lost() -> None:
    records = sms("ok  $$<C><12-06-2004 13:21:38.000+300><thread=1 (0x1)>\ndangling text\n")
    assert [r.format for r in records] == ["sms", "raw"]
    assert records[1].message == "dangling text"


def test_old_text_timestamp_with_windows_zone_name() -> None:
    record = one("Starting" + trailer("Fri Mar 26 10:43:41.547 1999 Eastern Standard Time") + "\n")
    assert record.time == datetime(1999, 3, 26, 15, 43, 41, 547000, tzinfo=UTC)
    assert record.fields["bias"] == 300
    assert not record.time_is_local


def test_old_text_timestamp_daylight_name_is_one_hour_less_bias() -> None:
    record = one("x  $$<C><Mon Jul 05 10:00:00.000 1999 Pacific Daylight Time><thread=1 (0x1)>\n")
    assert record.time == datetime(1999, 7, 5, 17, 0, tzinfo=UTC)  # PDT is UTC-7


def test_old_text_timestamp_east_of_greenwich() -> None:
    record = one("x  $$<C><Mon Jul 05 10:00:00.000 1999 W. Europe Standard Time><thread=1 (0x1)>\n")
    assert record.time == datetime(1999, 7, 5, 9, 0, tzinfo=UTC)


def test_unknown_zone_name_gives_local_time_flagged() -> None:
    record = one("x  $$<C><Mon Jul 05 10:00:00.000 1999 Atlantis Standard Time><thread=1 (0x1)>\n")
    assert record.time == datetime(1999, 7, 5, 10, 0)
    assert record.time_is_local


def test_seed_mpcontrol_401_line_with_placeholder_time() -> None:
    # the seed prints this line split over three lines "for readability"; in the real log it is one
    # line, and its timestamp is the seed's placeholder "<date time year time zone>"
    record = one(
        "Http verification .sms_aut failed with status code 401, Unauthorized "
        "$$<SMS_MP_CONTROL_MANAGER><date time year time zone><thread=2648 (0xA58)>\n"
    )
    assert record.component == "SMS_MP_CONTROL_MANAGER"
    assert record.thread == "2648"
    assert record.message == "Http verification .sms_aut failed with status code 401, Unauthorized"
    assert record.time is None and record.fields["time_text"] == "date time year time zone"
    assert record.severity == "error"


GRID_GAP = "    "  # the log viewer's columns, as the seed prints them
SEED_SITECOMP_GRID = "".join(
    GRID_GAP.join(row) + "\n"
    for row in [
        (
            'Assigned the "SMS Component Server" role to server MGTPOINT1.' + SITECOMP,
            "12/6/2004 1:21:35 PM",
            "1700 (0x06A4)",
        ),
        ("Synchronizing component server SERVER1..." + SITECOMP, "12/6/2004 1:21:35 PM", "1700 (0x06A4)"),
        (
            "Component SMS_MP_CONTROL_MANAGER flagged for installation. " + SITECOMP,
            "12/6/2004 1:21:36 PM",
            "1700 (0x06A4)",
        ),
        (
            "Failed to send http request /SMS_MP/.sms_aut?MPLIST. Error 12029 SMS_MP_CONTROL_MANAGER",
            "12/2/2004 4:35:05 PM",
            "2532 (0x09E4)",
        ),
        (
            "Http verification .sms_aut succeeded with status code 200, OK SMS_MP_CONTROL_MANAGER",
            "12/6/2004 5:25:06 PM",
            "2008 (0x07D8)",
        ),
    ]
)


def test_seed_sitecomp_lines_as_copied_from_the_log_viewer() -> None:
    records = list(parse_bytes(SEED_SITECOMP_GRID.encode(), "seed.txt"))
    assert [r.format for r in records] == ["sms"] * 5
    assigned, sync, flagged, failed, verified = records
    assert assigned.component == "SMS_SITE_COMPONENT_MANAGER" and assigned.thread == "1700"
    assert assigned.message == 'Assigned the "SMS Component Server" role to server MGTPOINT1.'
    assert assigned.time == datetime(2004, 12, 6, 13, 21, 35) and assigned.time_is_local
    assert sync.message == "Synchronizing component server SERVER1..."
    assert flagged.message == "Component SMS_MP_CONTROL_MANAGER flagged for installation."
    assert failed.component == "SMS_MP_CONTROL_MANAGER" and failed.severity == "error"
    assert failed.time == datetime(2004, 12, 2, 16, 35, 5)
    assert verified.severity == "info" and verified.thread == "2008"


SEED_SITECOMP_TRAILERS = "".join(
    message + trailer(f"12-06-2004 {clock}.000+300") + "\n"
    for message, clock in [
        ("Installing server...", "13:21:37"),
        ("Attempting to obtain an IAbstractNetwork interface from NAL...", "13:21:37"),
        (
            "Successfully called IAbstractNetwork::CreatePath() with NAL path "
            '"MSWNET:\\\\MGTPOINT1\\admin$\\".',
            "13:21:37",
        ),
        ("Drive 'C:\\' is the best drive for the SMS installation directory.", "13:21:38"),
        ("Created SMS installation directory C:\\SMS.", "13:21:38"),
        ("All files installed.", "13:22:10"),
        ("Bootstrap operations completed.", "13:30:02"),
        ("Installed as autostarting service SMS_EXECUTIVE.", "13:30:03"),
    ]
)


def test_seed_sitecomp_walkthrough_in_trailer_format() -> None:
    records = list(parse_bytes(SEED_SITECOMP_TRAILERS.encode(), "sitecomp.log"))
    assert len(records) == SEED_SITECOMP_TRAILERS.count("$$<")
    assert {r.format for r in records} == {"sms"}
    assert records[2].message.endswith('with NAL path "MSWNET:\\\\MGTPOINT1\\admin$\\".')
    assert records[0].time == datetime(2004, 12, 6, 18, 21, 37, tzinfo=UTC)
    assert all(r.severity == "info" for r in records)


STATMSG = (
    'STATMSG: ID=1015 SEV=I LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" SYS=MGTPOINT1 '
    "SITE=ABC PID=2104 TID=3436 GMTDATE=Mon Dec 06 21:35:36.000 2004 "
    'ISTR0="a value with spaces" ISTR1="" ISTR2="x=y" NUMATTRS=0'
)


def test_statmsg_keys_quoted_values_and_gmtdate() -> None:
    fields, severity = parse_statmsg(STATMSG)
    pairs = fields["statmsg"]
    assert pairs["ID"] == "1015" and pairs["SEV"] == "I" and pairs["SYS"] == "MGTPOINT1"
    assert pairs["SOURCE"] == "SMS Server" and pairs["COMP"] == "SMS_MP_CONTROL_MANAGER"
    assert pairs["GMTDATE"] == "Mon Dec 06 21:35:36.000 2004"
    assert pairs["ISTR0"] == "a value with spaces" and pairs["ISTR1"] == "" and pairs["ISTR2"] == "x=y"
    assert pairs["NUMATTRS"] == "0"
    assert fields["status_id"] == 1015
    assert fields["status_time"] == datetime(2004, 12, 6, 21, 35, 36, tzinfo=UTC)
    assert severity == "info"


def test_statmsg_inside_an_sms_record_sets_fields_and_severity() -> None:
    text = STATMSG.replace("ID=1015 SEV=I", "ID=4908 SEV=E")
    record = one(text + trailer("12-06-2004 13:35:36.000+480") + "\n")
    assert record.fields["status_id"] == 4908
    assert record.severity == "error"  # SEV=E, although the text has no error word
    assert record.component == "SMS_SITE_COMPONENT_MANAGER"  # the log's component, not COMP=
    assert record.fields["statmsg"]["COMP"] == "SMS_MP_CONTROL_MANAGER"


def test_statmsg_warning_severity_overrides_text() -> None:
    _, severity = parse_statmsg(STATMSG.replace("SEV=I", "SEV=W"))
    assert severity == "warning"


def test_severity_inference_keywords() -> None:
    assert infer_severity("Failed to grab execution mutex.") == "error"
    assert infer_severity("ERROR: NAL failed to access NAL path") == "error"
    assert infer_severity("MP Installation cannot continue.") == "error"
    assert infer_severity("Setup was unable to create the Internet virtual directory") == "error"
    assert infer_severity("Will retry in 60 minutes") == "warning"
    assert infer_severity("Warning: low disk space") == "warning"
    assert infer_severity("Http verification .sms_aut succeeded with status code 200, OK") == "info"
    assert infer_severity("set ansi_warnings on") == "info"  # inside an identifier: not a keyword


def test_every_keyword_is_recognised() -> None:
    for word in ERROR_WORDS:
        assert infer_severity(f"step 3: {word.upper()} while copying") == "error", word
    for word in WARNING_WORDS:
        assert infer_severity(f"step 3: {word} later") == "warning", word
