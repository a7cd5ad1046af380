"""``mpwatch run --probe``: the active probe's gauges on /metrics and its answers in the MP's timeline and
state, next to what the logs say; without logs, a probe alone judges an MP (issue 13, item 5)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from tests.fake_mp import FakeMP, hanging, refused_port
from tests.fixtures.logsets import write_logset
from tests.integration.run_proc import RunProcess, start_run, wait_for


def probe_rows(proc: RunProcess, server: str) -> list[dict[str, Any]]:
    status, body = proc.get(f"/api/servers/{server}")
    if status != 200:
        return []
    return [row for row in body["timeline"] if row["host"] == "probe"]


def test_run_probes_mps_into_metrics_and_timelines(tmp_path: Path) -> None:
    logs = write_logset("success", tmp_path / "logs")
    with FakeMP("later") as healthy, FakeMP("dc401") as dc:
        proc = start_run(
            logs, tmp_path / "state", tmp_path / "run.log",
            "--probe", f"MGTPOINT1={healthy.url}", f"DC1={dc.url}", f"STOPPED=127.0.0.1:{refused_port()}",
            "--probe-interval", "0.5", "--probe-timeout", "2",
        )  # fmt: skip
        try:
            rows = wait_for(
                lambda: len(probe_rows(proc, "MGTPOINT1")) >= 4 and probe_rows(proc, "MGTPOINT1"),
                30,
                "probe rows",
            )
            assert {r["file"] for r in rows} == {"sms_mp/.sms_aut?mplist", "sms_mp/.sms_aut?mpcert"}
            assert all(r["message"].startswith("probe m") and ": ok, " in r["message"] for r in rows)
            mp = proc.json("/api/servers/MGTPOINT1")
            assert mp["state"] == "healthy"
            assert any(r["host"] != "probe" for r in mp["timeline"])  # the logs' timeline is still there
            dc1 = wait_for(lambda: probe_rows(proc, "DC1") and proc.json("/api/servers/DC1"), 30, "DC1")
            assert dc1["state"] == "degraded"
            assert [d["code"] for d in dc1["diagnoses"]] == ["DC_IIS_ACCOUNT_RESTRICTED"]
            assert "401.3" in dc1["diagnoses"][0]["evidence"][0]["text"] or any(
                "401.3" in r["message"] for r in dc1["timeline"]
            )
            stopped = wait_for(
                lambda: probe_rows(proc, "STOPPED") and proc.json("/api/servers/STOPPED"), 30, "STOPPED"
            )
            assert [d["code"] for d in stopped["diagnoses"]] == ["WEB_SITE_PORT_CHANGED"]
            status, metrics = proc.get("/metrics")
            assert status == 200
            assert 'mpwatch_probe_success{check="mplist",server="MGTPOINT1"} 1.0' in metrics
            assert 'mpwatch_probe_success{check="mpcert",server="DC1"} 0.0' in metrics
            assert 'mpwatch_probe_success{check="mplist",server="STOPPED"} 0.0' in metrics
            assert 'mpwatch_probe_duration_seconds{check="mpcert",server="MGTPOINT1"}' in metrics
        finally:
            assert proc.stop() == 0, proc.tail()


def test_run_with_only_probes_judges_an_mp_without_logs(tmp_path: Path) -> None:
    with FakeMP("sms2003") as mp:
        proc = RunProcess(
            ["--probe", f"MGTPOINT9={mp.url}", "--probe-interval", "60", "--state-dir", str(tmp_path / "s"),
             "--listen", "127.0.0.1:0"],
            tmp_path / "run.log",
        )  # fmt: skip
        try:
            proc.wait_listening()
            server = wait_for(
                lambda: probe_rows(proc, "MGTPOINT9") and proc.json("/api/servers/MGTPOINT9"), 30, "MP"
            )
            assert server["state"] == "healthy"
            assert any("SMS 2003" in row["message"] for row in server["timeline"])
        finally:
            assert proc.stop(signal.SIGTERM) == 0, proc.tail()


def test_a_hanging_mp_neither_blocks_the_api_nor_the_stop(tmp_path: Path) -> None:
    with hanging() as port:
        proc = RunProcess(
            ["--probe", f"HUNG=127.0.0.1:{port}", "--probe-timeout", "30", "--state-dir", str(tmp_path / "s"),
             "--listen", "127.0.0.1:0"],
            tmp_path / "run.log",
        )  # fmt: skip
        try:
            proc.wait_listening()
            time.sleep(0.5)  # the round is in flight, waiting for its 30 s time-out
            assert proc.json("/api/servers")["servers"] == []
        finally:
            started = time.monotonic()
            assert proc.stop(signal.SIGTERM) == 0, proc.tail()
            assert time.monotonic() - started < 10
