"""The deployment examples: Prometheus config (promtool), Alertmanager config and routing (amtool),
Grafana provisioning (data source and dashboard provider)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.tooling import require_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)


def test_prometheus_config_is_valid_and_scrapes_every_shell() -> None:
    done = run(require_tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") >= 6  # the config and each rule file
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert {j["job_name"] for j in config["scrape_configs"]} == {
        "mpwatch-shipper",
        "mpwatch-worker",
        "mpwatch-run",
    }
    assert config["alerting"]["alertmanagers"]


def test_alertmanager_config_is_valid() -> None:
    done = run(require_tool("amtool"), "check-config", str(ALERTMANAGER))
    assert done.returncode == 0, done.stdout + done.stderr
    route = yaml.safe_load(ALERTMANAGER.read_text())["route"]
    assert route["group_by"] == ["alertname", "server"]


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=MpInstallRetryingWithout1015", "server=MP1"], "pager"),
        (["severity=warning", "alertname=MpInstallNotConfirmed", "server=MP1"], "team"),
        (["severity=info", "alertname=MpwatchMalformedInput"], "log"),
        (["alertname=Other"], "team"),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str) -> None:
    done = run(require_tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receiver


def test_grafana_provisioning() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "mpwatch.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")
    providers = yaml.safe_load((provisioning / "dashboards" / "mpwatch.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert sources["apiVersion"] == providers["apiVersion"] == 1
