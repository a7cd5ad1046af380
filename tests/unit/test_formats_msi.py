"""Windows Installer logs: the seed's MPMSI.log excerpt, banners and locales, actions, return values."""

from __future__ import annotations

import codecs
from datetime import datetime

from streams.formats import Record, parse_bytes

# The seed's MPMSI.log excerpt (domain controller case), lines as printed there ("split for readability"):
# physical lines that do not start with "MSI (" continue the record above them.
SEED_MPMSI = "\r\n".join(
    [
        "MSI (c) (A0:18): Resetting cached policy values ",
        "MSI (c) (A0:18): Machine policy value 'Debug' is 0 ",
        "MSI (c) (A0:18): ******* RunEngine: ",
        "******* Product: D:\\SMS\\bin\\i386\\mp.msi ",
        "******* Action: ",
        "******* CommandLine: ********** ",
        "MSI (c) (A0:18): Client-side and UI is none or ",
        "basic: Running entire install on the server. ",
        "MSI (c) (A0:18): Failed to grab execution mutex. ",
        "System error 258. ",
        "MSI (c) (A0:18): Cloaking enabled. ",
        "MSI (c) (A0:18): Attempting to enable all disabled",
        "privileges before calling Install on Server MSI (c)",
        "(A0:18):Incrementing counter to disable shutdown. ",
        "Counter after increment: 0 ",
        "MSI (c) (A0:18): Decrementing counter to disable ",
        "shutdown. If counter >= 0,shutdown will be denied. ",
        "Counter after decrement: -1 ",
        "MSI (c) (A0:18): MainEngineThread is returning 1618",
        "",
    ]
)


def msi(text: str, utf16: bool = True) -> list[Record]:
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le") if utf16 else text.encode()
    return list(parse_bytes(data, "MPMSI.log"))


def test_seed_mutex_excerpt() -> None:
    records = msi(SEED_MPMSI)
    assert {r.format for r in records} == {"msi"}
    assert len(records) == sum(1 for line in SEED_MPMSI.split("\r\n") if line.startswith("MSI ("))
    mutex = next(r for r in records if "execution mutex" in r.message)
    assert mutex.message.startswith("Failed to grab execution mutex.")
    assert "System error 258." in mutex.message
    assert mutex.severity == "error"
    assert mutex.fields["context"] == "c" and mutex.fields["pid"] == "A0" and mutex.fields["tid"] == "18"
    last = records[-1]
    assert last.fields["exit_code"] == 1618 and last.severity == "error"
    assert all(r.time is None for r in records)  # no banner, no times in this excerpt
    assert records[2].message.count("\n") == 3  # RunEngine + its three "*******" lines


VERBOSE = "\r\n".join(
    [
        "=== Verbose logging started: 24/03/2026  23:59:58  Build type: SHIP UNICODE 5.00.10011.00  "
        "Calling process: C:\\WINDOWS\\system32\\msiexec.exe ===",
        "MSI (c) (34:70) [23:59:58:963]: Font created.",
        "",
        "MSI (s) (F0:44) [23:59:59:001]: Doing action: INSTALL",
        "Action start 23:59:59: INSTALL.",
        "MSI (s) (F0!60) [00:00:01:203]: PROPERTY CHANGE: Adding X property.",
        "MSI (s) (F0:44) [00:00:01:500]: Product: Redball -- Error 1310. Error writing to file: C:\\x.dll.",
        "Error 1310. Error writing to file: C:\\x.dll.",
        "Action ended 0:00:02: InstallFinalize. Return value 3.",
        "Action ended 0:00:02: INSTALL. Return value 2.",
        "Property(S): ProductCode = {0688EA09-22E6-4905-9B74-06742011665C}",
        "MSI (s) (F0:44) [00:00:03:000]: Windows Installer installed the product. Installation success or "
        "error status: 0.",
        "MSI (s) (F0:44) [00:00:03:001]: MainEngineThread is returning 3010",
        "=== Logging stopped: 25/03/2026  00:00:03 ===",
        "",
    ]
)


