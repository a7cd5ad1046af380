"""``mpwatch run`` finds hosts as ``mpwatch diagnose`` does (issue 13, item 4): a README and a
collect.log beside a wrapper folder neither make a host nor hide one, and a host folder that appears
later inside the wrapper is tailed too."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.fixtures.logsets import write_logset
from tests.integration.run_proc import RunProcess, oracle, start_run, wait_for


def test_stray_files_and_a_wrapper_folder_give_the_hosts_and_new_ones_are_found(tmp_path: Path) -> None:
    clean = write_logset("concurrent_installs", tmp_path / "clean")
    site = tmp_path / "site"
    wrapper = site / "collected"
    wrapper.mkdir(parents=True)
    (site / "README.txt").write_text("collected with collect.cmd\r\n")
    (wrapper / "collect.log").write_text("collection started\r\n")
    for host in ("SERVER1", "MGTPOINT1"):
        shutil.copytree(clean / host, wrapper / host)
    proc = start_run(site, tmp_path / "state", tmp_path / "run.log")
    try:
        expected = {s["server"] for s in oracle(site)["servers"]}  # what diagnose finds in the same folder
        assert expected == {"MGTPOINT1", "MGTPOINT2"}  # SiteComp names MGTPOINT2 too
        wait_for(lambda: names(proc) == expected, 30, "the servers diagnose finds")
        assert not hosts_of(proc, "MGTPOINT2") & {"MGTPOINT2"}  # nothing from MGTPOINT2's own logs yet
        shutil.copytree(clean / "MGTPOINT2", wrapper / "MGTPOINT2")
        wait_for(
            lambda: "MGTPOINT2" in hosts_of(proc, "MGTPOINT2"), 40, "MGTPOINT2's logs, inside the wrapper"
        )
        assert hosts_of(proc, "MGTPOINT1") <= {"SERVER1", "MGTPOINT1"}  # no host named after a folder
        log = (tmp_path / "run.log").read_text()
        assert "README.txt: skipped" in log and "collect.log: skipped" in log
    finally:
        assert proc.stop() == 0, proc.tail()


def names(proc: RunProcess) -> set[str]:
    return {r["server"] for r in proc.json("/api/servers")["servers"]}


def hosts_of(proc: RunProcess, server: str) -> set[str]:
    """The source hosts of a server's timeline."""
    return {row["host"] for row in proc.json(f"/api/servers/{server}")["timeline"]}
