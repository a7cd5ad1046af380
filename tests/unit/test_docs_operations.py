"""docs/operations.md and docs/windows.md name files, benches, defaults and topics; those names must be
real: every repository path exists, every bench figure is one a bench prints, and the defaults quoted
are the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipper.config import WINDOWS_LOG_FOLDERS, ShipperConfig
from streams.cli.run import DEFAULT_STATE_DIR
from streams.embedded import SNAPSHOT_NAME
from streams.worker.settings import WorkerSettings
from streams.worker.topics import changelog

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
WINDOWS = (ROOT / "docs" / "windows.md").read_text()
PATH = re.compile(r"`((?:bench|deploy|docs|shipper|streams|tests|dashboards)/[\w./-]+)`")


@pytest.mark.parametrize("text", [OPERATIONS, WINDOWS], ids=["operations", "windows"])
def test_named_repository_paths_exist(text: str) -> None:
    named = set(PATH.findall(text))
    assert named
    for path in named:
        assert (ROOT / path).exists(), path
    for link in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", text):
        assert (ROOT / "docs" / link).exists(), link


def test_bench_figures_are_printed_by_the_benches() -> None:
    rows = re.findall(r"`(bench/bench_\w+\.py)` \(`(\w+)`\)", OPERATIONS)
    assert len(rows) == 3
    for bench, figure in rows:
        source = (ROOT / bench).read_text()
        if figure.startswith("worker_"):  # printed as worker_{store name}_records_per_s
            store = figure.split("_")[1]
            assert f'"{store}://"' in source and 'f"worker_{name}_records_per_s"' in source
        else:
            assert f'"{figure}"' in source, (bench, figure)


def test_quoted_defaults_are_the_code_defaults() -> None:
    worker = WorkerSettings()
    assert f"default {worker.partitions}" in OPERATIONS
    assert f"default `{worker.data_dir}`" in OPERATIONS
    assert f"default `{ShipperConfig().state_dir}`" in OPERATIONS
    assert f"default `{DEFAULT_STATE_DIR}`" in OPERATIONS and f"`{SNAPSHOT_NAME}`" in OPERATIONS
    for table in ("correlators", "servers"):
        assert f"`<app_id>-{table}-changelog`" in OPERATIONS
        assert f"`{changelog(worker, table)}`" in OPERATIONS
    for topic in (worker.topics.records, worker.topics.events, worker.topics.health):
        assert f"`{topic}`" in OPERATIONS
    for folder in WINDOWS_LOG_FOLDERS:
        assert f"| `{folder}` |" in WINDOWS
