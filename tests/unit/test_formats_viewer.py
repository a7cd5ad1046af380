"""Log text pasted from a log viewer (SMS Trace, CMTrace) or from the seed (issue 13, item 3): rows of
message, component, local date and time, thread parse as SMS records with all four; the seed's rows
split over several lines are whole records; nothing is lost; and a site's SiteComp.log pasted from a
viewer diagnoses like the log itself."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.formats.api import ParseStats, parse_bytes, parse_path
from tests.fixtures.logsets import write_logset
from tests.views import essentials

PASTED = Path(__file__).resolve().parents[1] / "fixtures" / "pasted"
C = "SMS_SITE_COMPONENT_MANAGER"


@pytest.mark.parametrize(
    ("row", "when"),
    [
        (
            f"Installing server...   {C}   12/6/2004 1:21:35 PM   1700 (0x06A4)",
            datetime(2004, 12, 6, 13, 21, 35),
        ),
        (
            f"Installing server...\t{C}\t12/6/2004 1:21:35 PM\t1700 (0x06A4)",
            datetime(2004, 12, 6, 13, 21, 35),
        ),
        (f"Installing server... {C} 12/6/2004 12:05:01 AM 1700 (0x06A4)", datetime(2004, 12, 6, 0, 5, 1)),
        (
            f"Installing server... {C} 12/6/2004 1:21:35.250 PM 1700 (0x06A4)",
            datetime(2004, 12, 6, 13, 21, 35, 250000),
        ),
        (f"Installing server... {C} 06.12.2004 13:21:35 1700 (0x06A4)", datetime(2004, 12, 6, 13, 21, 35)),
        (f"Installing server... {C} 2004-12-06 13:21:35 1700 (0x06A4)", datetime(2004, 12, 6, 13, 21, 35)),
        (f"Installing server... {C} 2004/12/06 13:21:35 1700 (0x06A4)", datetime(2004, 12, 6, 13, 21, 35)),
        (f"Installing server... {C} 16/12/2004 13:21:35 1700 (0x06A4)", datetime(2004, 12, 16, 13, 21, 35)),
        (f"Installing server... {C} 12/6/2004 13:21:35 1700 (0x06A4)  ", datetime(2004, 12, 6, 13, 21, 35)),
    ],
    ids=[
        "spaces",
        "tabs",
        "midnight-am",
        "millis",
        "dotted",
        "iso",
        "japanese",
        "day-first",
        "24h-trailing-space",
    ],
)
def test_a_pasted_row_has_message_component_local_time_and_thread(row: str, when: datetime) -> None:
    [record] = list(parse_bytes((row + "\r\n").encode(), "pasted.log"))
    assert (record.format, record.component, record.thread) == ("sms", C, "1700")
    assert record.message == "Installing server..."
    assert record.time == when and record.time_is_local


def test_an_impossible_date_keeps_the_record_without_a_time() -> None:
    data = (
        f"first {C} 12/6/2004 1:21:35 PM 1700 (0x06A4)\r\nsecond {C} 13/13/2004 1:21:35 PM 1700 (0x06A4)\r\n"
    )
    records = list(parse_bytes(data.encode(), "pasted.log"))
    assert [(r.message, r.time is None) for r in records] == [("first", False), ("second", True)]


def test_the_seeds_split_rows_are_whole_records_and_nothing_is_lost() -> None:
    path = PASTED / "seed_sitecomp_split.txt"
    stats = ParseStats()
    records = list(parse_path(path, stats=stats))
    assert sum(r.size for r in records) + stats.skipped_bytes == path.stat().st_size
    rows = [r for r in records if r.format == "sms"]
    assert len(rows) == 16
    assert {(r.component, r.thread, r.time) for r in rows} == {(C, "1700", datetime(2004, 12, 6, 13, 21, 37))}
    messages = [r.message for r in rows]
    assert messages[0] == "Installing server..."
    assert (
        "Attempting to find the best drive for the SMS installation directory on server 'MGTPOINT1'."
        in messages
    )
    assert "Attempting to create the SMS installation directory." in messages  # component glued to the text
    assert "NAL INetworkObject::IsAccessible() succeeded. The server is accessible." in messages
    # the prose before the excerpt and the row cut off at its end are kept as raw records, not dropped
    raw = [r.message for r in records if r.format == "raw"]
    assert raw[0].startswith("Note: The line has been split") and raw[-1].strip() == C


_TRAILER = re.compile(
    r"\s*\$\$<([^<>]*)><(\d\d)-(\d\d)-(\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{3})[^<>]*><thread=(\d+)[^<>]*>$"
)


def _as_pasted(line: str) -> str:
    """One SMS log line as a viewer copies it: message, component, US date and 12-hour time, thread."""
    found = _TRAILER.search(line)
    if found is None:
        return line  # a continuation line of a multi-line message stays as it is
    comp, mo, d, y, h, mi, s, ms, thread = found.groups()
    hour = int(h)
    clock = f"{hour % 12 or 12}:{mi}:{s}.{ms} {'PM' if hour >= 12 else 'AM'}"
    return f"{line[: found.start()]}\t{comp}\t{int(mo)}/{int(d)}/{y} {clock}\t{thread} (0x{int(thread):04X})"


def test_a_sitecomp_log_pasted_from_a_viewer_diagnoses_like_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = write_logset("demo", tmp_path / "original")
    pasted = write_logset("demo", tmp_path / "pasted")
    log = pasted / "SERVER1" / "SMS" / "Logs" / "sitecomp.log"
    text = log.read_text("utf-8")
    offsets = {m.group(1) for m in re.finditer(r"\d\d:\d\d:\d\d\.\d{3}([+-]\d+)>", text)}
    assert len(offsets) == 1  # one bias in the file: the zone the pasted local times are in
    minutes = -int(offsets.pop())  # SMS bias is minutes west of UTC
    tz = f"SERVER1={'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    pasted_lines = [_as_pasted(line) for line in text.splitlines()]
    assert not any("$$<" in line for line in pasted_lines)
    log.write_text("\r\n".join(pasted_lines) + "\r\n", "utf-8")
    main(["diagnose", "--json", str(original)])
    want = essentials(orjson.loads(capsys.readouterr().out))
    main(["diagnose", "--json", "--tz", tz, str(pasted)])
    assert essentials(orjson.loads(capsys.readouterr().out)) == want
