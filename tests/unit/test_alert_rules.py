"""The Prometheus rules: valid (promtool check), behaving as their unit tests say (promtool test), current
with their generator and the catalogue, and written only over metric names the code exports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from shipper.metrics import ShipperMetrics
from streams.core.catalogue import CODES
from streams.metrics import PIPELINE_METRICS, STATE_METRICS
from tests.tooling import require_tool

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*_test.yml"))
SEVERITIES = {"critical", "warning", "info"}
NAME = re.compile(r"\b(mpwatch_[a-z0-9_]+|up)\b")


def rules() -> list[dict]:
    out = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend(group["rules"])
    return out


def exported_names() -> set[str]:
    registry = CollectorRegistry()
    ShipperMetrics(registry)
    names = {m.name for m in registry.collect()}
    names |= {n.removesuffix("_total") for n in STATE_METRICS + PIPELINE_METRICS}
    suffixed = set()
    for name in names:  # counters are exposed with _total, histograms with _bucket/_sum/_count
        suffixed |= {name, name + "_total", name + "_bucket", name + "_sum", name + "_count"}
    return suffixed | {"up"}


def test_generated_files_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(PROM / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    done = subprocess.run(
        [promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests() -> None:
    promtool = require_tool("promtool")
    done = subprocess.run(
        [promtool, "test", "rules", *(p.name for p in TEST_FILES)],
        cwd=PROM / "tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.count("SUCCESS") == len(TEST_FILES)


def test_rules_use_only_exported_metric_names() -> None:
    known = exported_names()
    for rule in rules():
        used = set(NAME.findall(rule["expr"]))
        assert used, rule
        assert used <= known, (rule.get("alert") or rule.get("record"), used - known)


def test_every_alert_is_documented_and_tested() -> None:
    tested = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["exp_alerts"]:
                    tested.add(check["alertname"])
    alerts = [r for r in rules() if "alert" in r]
    for rule in alerts:
        assert rule["labels"]["severity"] in SEVERITIES
        notes = rule["annotations"]
        assert {"summary", "description", "remedy", "runbook_url"} <= notes.keys()
        assert all(notes[k].strip() for k in ("summary", "description", "remedy"))
    names = {r["alert"] for r in alerts}
    assert names >= {
        "MpInstallRetryingWithout1015",
        "MpInstallNotConfirmed",
        "MpInstallFailed",
        "MpNotResponding",
        "MpwatchShipperDown",
        "MpwatchShipperLagging",
        "MpwatchWorkerLagging",
        "MpwatchMalformedInput",
    }
    assert names <= tested  # every alert fires in some promtool case (and is silent in others)
    index = (ROOT / "docs" / "alerts.md").read_text()
    for name in names:
        assert f"### {name}" in index


def test_every_catalogue_code_pages_someone() -> None:
    exprs = "\n".join(r["expr"] for r in rules() if "alert" in r)
    by_metric = {
        "INSTALL_RETRYING": "mpwatch_status_1013_since_1015",
        "INSTALL_NOT_CONFIRMED": "mpwatch_status_last_timestamp_seconds",
        "MP_NOT_RESPONDING": "mpwatch_verification_failing",
    }
    for code in CODES:
        assert f'code="{code}"' in exprs or by_metric[code] in exprs, code


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_labels_are_bounded(path: Path) -> None:
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            for by in re.findall(r"by \(([^)]*)\)", rule["expr"]):
                assert set(by.replace(" ", "").split(",")) <= {
                    "server",
                    "code",
                    "state",
                    "message_id",
                    "instance",
                    "reason",
                    "topic",  # the two source topics of a worker
                    "partition",
                    "le",
                }
