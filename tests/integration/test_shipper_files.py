"""Shipper behaviour on real files with the file:// output: rotation, truncation, deletion, IIS days,
long lines, UTF-16, partial lines and records, restarts."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from pathlib import Path

from shipper.checkpoint import Checkpointer
from streams.formats.api import parse_path
from tests.shipper_harness import (
    LiveShipper,
    make_config,
    messages,
    metric,
    new_metrics,
    open_fds_to,
    read_output,
    ship_once,
    ship_once_async,
    sms_line,
)

CORPUS = os.path.join(os.path.dirname(__file__), "..", "corpus", "real")  # tests/corpus/real


def lines(prefix: str, start: int, stop: int) -> str:
    return "".join(sms_line(f"{prefix}-{i}") for i in range(start, stop))


def names(prefix: str, start: int, stop: int) -> set[str]:
    return {f"{prefix}-{i}" for i in range(start, stop)}


def rewrite(path: Path, text: str = "") -> None:
    """Truncate a file in place (same inode) and write ``text`` from offset 0 with the same handle."""
    with open(path, "r+", newline="") as handle:
        handle.truncate(0)
        handle.write(text)


def assert_no_duplicates(envelopes: list[dict]) -> None:
    ids = Counter(e["id"] for e in envelopes)
    assert [i for i, n in ids.items() if n > 1] == []
    texts = Counter(messages(envelopes))
    assert [t for t, n in texts.items() if n > 1] == []


async def test_rollover_reads_the_rotated_file_to_its_end_then_the_new_file(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "SiteComp.log"
    rotated = tmp_path / "logs" / "SiteComp.lo_"
    metrics = new_metrics()
    async with LiveShipper(config, metrics) as live:
        writer = open(log, "a", newline="")  # noqa: SIM115 - the writer keeps its handle across the rename
        writer.write(lines("a", 0, 100))
        writer.flush()
        await live.wait_for_messages(names("a", 0, 100))
        writer.write(lines("a", 100, 150))  # written, maybe not read yet, then the rollover
        writer.flush()
        os.rename(log, rotated)
        writer.write(lines("a", 150, 160))  # the old handle still writes into the rotated file
        writer.close()
        log.write_text(lines("b", 0, 50), newline="")
        await live.wait_for_messages(names("a", 0, 160) | names("b", 0, 50))
        await live.wait_until(lambda: not open_fds_to(rotated), "the rotated file is closed")
        assert metric(metrics, "rotations_total") >= 1
    out = read_output(config)
    assert_no_duplicates(out)
    assert set(messages(out)) == names("a", 0, 160) | names("b", 0, 50)
    file_ids = {e["file_id"] for e in out if e["record"]["message"].startswith("a-")}
    assert len(file_ids) == 1  # the rotated file kept its identity across the rename
    assert {e["kind"] for e in out} == {"sitecomp"}


async def test_truncation_restarts_at_zero_under_a_new_identity(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "MPControl.log"
    metrics = new_metrics()
    async with LiveShipper(config, metrics) as live:
        log.write_text(lines("old", 0, 40), newline="")
        await live.wait_for_messages(names("old", 0, 40))
        rewrite(log)
        await live.wait_until(lambda: metric(metrics, "truncations_total") >= 1, "truncation seen")
        log.write_text(lines("new", 0, 5), newline="")
        await live.wait_for_messages(names("new", 0, 5))
    out = read_output(config)
    assert_no_duplicates(out)
    old_ids = {e["file_id"] for e in out if e["record"]["message"].startswith("old-")}
    new_ids = {e["file_id"] for e in out if e["record"]["message"].startswith("new-")}
    assert old_ids.isdisjoint(new_ids)
    assert min(e["offset"] for e in out if e["record"]["message"].startswith("new-")) == 0


async def test_copy_truncate_is_read_from_the_start(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "MPControl.log"
    async with LiveShipper(config) as live:
        log.write_text(lines("before", 0, 30), newline="")
        await live.wait_for_messages(names("before", 0, 30))
        shutil.copy(log, tmp_path / "MPControl.log.1")  # copy-truncate, as logrotate does
        rewrite(log)
        with open(log, "a", newline="") as handle:
            handle.write(lines("after", 0, 3))
        await live.wait_for_messages(names("after", 0, 3))
    assert_no_duplicates(read_output(config))


async def test_rewrite_larger_than_before_is_not_read_as_a_continuation(tmp_path):
    config = make_config(tmp_path, rescan_interval_s=60.0)  # only the wake-up check can notice
    log = tmp_path / "logs" / "MPControl.log"
    metrics = new_metrics()
    async with LiveShipper(config, metrics) as live:
        log.write_text(lines("short", 0, 5), newline="")
        await live.wait_for_messages(names("short", 0, 5))
        rewrite(log, lines("long", 0, 40))  # truncate and regrow past the read offset at once
        await live.wait_for_messages(names("long", 0, 40))
    out = read_output(config)
    assert_no_duplicates(out)
    assert set(messages(out)) == names("short", 0, 5) | names("long", 0, 40)
    assert metric(metrics, "truncations_total") == 1


def test_rewritten_past_the_checkpoint_while_stopped_is_read_from_the_start(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "MPControl.log"
    log.write_text(lines("first", 0, 10), newline="")
    ship_once(config)
    # copy-truncate and regrowth beyond the old offset while the shipper was down: only the
    # fingerprint (first lines) tells that this is not the file the checkpoint remembers
    rewrite(log, lines("second", 0, 30))
    ship_once(config)
    out = read_output(config)
    assert set(messages(out)) == names("first", 0, 10) | names("second", 0, 30)
    assert_no_duplicates(out)


async def test_deleted_file_is_drained_then_closed_and_forgotten(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "SiteComp.log"
    async with LiveShipper(config) as live:
        log.write_text(lines("x", 0, 10), newline="")
        await live.wait_for_messages(names("x", 0, 10))
        with open(log, "a", newline="") as handle:
            handle.write(lines("x", 10, 500))
        log.unlink()
        await live.wait_for_messages(names("x", 0, 500))
        await live.wait_until(lambda: not open_fds_to(log), "the deleted file is closed")
        await live.wait_until(
            lambda: Checkpointer(config.state_dir).load() == {}, "the checkpoint forgets the deleted file"
        )
    assert_no_duplicates(read_output(config))


IIS_HEADER = (
    "#Software: Microsoft Internet Information Services 6.0\r\n"
    "#Version: 1.0\r\n"
    "#Date: {day} 00:00:00\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip sc-status\r\n"
)


def iis_lines(day: str, count: int) -> str:
    return "".join(
        f"{day} 00:{i // 60:02d}:{i % 60:02d} 10.0.0.1 GET /SMS_MP/.sms_aut MPLIST{i} 80 - 10.0.0.2 200\r\n"
        for i in range(count)
    )


async def test_a_new_iis_file_every_day(tmp_path):
    config = make_config(tmp_path)
    folder = tmp_path / "logs" / "W3SVC1"
    folder.mkdir()
    days = ["2004-12-06", "2004-12-07", "2004-12-08"]
    async with LiveShipper(config) as live:
        for number, day in enumerate(days):
            name = folder / f"u_ex0412{6 + number:02d}.log"
            name.write_text(IIS_HEADER.format(day=day) + iis_lines(day, 20), newline="")
            await live.wait_until(lambda n=number: len(live.output()) == 20 * (n + 1), f"day {day} shipped")
    out = read_output(config)
    assert_no_duplicates([dict(e, record=dict(e["record"], message=e["id"])) for e in out])
    assert len({e["file_id"] for e in out}) == 3
    assert {e["kind"] for e in out} == {"iis"}
    assert {e["record"]["format"] for e in out} == {"iis"}
    assert {e["record"]["fields"]["cs-uri-query"] for e in out} == {f"MPLIST{i}" for i in range(20)}


def test_ten_mib_line_is_shipped_truncated_and_the_file_goes_on(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "MPControl.log"
    with open(log, "w", newline="") as handle:
        handle.write(lines("pre", 0, 3))
        handle.write("y" * (10 << 20) + "  " + "\r\n")
        handle.write(lines("post", 0, 3))
    metrics = new_metrics()
    ship_once(config, metrics)
    out = read_output(config)
    assert [e["record"]["truncated"] for e in out] == [False] * 3 + [True] + [False] * 3
    assert set(messages(out[4:])) == names("post", 0, 3)
    assert metric(metrics, "truncated_lines_total") == 1
    assert len(out[3]["record"]["raw"]) <= config.tail.max_line_bytes


def test_utf16le_msi_log_is_shipped_whole(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "MPMSI.log"
    shutil.copy(os.path.join(CORPUS, "Dimas-Group__PythonScripts__msi_install.log"), log)
    ship_once(config)
    out = read_output(config)
    expected = [(r.offset, r.message) for r in parse_path(log, "msi")]
    assert [(e["offset"], e["record"]["message"]) for e in out] == expected
    assert {e["record"]["format"] for e in out} == {"msi"}
    assert Checkpointer(config.state_dir).load().popitem()[1].encoding == "utf-16-le"


async def test_a_file_that_stays_partial_ships_complete_lines_only(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "SiteComp.log"
    async with LiveShipper(config) as live:
        with open(log, "w", newline="") as handle:
            handle.write(sms_line("whole") + "half of a line")
        await live.wait_for_messages({"whole"})
        # several idle, rescan and close timers pass: the partial line must still wait
        await asyncio.sleep(6 * config.tail.multiline_idle_s)
        assert messages(live.output()) == ["whole"]
        entry = next(iter(Checkpointer(config.state_dir).load().values()))
        assert entry.offset == len(sms_line("whole"))
        with open(log, "a", newline="") as handle:
            handle.write(" and the rest  " + sms_line("x")[len("x  ") :])
        await live.wait_until(lambda: len(live.output()) == 2, "the completed line")
    assert messages(read_output(config))[1] == "half of a line and the rest"


async def test_held_multi_line_record_is_flushed_after_idle_time(tmp_path):
    config = make_config(tmp_path)
    log = tmp_path / "logs" / "MPSetup.log"
    async with LiveShipper(config) as live:
        log.write_text(
            "<12-06-2004 15:35:41> MP Setup Started....\r\n"
            "<12-06-2004 15:35:42> Installing C:\\SMS\\bin\\i386\\mp.msi with\r\n"
            "    CCMINSTALLDIR=C:\\SMS\\CCM\r\n",
            newline="",
        )
        await live.wait_until(lambda: len(live.output()) == 2, "the held record after idle time")
    last = read_output(config)[-1]["record"]
    assert "mp.msi with" in last["message"] and "CCMINSTALLDIR" in last["message"]


def test_restart_from_checkpoint_ships_nothing_twice(tmp_path):
    config = make_config(tmp_path)
    logs = tmp_path / "logs"
    (logs / "SiteComp.log").write_text(lines("s", 0, 200), newline="")
    (logs / "MPControl.log").write_text(lines("m", 0, 100), newline="")
    first = ship_once(config)
    assert first.records == 300
    assert ship_once(config).records == 0
    with open(logs / "SiteComp.log", "a", newline="") as handle:
        handle.write(lines("s", 200, 250))
    os.rename(logs / "MPControl.log", logs / "MPControl.lo_")
    (logs / "MPControl.log").write_text(lines("m", 100, 120), newline="")
    assert ship_once(config).records == 70
    out = read_output(config)
    assert_no_duplicates(out)
    assert set(messages(out)) == names("s", 0, 250) | names("m", 0, 120)


async def test_more_files_than_the_descriptor_budget(tmp_path):
    config = make_config(tmp_path, max_open_files=8)
    logs = tmp_path / "logs"
    for n in range(40):
        (logs / f"comp{n:02d}.log").write_text(lines(f"f{n:02d}", 0, 5), newline="")
    await ship_once_async(config)
    expected = {f"f{n:02d}-{i}" for n in range(40) for i in range(5)}
    assert set(messages(read_output(config))) == expected
    async with LiveShipper(config) as live:
        for n in range(40):
            with open(logs / f"comp{n:02d}.log", "a", newline="") as handle:
                handle.write(lines(f"f{n:02d}", 5, 7))
        expected |= {f"f{n:02d}-{i}" for n in range(40) for i in range(5, 7)}
        await live.wait_for_messages(expected)
        assert len(open_fds_to(logs)) <= 8 + 1  # the budget, plus one being identified
    assert_no_duplicates(read_output(config))


async def test_a_log_folder_that_does_not_exist_yet_is_shipped_once_it_appears(tmp_path):
    """``--path SMS_CCM/Logs`` given before the MP role is installed: the folder comes later."""
    later = tmp_path / "logs" / "SMS_CCM" / "Logs"
    single = tmp_path / "logs" / "later.log"  # and a plain file path that appears later
    config = make_config(tmp_path, [str(later), str(single)])
    async with LiveShipper(config) as live:
        await asyncio.sleep(0.3)
        later.mkdir(parents=True)
        (later / "MPControl.log").write_text(lines("ccm", 0, 3), newline="")
        (later / "notes.txt").write_text("not a log\n")
        single.write_text(lines("single", 0, 2), newline="")
        await live.wait_for_messages(names("ccm", 0, 3) | names("single", 0, 2))
    assert set(messages(read_output(config))) == names("ccm", 0, 3) | names("single", 0, 2)


def test_a_path_not_there_yet_stands_for_the_file_and_the_folder(tmp_path):
    from shipper.paths import DEFAULT_GLOBS, expand_patterns

    missing = str(tmp_path / "SMS_CCM" / "Logs")
    assert expand_patterns([missing]) == [missing] + [os.path.join(missing, g) for g in DEFAULT_GLOBS]
    (tmp_path / "file.log").write_text("x\n")
    assert expand_patterns([str(tmp_path / "file.log")]) == [str(tmp_path / "file.log")]
