"""Host attribution that stray files and odd archive names cannot fool (issue 13, item 4).

Every variant of a collected folder (a README or collect.log beside the host folders, a wrapper folder,
host folders collected from a ``C$`` share, zips made on Windows or with absolute or climbing names)
must give the servers and states of the clean folder, and say what it passed over."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.cli.run import host_roots
from streams.loader import discover
from streams.offline import run
from tests.fixtures.logsets import write_logset

SCENARIOS = ("concurrent_installs", "install_retrying", "success")
Answer = list[tuple[str, str, list[str]]]
Clean = tuple[Path, Answer]


def answer(paths: list[Path], notes: list[str] | None = None) -> Answer:
    view = run(discover([str(p) for p in paths], notes=notes)).view
    return [(s["server"], s["state"], sorted(d["code"] for d in s["diagnoses"])) for s in view["servers"]]


def files(folder: Path) -> list[tuple[str, bytes]]:
    return [
        (p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()
    ]


def copy_into(folder: Path, dest: Path, prefix: str = "", under_host: str = "") -> Path:
    """The collected folder's files under dest/prefix, with under_host inserted below each host folder."""
    for rel, data in files(folder):
        host, _, rest = rel.partition("/")
        target = dest / prefix / host / under_host / rest if under_host else dest / prefix / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def strays(folder: Path) -> None:
    (folder / "README.txt").write_text("collected with collect.cmd on 12/06/2004\r\n")
    (folder / "collect.log").write_text("collection started\r\ncollection ended\r\n")
    (folder / "manifest.csv").write_text("host,files\r\n")


@pytest.fixture(params=SCENARIOS)
def clean(request: pytest.FixtureRequest, tmp_path: Path) -> Clean:
    folder = write_logset(request.param, tmp_path / "clean")
    return folder, answer([folder])


def test_stray_files_beside_host_folders_change_nothing_and_are_noted(clean: Clean, tmp_path: Path) -> None:
    folder, expected = clean
    site = copy_into(folder, tmp_path / "site")
    strays(site)
    notes: list[str] = []
    assert answer([site], notes) == expected
    assert sum("README.txt: skipped" in n or "collect.log: skipped" in n for n in notes) == 2
    assert sum("1 other file(s) beside the host folders" in n for n in notes) == 1


@pytest.mark.parametrize("where", ["inside", "beside"])
def test_a_wrapper_folder_with_a_readme_is_looked_into(clean: Clean, tmp_path: Path, where: str) -> None:
    folder, expected = clean
    outer = copy_into(folder, tmp_path / "outer", prefix="collection")
    strays(outer / "collection" if where == "inside" else outer)
    notes: list[str] = []
    assert answer([outer], notes) == expected
    assert any("README.txt: skipped" in n for n in notes)


def test_host_folders_collected_from_a_drive_share_with_a_stray_log(clean: Clean, tmp_path: Path) -> None:
    folder, expected = clean
    site = copy_into(folder, tmp_path / "site", under_host="C$")
    assert answer([site]) == expected
    strays(site)
    assert answer([site]) == expected


def test_a_subfolder_without_logs_is_one_note_not_a_server(clean: Clean, tmp_path: Path) -> None:
    folder, expected = clean
    site = copy_into(folder, tmp_path / "site")
    (site / "screenshots").mkdir()
    (site / "screenshots" / "iis.png").write_bytes(b"\x89PNG\r\n")
    strays(site)
    notes: list[str] = []
    assert answer([site], notes) == expected
    assert sum("screenshots/ ignored" in n for n in notes) == 1


def test_one_hosts_folder_with_a_readme_is_still_that_host(tmp_path: Path) -> None:
    folder = write_logset("success", tmp_path / "clean")
    mp = tmp_path / "MGTPOINT1"
    shutil.copytree(folder / "MGTPOINT1", mp)
    (mp / "README.txt").write_text("logs of the MP\r\n")
    hosts = {s.host for s in discover([str(mp)])}
    assert hosts == {"MGTPOINT1"}


def zipped(
    folder: Path, archive: Path, name_of: Callable[[int, str], str], extra: dict[str, bytes] | None = None
) -> Path:
    with zipfile.ZipFile(archive, "w") as out:
        for i, (rel, data) in enumerate(files(folder)):
            out.writestr(name_of(i, rel), data)
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return archive


def test_zips_with_windows_absolute_and_climbing_names_give_the_clean_answer(
    clean: Clean, tmp_path: Path
) -> None:
    folder, expected = clean
    styles = [
        lambda rel: rel.replace("/", "\\"),
        lambda rel: "/" + rel,
        lambda rel: "C:\\" + rel.replace("/", "\\"),
        lambda rel: "\\\\fileserver\\collect\\" + rel.replace("/", "\\"),
        lambda rel: "site/" + rel,
    ]
    for n, style in enumerate(styles):
        archive = zipped(
            folder,
            tmp_path / f"style{n}.zip",
            lambda _i, rel, style=style: style(rel),
            {"README.txt": b"collected\r\n", "../evil.log": b"x\r\n", "a/../../b/escape.log": b"y\r\n"},
        )
        notes: list[str] = []
        assert answer([archive], notes) == expected, n
        assert any("../evil.log: skipped" in n for n in notes)
        assert any("escape.log: skipped" in n for n in notes)
    mixed = zipped(
        folder, tmp_path / "mixed.zip", lambda i, rel: styles[i % 4](rel), {"README.txt": b"x\r\n"}
    )
    notes = []
    assert answer([mixed], notes) == expected
    absolute = [n for n in notes if "absolute name read as" in n]
    assert len(absolute) == sum(1 for i, _ in enumerate(files(folder)) if i % 4 in (1, 2, 3))
    assert sum("'\\' separators" in n for n in notes) == 1


def test_run_discovers_the_same_hosts_and_tails_only_host_folders(clean: Clean, tmp_path: Path) -> None:
    folder, _expected = clean
    site = copy_into(folder, tmp_path / "site", prefix="collection")
    strays(site / "collection")
    roots = host_roots([str(site)], [])
    assert sorted(roots) == sorted(p.name for p in folder.iterdir())
    for host, found in roots.items():
        assert found == [str(site / "collection" / host)]
