"""MPSetup.log: the seed's examples (wrapped lines), both date styles, return codes."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from streams.formats import Record, parse_bytes

# The seed's MPSetup.log when IIS is missing, as printed there (wrapped lines continue the record above).
SEED_IIS_MISSING = "\r\n".join(
    [
        "<12-02-2004 16:06:32> ",
        "=================================================",
        "==================",
        "<12-02-2004 16:06:32>MP Setup Started.... ",
        "<12-02-2004 16:06:32>Parameters: ",
        "\\\\COMPUTER\\C$\\SMS\\bin\\i386\\MPsetup.exe",
        "/install /siteserver:SERVER1",
        "<12-02-2004 16:06:32> Installing the MP",
        "<12-02-2004 16:06:32> Passed OS version check.",
        "<12-02-2004 16:06:32> Error - ",
        "IIS Service is not installed on the Machine - ",
        "MP Installation cannot continue.",
        "",
    ]
)

# The seed's task-scheduler case (MPSetup.log lines around the failed mp.msi run).
SEED_TASK_SCHEDULER = "\r\n".join(
    [
        "<12-02-2004 16:51:56> Installing C:\\SMS\\bin\\i386\\",
        'mp.msi CCMINSTALLDIR="C:\\SMS_CCM" CCMSERVERDATAROOT=',
        '"C:\\SMS" CCMENABLELOGGING=TRUE CCMLOGLEVEL=1 ',
        "CCMLOGMAXSIZE=1000000 CCMLOGMAXHISTORY=1",
        "<12-02-2004 16:54:27> Unknown error code: 452765",
        "<12-02-2004 16:54:27> [16:54:27] @@ERR:25006",
        "<12-02-2004 16:54:27> Setup was unable to create ",
        "the Internet virtual directory CCM_Incoming",
        "The error code is 80041315",
        "<12-02-2004 16:55:01> MP.MSI exited with return",
        "code: 1603",
        "<12-02-2004 16:55:01> Backing up MPMSI.log to ",
        "C:\\SMS\\logs\\MPMSI.log.LastError",
        "<12-02-2004 16:55:01> Fatal MSI Error - ",
        "MP.MSI could not be installed.",
        "",
    ]
)

STAMP = re.compile(r"^<\d\d[-/]\d\d[-/]\d{2,4} \d\d:\d\d:\d\d>", re.M)


def mpsetup(text: str) -> list[Record]:
    return list(parse_bytes(text.encode(), "MPSetup.log"))


def test_seed_iis_missing() -> None:
    records = mpsetup(SEED_IIS_MISSING)
    assert {r.format for r in records} == {"mpsetup"}
    assert len(records) == len(STAMP.findall(SEED_IIS_MISSING))
    assert records[0].time == datetime(2004, 12, 2, 16, 6, 32) and records[0].time_is_local
    started = records[1]
    assert started.message == "MP Setup Started...."
    parameters = records[2]
    assert parameters.message.split("\n") == [
        "Parameters:",
        "\\\\COMPUTER\\C$\\SMS\\bin\\i386\\MPsetup.exe",
        "/install /siteserver:SERVER1",
    ]
    error = records[-1]
    assert error.message.replace("\n", " ").startswith("Error - IIS Service is not installed on the Machine")
    assert error.severity == "error"
    assert records[3].severity == "info"


def test_seed_task_scheduler_failure() -> None:
    records = mpsetup(SEED_TASK_SCHEDULER)
    assert len(records) == len(STAMP.findall(SEED_TASK_SCHEDULER))
    exited = next(r for r in records if r.message.startswith("MP.MSI exited"))
    assert exited.fields["return_code"] == 1603 and exited.severity == "error"
    assert next(r for r in records if "@@ERR:25006" in r.message).severity == "error"
    unable = next(r for r in records if "unable to create" in r.message)
    assert "80041315" in unable.message and unable.line == 7
    assert records[-1].message.replace("\n", " ") == "Fatal MSI Error - MP.MSI could not be installed."


def test_success_return_code_and_two_digit_year() -> None:
    text = (
        "<12/06/04 15:43:41> MP.MSI exited with return code: 0 \r\n"
        "<12/06/04 15:43:41>Installation was successful.\r\n"
    )
    exited, done = mpsetup(text)
    assert exited.fields["return_code"] == 0 and exited.severity == "info"
    assert exited.time == datetime(2004, 12, 6, 15, 43, 41)
    assert done.message == "Installation was successful."


def test_record_offsets_cover_wrapped_lines() -> None:
    records = mpsetup(SEED_TASK_SCHEDULER)
    data = SEED_TASK_SCHEDULER.encode()
    assert records[0].offset == 0
    assert all(a.offset + a.size == b.offset for a, b in itertools.pairwise(records))
    assert records[-1].offset + records[-1].size == len(data)


def test_lines_before_the_first_stamp_are_raw() -> None:
    records = mpsetup("preamble\n<12-06-2004 15:35:41> MP Setup Started....\n")
    assert [r.format for r in records] == ["raw", "mpsetup"]
