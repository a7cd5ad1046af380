"""``mpwatch diagnose``: the exact --json shape, inputs (folder, zip, file, --host), options, errors."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.loader import discover
from streams.render import render
from tests.fixtures.logsets import write_logset

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    for name in ("success", "concurrent_installs", "iis_not_installed", "install_retrying"):
        write_logset(name, root)
    return root


def diagnose(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diagnose", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_view(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = diagnose(capsys, "--json", *argv)
    assert code == 0, err
    return orjson.loads(out)


def test_json_has_exactly_the_documented_shape(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    view = json_view(capsys, str(logs / "concurrent_installs"))
    assert list(view) == ["now", "servers"] and ISO_Z.match(view["now"])
    names = [s["server"] for s in view["servers"]]
    assert names == sorted(names) == ["MGTPOINT1", "MGTPOINT2"]  # the site server is not a target
    for server in view["servers"]:
        assert list(server) == ["server", "state", "diagnoses", "timeline"]
        for diag in server["diagnoses"]:
            assert list(diag) == ["code", "title", "cause", "remedy", "first_seen", "last_seen", "evidence"]
            assert ISO_Z.match(diag["first_seen"]) and ISO_Z.match(diag["last_seen"])
            assert diag["first_seen"] <= diag["last_seen"] and diag["evidence"]
            for item in diag["evidence"]:
                assert list(item) == ["host", "file", "line", "time", "text"]
                assert ISO_Z.match(item["time"]) and isinstance(item["line"], int) and item["text"]
        times = [entry["time"] for entry in server["timeline"]]
        assert times == sorted(times)
        for entry in server["timeline"]:
            assert list(entry) == ["time", "kind", "host", "file", "line", "message"]
            assert ISO_Z.match(entry["time"])


def test_a_zip_reads_like_its_folder(capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path) -> None:
    folder = logs / "success"
    archive = tmp_path / "collected.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path("success") / path.relative_to(folder))  # with a wrapping folder
    assert json_view(capsys, str(archive)) == json_view(capsys, str(folder))


def test_rotated_file_is_read_before_the_live_one(logs: Path) -> None:
    names = [s.file_id for s in discover([str(logs / "install_retrying")]) if s.host == "SERVER1"]
    assert names == ["SMS/Logs/sitecomp.lo_", "SMS/Logs/sitecomp.log"]


def test_single_file_takes_its_host_from_the_path_or_from_host_option(
    capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path
) -> None:
    mpsetup = logs / "iis_not_installed" / "MGTPOINT1" / "SMS" / "Logs" / "MPSetup.log"
    from_path = json_view(capsys, str(mpsetup))
    assert [(s["server"], s["state"]) for s in from_path["servers"]] == [("MGTPOINT1", "failed")]
    assert [d["code"] for d in from_path["servers"][0]["diagnoses"]] == ["IIS_NOT_INSTALLED"]
    loose = tmp_path / "setup.log"
    shutil.copy(mpsetup, loose)
    named = json_view(capsys, "--host", "mp7.corp.example.com=" + str(loose))
    assert [s["server"] for s in named["servers"]] == ["MP7"]


def test_a_host_folder_given_directly_is_one_host(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    view = json_view(capsys, str(logs / "success" / "MGTPOINT1"))
    assert [s["server"] for s in view["servers"]] == ["MGTPOINT1"]


def test_now_option_moves_the_evaluation_time(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    folder = str(logs / "success")
    assert json_view(capsys, folder)["servers"][0]["state"] == "healthy"
    later = json_view(capsys, folder, "--now", "2004-12-06T23:00:00Z")
    assert later["now"] == "2004-12-06T23:00:00.000Z"
    assert later["servers"][0]["state"] == "degraded"
    assert [d["code"] for d in later["servers"][0]["diagnoses"]] == ["MP_NOT_RESPONDING"]


def test_tz_option_places_local_times(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    mpsetup = str(logs / "iis_not_installed" / "MGTPOINT1" / "SMS" / "Logs" / "MPSetup.log")
    utc = json_view(capsys, mpsetup, "--tz", "MGTPOINT1=+00:00")
    east = json_view(capsys, mpsetup, "--tz", "mgtpoint1=-05:00")
    first_utc = utc["servers"][0]["timeline"][0]
    first_east = east["servers"][0]["timeline"][0]
    assert first_utc["time"][11:13] == "13" and first_east["time"][11:13] == "18"
    assert first_utc["message"].endswith("[time inferred]")


def test_tz_for_a_host_without_logs_is_warned_about(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    code, _out, err = diagnose(
        capsys, str(logs / "success"), "--tz", "MGTPOINT9=+01:00", "--tz", "mgtpoint1.corp.example=-05:00"
    )
    assert code == 0
    assert "--tz MGTPOINT9=...: no log of that host was read" in err
    assert "mgtpoint1" not in err.lower()  # an FQDN / case variant of a real host is that host


def test_human_output_names_state_cause_and_remedy(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    code, out, err = diagnose(capsys, str(logs / "concurrent_installs"))
    assert code == 0
    assert "MGTPOINT1  healthy" in out and "MGTPOINT2  failed" in out
    assert "TASK_SCHEDULER_DISABLED" in out and "cause" in out and "remedy" in out and "Task Scheduler" in out
    assert "\x1b[" not in out and "\x1b[" not in err  # not a terminal: no colours, no progress line


def test_colours_only_when_asked(logs: Path) -> None:
    from streams.offline import run

    view = run(discover([str(logs / "success")])).view
    assert "\x1b[32mhealthy" in render(view, colour=True)
    assert "\x1b[" not in render(view, colour=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["/definitely/not/here"],
        [],
        ["--now", "yesterday", "."],
        ["--tz", "MGTPOINT1=EST", "."],
        ["--host", "=nothing"],
    ],
)
def test_unusable_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = diagnose(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mpwatch diagnose: error:")


def test_a_folder_without_logs_is_unusable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "HOST1").mkdir()
    (tmp_path / "HOST1" / "notes.docx").write_bytes(b"PK\x03\x04")
    code, _, err = diagnose(capsys, str(tmp_path))
    assert code == 2 and "log files" in err


def test_a_damaged_zip_member_is_reported_and_the_rest_still_read(
    capsys: pytest.CaptureFixture[str], logs: Path, tmp_path: Path
) -> None:
    folder = logs / "success"
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))
    data = bytearray(archive.read_bytes())
    at = data.index(b"Http verification")  # inside the stored MPControl.log: its CRC no longer matches
    data[at] ^= 0x20
    archive.write_bytes(bytes(data))
    code, out, err = diagnose(capsys, str(archive))
    assert code == 0
    assert "MGTPOINT1" in out  # the undamaged logs were still read
    warnings = [line for line in err.splitlines() if line.startswith("mpwatch diagnose: warning:")]
    assert any("MPControl.log" in line for line in warnings), err


def test_a_zip_that_is_not_a_zip_archive_is_unusable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    archive = tmp_path / "collected.zip"
    archive.write_bytes(b"PK\x03\x04 cut off during the download")
    code, out, err = diagnose(capsys, str(archive))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "collected.zip" in err and "zip" in err.split(":", 2)[2]
