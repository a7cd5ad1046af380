"""The Grafana dashboards: current with their generator, every panel on the datasource variable with a
unit, and every query over metric names the code exports (or the recording rules define)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.tooling import require_tool
from tests.unit.test_alert_rules import exported_names

ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((ROOT / "dashboards").glob("*.json"))
NAME = re.compile(r"\b(mpwatch:[a-z0-9_:]+|mpwatch_[a-z0-9_]+|up)\b")


def recorded() -> set[str]:
    data = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules" / "recording.yml").read_text())
    return {r["record"] for g in data["groups"] for r in g["rules"]}


def panels(board: dict) -> list[dict]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return [p for p in out if p["type"] != "row"]


def test_dashboards_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "dashboards" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in BOARDS] == ["install-progress.json", "pipeline-health.json", "server-detail.json"]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_every_panel_is_on_the_datasource_variable_with_a_unit(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["schemaVersion"] >= 39
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    uses_server = False
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            uses_server |= "$server" in target["expr"]
    if uses_server:
        assert variables["server"]["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_queries_use_only_exported_names(path: Path) -> None:
    known = exported_names() | recorded()
    board = json.loads(path.read_text())
    for panel in panels(board):
        for target in panel["targets"]:
            used = set(NAME.findall(target["expr"]))
            assert used, target["expr"]
            assert used <= known, (panel["title"], used - known)


SCHEMA = ROOT / "dashboards" / "schema"


def test_dashboards_type_check_against_grafana_schema() -> None:
    """Each dashboard embedded as a typed object (``Dashboard`` of @grafana/schema 11.6, string enums
    accepted as their values) and checked with tsc --strict: unknown fields and wrong types fail."""
    npm = require_tool("npm")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mpwatch" / "grafana-schema"
    cache.mkdir(parents=True, exist_ok=True)
    package = (SCHEMA / "package.json").read_text()
    tsc = cache / "node_modules" / ".bin" / "tsc"
    if (
        not tsc.exists()
        or not (cache / "package.json").exists()
        or (cache / "package.json").read_text() != package
    ):
        (cache / "package.json").write_text(package)
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--silent"],
            cwd=cache,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    check = Path(tempfile.mkdtemp(prefix="check-", dir=cache))
    try:
        shutil.copy(SCHEMA / "loose.ts", check / "loose.ts")
        for path in BOARDS:
            name = path.stem.replace("-", "_")
            (check / f"{path.stem}.ts").write_text(
                'import type { Dashboard } from "@grafana/schema";\n'
                'import type { Loose } from "./loose";\n'
                f"export const {name}: Loose<Dashboard> = {path.read_text().strip()};\n"
            )
        flags = [
            "--noEmit",
            "--strict",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--target",
            "es2022",
        ]
        done = subprocess.run(
            [str(tsc), *flags, "--skipLibCheck", *(str(p) for p in sorted(check.glob("*.ts")))],
            cwd=cache,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-4000:]
    finally:
        shutil.rmtree(check, ignore_errors=True)
