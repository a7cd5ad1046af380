"""The worker's probe loop against a real broker (issue 13, item 5): the leader probes local imitation
MPs, its events go through the events topic to stage 2, and the answers show in the API and /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fake_mp import FakeMP
from tests.integration.run_proc import wait_for
from tests.integration.worker_proc import WorkerProc, running, tag

pytestmark = pytest.mark.kafka


def server(worker: WorkerProc, name: str) -> Any:
    status, body = worker.get_json(f"/api/servers/{name}")
    if status != 200 or not any(row["host"] == "probe" for row in body["timeline"]):
        return None
    return body


def test_the_leader_probes_and_stage_2_applies_the_answers(tmp_path: Path, kafka_bootstrap: str) -> None:
    with FakeMP("later") as healthy, FakeMP("dc401") as dc:
        worker = WorkerProc(tmp_path, kafka_bootstrap, tag())
        with worker.config.open("a") as config:
            config.write(
                f'[probe]\nservers = ["MGTPOINT1={healthy.url}", "DC1={dc.url}"]\n'
                "interval_seconds = 1.0\ntimeout_seconds = 5.0\n"
            )
        with running(worker):
            mp = wait_for(lambda: server(worker, "MGTPOINT1"), 90, "MGTPOINT1's probe answers")
            assert mp["state"] == "healthy"
            dc1 = wait_for(lambda: server(worker, "DC1"), 60, "DC1's probe answers")
            assert [d["code"] for d in dc1["diagnoses"]] == ["DC_IIS_ACCOUNT_RESTRICTED"]
            metrics = wait_for(
                lambda: (m := worker.get("/metrics")[1].decode()) and "mpwatch_probe_success{" in m and m,
                30,
                "probe gauges",
            )
            assert 'mpwatch_probe_success{check="mplist",server="MGTPOINT1"} 1.0' in metrics
            assert 'mpwatch_probe_success{check="mplist",server="DC1"} 0.0' in metrics
