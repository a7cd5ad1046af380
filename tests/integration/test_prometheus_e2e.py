"""End to end with a real Prometheus and a real Alertmanager on loopback.

A small HTTP server serves ``register_state_metrics`` (plus the pipeline and shipper metrics, as
``mpwatch run`` will) over the demo log set: MGTPOINT1 installed and healthy, MGTPOINT3 retrying every
hour (1013 three times, no 1015), MGTPOINT2 failed, MGTPOINT4 answering 401. Prometheus scrapes it every
second with the shipped rules (deploy/prometheus/rules) and sends to an Alertmanager running the shipped
example config. Checked: the 1013-without-1015 alert is firing for MGTPOINT3 and absent for MGTPOINT1,
it reaches Alertmanager (its API lists it), and every dashboard panel's query returns data.

Then the same with the real shells: a real ``mpwatch run`` scraped by Prometheus fires the headline
alert; and the distributed shell (a real worker process on the real broker, a live ``mpwatch ship``
process, one malformed message) makes every panel of the install and pipeline dashboards return data,
consumer lag per topic partition included, and fires the headline alert from the worker's metrics.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from shipper.metrics import ShipperMetrics
from streams.loader import discover
from streams.metrics import PipelineMetrics, register_state_metrics
from streams.offline import run
from streams.store import MemoryStore
from tests.fixtures.logsets import write_logset
from tests.tooling import require_tool

ROOT = Path(__file__).resolve().parents[2]
RETRYING, HEALTHY = "MGTPOINT3", "MGTPOINT1"
ALERT = "MpInstallRetryingWithout1015"
DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_for(what: str, check: Any, timeout: float = DEADLINE) -> Any:
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        try:
            last = check()
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)


def start_prometheus(
    binary: str, tmp: Path, port: int, targets: dict[str, str], alertmanager: str | None = None
) -> subprocess.Popen[bytes]:
    """A real Prometheus on loopback: 1 s scrape and evaluation, the shipped rules, one target per job
    (``{"mpwatch-run": "127.0.0.1:8787"}``)."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / "deploy" / "prometheus" / "rules" / "*.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
        ],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    return start(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp / "prometheus.log",
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    prometheus = require_tool("prometheus")
    alertmanager = require_tool("prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("prom")
    result = run(discover([str(write_logset("demo", tmp / "logs"))]))
    registry = CollectorRegistry()
    register_state_metrics(registry, MemoryStore(result.reducer.servers, now=result.now))
    pipeline = PipelineMetrics(registry)
    pipeline.records_in.inc(100)
    pipeline.events_in.inc(10)
    pipeline.malformed.labels("wire_format").inc()
    pipeline.wire_version_rejected.inc(0)
    pipeline.lag.labels("mpwatch-records", "0").set(0)
    pipeline.rebalances.inc()
    pipeline.table_size.labels("servers").set(len(result.reducer.servers))
    ShipperMetrics(registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    target = f"127.0.0.1:{server.server_port}"

    am_port, prom_port = free_port(), free_port()
    am = start(
        [
            alertmanager,
            f"--config.file={ROOT / 'deploy' / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={tmp / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        tmp / "alertmanager.log",
    )
    prom = start_prometheus(
        prometheus, tmp, prom_port, {"mpwatch-run": target}, alertmanager=f"127.0.0.1:{am_port}"
    )
    try:
        yield {"prometheus": f"http://127.0.0.1:{prom_port}", "alertmanager": f"http://127.0.0.1:{am_port}"}
    finally:
        stop(prom)
        stop(am)
        server.shutdown()
        server.server_close()
        thread.join(5)


def instant(base: str, expr: str) -> list[dict[str, Any]]:
    answer = get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def alerts(base: str) -> list[dict[str, Any]]:
    return list(get(f"{base}/api/v1/alerts")["data"]["alerts"])


def test_retrying_server_alerts_and_reaches_alertmanager(stack: dict[str, str]) -> None:
    prom = stack["prometheus"]

    def retrying() -> list[dict[str, Any]]:
        return [a for a in alerts(prom) if a["labels"]["alertname"] == ALERT and a["state"] == "firing"]

    firing = wait_for(f"{ALERT} firing", retrying)
    assert {a["labels"]["server"] for a in firing} == {RETRYING}
    assert firing[0]["labels"]["severity"] == "critical"
    assert "Find the failing step" in firing[0]["annotations"]["remedy"]
    ours = [
        a
        for a in alerts(prom)
        if a["labels"].get("server") == HEALTHY and "Install" in a["labels"]["alertname"]
    ]
    assert ours == []  # the successful install raises no install alert

    def in_alertmanager() -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"filter": f'alertname="{ALERT}"'})
        return list(get(f"{stack['alertmanager']}/api/v2/alerts?{query}"))

    received = wait_for("the alert in Alertmanager", in_alertmanager)
    assert {a["labels"]["server"] for a in received} == {RETRYING}
    assert received[0]["receivers"][0]["name"] == "pager"  # routed by severity


def _exprs(board: str) -> list[tuple[str, str]]:
    data = json.loads((ROOT / "dashboards" / board).read_text())
    return [(p["title"], t["expr"]) for p in data["panels"] for t in p.get("targets", [])]


@pytest.mark.parametrize("board", ["install-progress.json", "pipeline-health.json"])
def test_every_panel_returns_data(stack: dict[str, str], board: str) -> None:
    prom = stack["prometheus"]
    wait_for("recording rules", lambda: instant(prom, "mpwatch:shipper_records:rate5m"))
    for title, expr in _exprs(board):
        query = expr.replace("$server", ".*")
        assert wait_for(f"data for {title!r}", lambda q=query: instant(prom, q), timeout=20), title


def test_every_server_detail_panel_returns_data_for_some_server(stack: dict[str, str]) -> None:
    prom = stack["prometheus"]
    wait_for("recording rules", lambda: instant(prom, "mpwatch:verification_age_seconds"))
    servers = [RETRYING, HEALTHY, "MGTPOINT2", "MGTPOINT4"]
    for title, expr in _exprs("server-detail.json"):
        answered = [s for s in servers if instant(prom, re.sub(r"\$server\b", s, expr))]
        assert answered, title


@pytest.fixture(scope="module")
def run_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real ``mpwatch run`` process over the demo log set, scraped by a real Prometheus."""
    from tests.integration.run_proc import start_run

    prometheus = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("prom-run")
    service = start_run(write_logset("demo", tmp / "logs"), tmp / "state", tmp / "run.log")
    prom_port = free_port()
    prom = start_prometheus(prometheus, tmp, prom_port, {"mpwatch-run": service.url.removeprefix("http://")})
    try:
        yield {"prometheus": f"http://127.0.0.1:{prom_port}", "run": service.url}
    finally:
        stop(prom)
        service.stop()


def test_mpwatch_run_scraped_by_prometheus_fires_the_headline_alert(run_stack: dict[str, str]) -> None:
    prom = run_stack["prometheus"]

    def retrying() -> list[dict[str, Any]]:
        return [a for a in alerts(prom) if a["labels"]["alertname"] == ALERT and a["state"] == "firing"]

    firing = wait_for(f"{ALERT} firing from mpwatch run's metrics", retrying)
    assert {a["labels"]["server"] for a in firing} == {RETRYING}
    states = {r["metric"]["server"]: r["metric"]["state"] for r in instant(prom, "mpwatch_server_state == 1")}
    assert states[RETRYING] == "stuck" and states["MGTPOINT2"] == "failed"
    shipped = instant(prom, "sum by (host) (mpwatch_shipper_records_shipped_total)")
    assert {r["metric"]["host"] for r in shipped} >= {"SERVER1", RETRYING}


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[dict[str, str]]:
    """The distributed shell for real: a worker process, a live ``mpwatch ship`` process for the site
    server (the other hosts shipped once, as their shippers would have), one malformed message, and a
    Prometheus scraping the worker and the shipper."""
    from tests.integration.shipper_proc import reap, ship_command, spawn
    from tests.integration.worker_proc import WorkerProc, send_raw, ship, tag

    prometheus = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("prom-worker")
    logs = write_logset("demo", tmp / "logs", style="text")
    site = tmp / "site"
    site.mkdir()
    (logs / "SERVER1").rename(site / "SERVER1")
    worker = WorkerProc(tmp, kafka_bootstrap, tag())
    worker.start()
    shipper: subprocess.Popen[bytes] | None = None
    prom: subprocess.Popen[bytes] | None = None
    try:
        worker.wait_ready()  # the worker has created its topics: the shippers may write
        shipper_port, prom_port = free_port(), free_port()
        # scraping before anything is shipped: the rates then see the records arrive
        prom = start_prometheus(
            prometheus,
            tmp,
            prom_port,
            {"mpwatch-worker": f"127.0.0.1:{worker.port}", "mpwatch-shipper": f"127.0.0.1:{shipper_port}"},
        )
        wait_for(
            "Prometheus scraping the worker", lambda: instant(f"http://127.0.0.1:{prom_port}", "up == 1")
        )
        records = f"kafka://{kafka_bootstrap}/{worker.records}"
        asyncio.run(ship(logs, records, tmp / "state"))
        asyncio.run(send_raw(kafka_bootstrap, worker.records, b"SERVER1", b"not a wire message"))
        shipper = spawn(
            ship_command(
                paths=[site / "SERVER1" / "**" / "*"],
                output=records,
                state_dir=tmp / "state" / "live",
                host="SERVER1",
                metrics_port=shipper_port,
            ),
            tmp / "shipper.log",
        )
        yield {"prometheus": f"http://127.0.0.1:{prom_port}", "worker": worker.url}
    finally:
        if prom is not None:
            stop(prom)
        reap(shipper)
        worker.stop()


@pytest.mark.kafka
def test_worker_scraped_by_prometheus_fires_the_headline_alert(worker_stack: dict[str, str]) -> None:
    prom = worker_stack["prometheus"]

    def retrying() -> list[dict[str, Any]]:
        return [a for a in alerts(prom) if a["labels"]["alertname"] == ALERT and a["state"] == "firing"]

    firing = wait_for(f"{ALERT} firing from the worker's metrics", retrying, timeout=90)
    assert {a["labels"]["server"] for a in firing} == {RETRYING}
    # only the worker serves server state here (the shipper serves its own figures)
    assert {r["metric"]["job"] for r in instant(prom, "mpwatch_status_1013_since_1015")} == {"mpwatch-worker"}


@pytest.mark.kafka
@pytest.mark.parametrize("board", ["install-progress.json", "pipeline-health.json"])
def test_every_panel_returns_data_from_a_real_worker_and_shipper(
    worker_stack: dict[str, str], board: str
) -> None:
    prom = worker_stack["prometheus"]
    wait_for("the worker's records in Prometheus", lambda: instant(prom, "mpwatch:records_in:rate5m > 0"), 90)
    for title, expr in _exprs(board):
        query = expr.replace("$server", ".*")
        assert wait_for(f"data for {title!r}", lambda q=query: instant(prom, q), timeout=30), title


@pytest.mark.kafka
def test_worker_reports_consumer_lag_per_topic_partition_down_to_zero(worker_stack: dict[str, str]) -> None:
    prom = worker_stack["prometheus"]

    def settled() -> list[dict[str, Any]]:
        rows = instant(prom, "mpwatch_consumer_lag_records")
        held = {(r["metric"]["topic"], r["metric"]["partition"]) for r in rows}
        # one worker holds all 3 partitions of both source topics; everything shipped has been processed
        done = len(held) == 6 and all(float(r["value"][1]) == 0 for r in rows)
        return rows if done and instant(prom, "mpwatch_records_in_total > 0") else []

    rows = wait_for("lag 0 on every partition of the records and events topics", settled, timeout=90)
    assert {r["metric"]["topic"].rsplit("-", 1)[1] for r in rows} == {"records", "events"}
    rebalances = instant(prom, "mpwatch_rebalances_total")
    assert rebalances and float(rebalances[0]["value"][1]) >= 1
    malformed = instant(prom, "mpwatch_malformed_total")
    assert {r["metric"]["reason"]: float(r["value"][1]) for r in malformed} == {"wire_format": 1.0}
