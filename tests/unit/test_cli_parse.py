"""``mpwatch parse``: JSON lines on stdout, summary and per-file errors on stderr, exit status."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.cli import diagnose, main, parse
from streams.cli.common import BULK_GC_THRESHOLD

REPO_ROOT = Path(__file__).resolve().parents[2]
SMS = (
    "Http verification .sms_aut succeeded with status code 200, OK"
    "  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 17:25:06.000+480><thread=2008 (0x7D8)>\r\n"
)
CMTRACE = (
    '<![LOG[Failed to download]LOG]!><time="10:19:13.567+240" date="10-18-2019" component="OSD" context="" '
    'type="3" thread="2580" file="a.cpp:1">\r\n'
)


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, Path]:
    sms = tmp_path / "MPControl.log"
    sms.write_text(SMS + "stray line without trailer\r\n" + SMS, newline="")
    cm = tmp_path / "ccmexec.log"
    cm.write_text(CMTRACE, newline="")
    return sms, cm


def test_prints_one_json_object_per_record(
    logs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sms, cm = logs
    assert main(["parse", str(sms), str(cm)]) == 0
    captured = capsys.readouterr()
    objects = [orjson.loads(line) for line in captured.out.splitlines()]
    assert [o["format"] for o in objects] == ["sms", "sms", "cmtrace"]
    first = objects[0]
    keys = (
        "time",
        "format",
        "component",
        "thread",
        "severity",
        "message",
        "file",
        "offset",
        "line",
        "fields",
    )
    assert set(keys) <= set(first)
    assert first["time"] == "2004-12-07T01:25:06Z"
    assert first["component"] == "SMS_MP_CONTROL_MANAGER" and first["thread"] == "2008"
    assert first["file"] == str(sms) and first["offset"] == 0 and first["line"] == 1
    second = objects[1]
    assert second["line"] == 2 and second["message"].startswith("stray line without trailer\n")
    assert objects[2]["severity"] == "error" and objects[2]["time"] == "2019-10-18T14:19:13.567000Z"
    assert "3 record(s)" in captured.err and "cmtrace 1" in captured.err and "sms 2" in captured.err
    assert "0 raw line(s)" in captured.err


def test_raw_lines_are_printed_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    assert main(["parse", str(path)]) == 0
    captured = capsys.readouterr()
    objects = [orjson.loads(line) for line in captured.out.splitlines()]
    assert [(o["format"], o["message"]) for o in objects] == [("raw", "hello"), ("raw", "world")]
    assert "2 raw line(s)" in captured.err


def test_forced_format(logs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, cm = logs
    assert main(["parse", "--format", "sms", str(cm)]) == 0
    objects = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["format"] for o in objects] == ["raw"]


def test_unreadable_file_is_reported_and_the_rest_still_parsed(
    logs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sms, cm = logs
    missing = tmp_path / "gone.log"
    assert main(["parse", str(missing), str(sms), str(tmp_path), str(cm)]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 2
    assert str(missing) in errors[0] and str(tmp_path) in errors[1]
    assert "2 file(s) could not be read" in captured.err


def test_runs_as_a_process(logs: tuple[Path, Path]) -> None:
    sms, _ = logs
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "parse", str(sms)],
        capture_output=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0
    assert [orjson.loads(line)["format"] for line in done.stdout.splitlines()] == ["sms", "sms"]
    assert b"mpwatch parse:" in done.stderr


def test_parse_and_diagnose_run_with_the_bulk_gc_thresholds_and_restore_them(
    logs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[int, int, int]] = []
    for module, name in ((parse, "_run"), (diagnose, "_run_cli")):
        real = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda args, real=real: seen.append(gc.get_threshold()) or real(args)
        )
    before = gc.get_threshold()
    assert main(["parse", str(logs[0])]) == 0
    assert main(["diagnose", "--json", "--host", f"MP01={logs[0]}"]) == 0
    capsys.readouterr()
    assert seen == [BULK_GC_THRESHOLD, BULK_GC_THRESHOLD] and gc.get_threshold() == before