def test_verbose_log_dates_times_and_rollover() -> None:
    records = msi(VERBOSE)
    banner, font, doing, start, change = records[:5]
    assert banner.fields["date_order"] == "dmy"
    assert banner.time == datetime(2026, 3, 24, 23, 59, 58)
    assert font.time == datetime(2026, 3, 24, 23, 59, 58, 963000) and font.time_is_local
    assert start.fields["action"] == "INSTALL" and start.fields["action_event"] == "start"
    # the clock went from 23:59 to 00:00: the next day
    assert change.time == datetime(2026, 3, 25, 0, 0, 1, 203000)
    assert change.fields["pid"] == "F0" and change.fields["tid"] == "60"
    assert doing.time == datetime(2026, 3, 24, 23, 59, 59, 1000)
    assert start.time == datetime(2026, 3, 24, 23, 59, 59)  # "Action start" lines have whole seconds


def test_verbose_log_return_values_errors_and_exit_codes() -> None:
    records = msi(VERBOSE)
    by_text = {r.message.split("\n")[0][:40]: r for r in records}
    product_error = next(r for r in records if "-- Error 1310" in r.message)
    assert product_error.fields["msi_error"] == 1310 and product_error.severity == "error"
    standalone = next(r for r in records if r.message.startswith("Error 1310."))
    assert standalone.fields["msi_error"] == 1310 and standalone.severity == "error"
    ended = [r for r in records if r.fields.get("action_event") == "ended"]
    assert [(r.fields["action"], r.fields["return_value"], r.severity) for r in ended] == [
        ("InstallFinalize", 3, "error"),
        ("INSTALL", 2, "warning"),
    ]
    status = next(r for r in records if "install_status" in r.fields)
    assert status.fields["install_status"] == 0 and status.severity == "info"
    engine = next(r for r in records if "exit_code" in r.fields)
    assert engine.fields["exit_code"] == 3010 and engine.severity == "warning"  # success, reboot pending
    prop = next(r for r in records if r.message.startswith("Property(S)"))
    assert prop.time == ended[-1].time  # no own time: the time of the record before
    assert by_text  # every record has a message


def test_non_verbose_log_month_first() -> None:
    text = "\r\n".join(
        [
            "=== Logging started: 4/25/2015  4:25:27 ===",
            "Action start 4:25:27: INSTALL.",
            "Action ended 4:25:27: AppSearch. Return value 1.",
            "WixRemoveFoldersEx:  Error 0x80070057: Missing folder property",
            "CustomAction WixRemoveFoldersEx returned actual error code 1603 but will be translated to "
            "success due to continue marking",
            "Action ended 4:25:28: INSTALL. Return value 1.",
            "=== Logging stopped: 4/25/2015  4:25:28 ===",
            "",
        ]
    )
    records = msi(text)
    assert len(records) == 5
    assert records[0].fields["date_order"] == "mdy" and not records[0].fields["date_order_assumed"]
    assert records[1].time == datetime(2015, 4, 25, 4, 25, 27)
    app_search = records[2]
    assert app_search.fields["return_value"] == 1 and app_search.severity == "info"
    assert "translated to success" in app_search.message  # continuation lines stay with their record


def test_ambiguous_banner_defaults_to_month_first_and_says_so() -> None:
    records = msi("=== Verbose logging started: 7/8/2026  12:02:17  Build type: SHIP ===\r\n")
    assert records[0].time == datetime(2026, 7, 8, 12, 2, 17)
    assert records[0].fields["date_order"] == "mdy" and records[0].fields["date_order_assumed"] is True


def test_utf8_msi_log_is_detected_too() -> None:
    text = "=== Logging started: 4/25/2015  4:25:27 ===\nAction start 4:25:27: INSTALL.\n"
    records = msi(text, utf16=False)
    assert [r.format for r in records] == ["msi", "msi"]
