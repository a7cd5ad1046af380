"""``diagnose --jobs N`` gives the single-process answer: every fixture log set (both styles), spread
over forked workers with hosts dealt out differently, and a site-wide time-zone fallback that needs
every worker's votes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.loader import discover
from streams.offline import run
from streams.parallel import can_fork, deal, run_parallel
from tests.fixtures.logsets import SCENARIOS, write_logset

pytestmark = pytest.mark.skipif(not can_fork(), reason="workers are forked")

CASES = [(name, style) for name in SCENARIOS for style in ("numeric", "text")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every scenario in one collected folder (hosts renamed apart by scenario folder)."""
    root = tmp_path_factory.mktemp("parallel")
    for name, style in CASES:
        write_logset(name, root / style, style=style)
    return root


@pytest.mark.parametrize("jobs", [2, 3])
def test_every_fixture_set_gives_the_same_view_in_parallel(site: Path, jobs: int) -> None:
    for style in ("numeric", "text"):
        for name in SCENARIOS:
            sources = discover([str(site / style / name)])
            serial = run(sources).view
            parallel = run_parallel(sources, jobs).view
            assert orjson.dumps(parallel) == orjson.dumps(serial), (name, style)


def test_hosts_stay_whole_and_the_load_is_balanced(site: Path) -> None:
    sources = discover([str(site / "numeric" / "concurrent_installs")])
    groups = deal(sources, 2)
    hosts = [{s.host for s in group} for group in groups]
    assert len(groups) == 2 and not hosts[0] & hosts[1]
    assert sorted(s.file_id for g in groups for s in g) == sorted(s.file_id for s in sources)


def test_the_cli_flag_gives_the_same_json(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli import main

    folder = str(site / "text" / "install_retrying")
    assert main(["diagnose", "--json", "--jobs", "1", folder]) == 0
    one = capsys.readouterr().out
    assert main(["diagnose", "--json", "--jobs", "4", folder]) == 0
    assert capsys.readouterr().out == one
    assert main(["diagnose", "--jobs", "0", folder]) == 2


def test_the_site_fallback_crosses_workers(tmp_path: Path) -> None:
    """An MP with only local-time logs (MPSetup, MSI) is placed with the offset the site server's logs
    state, although the two hosts run in different workers."""
    folder = write_logset("success", tmp_path)
    mp = folder / "MGTPOINT1"
    kept = 0
    for path in mp.rglob("*"):
        if path.is_file():
            if path.name.lower() in ("mpsetup.log", "mpmsi.log"):
                kept += 1
            else:
                path.unlink()
    assert kept
    sources = discover([str(folder)])
    serial = run(sources)
    assert serial.stats.guessed_offsets  # the fallback was needed
    parallel = run_parallel(sources, 2)
    assert len(deal(sources, 2)) == 2
    assert orjson.dumps(parallel.view) == orjson.dumps(serial.view)
    assert parallel.stats.guessed_offsets == serial.stats.guessed_offsets


def test_the_inputs_latest_time_crosses_workers(tmp_path: Path) -> None:
    """An MP whose only log is an MPMSI.log with no time on any line is placed at the latest time of
    the whole input, although the site server's logs that give it are read in another worker."""
    folder = write_logset("msi_log_without_times", tmp_path)
    for path in (folder / "MGTPOINT1").rglob("*"):
        if path.is_file() and path.name != "MPMSI.log":
            path.unlink()
    sources = discover([str(folder)])
    serial = run(sources)
    mp = next(s for s in serial.view["servers"] if s["server"] == "MGTPOINT1")
    assert [d["code"] for d in mp["diagnoses"]] == ["MSI_MUTEX_BUSY"]
    assert len(deal(sources, 2)) == 2
    assert orjson.dumps(run_parallel(sources, 2).view) == orjson.dumps(serial.view)
