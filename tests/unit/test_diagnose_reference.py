"""``mpwatch diagnose --json`` is the same with every fast path replaced by its per-record reference.

The hot paths (issue 9) are allowed to be clever only if they change nothing: the parsers'
``feed_lines`` batch loops, ``Correlator.feed_many``'s batch run and the extractor's IIS lane. Here each is
swapped for the plain per-record code it stands for (``Parser.feed_lines`` = ``feed`` per line,
``Correlator.feed`` per record) and the whole JSON answer is compared, on every fixture scenario in both
timestamp styles, every real log of the corpus, and a generated site with IIS and MPControl volume.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from streams.cli import main
from streams.core.correlator import Correlator, FileRef
from streams.core.events import Event
from streams.core.extract import EventExtractor
from streams.formats.base import Parser
from streams.formats.record import Record
from tests.fixtures.logsets import SCENARIOS, STYLES, write_logset

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "real"
NOW = "2030-01-01T00:00:00Z"  # fixed, so both runs evaluate time rules at the same moment


def _fast_parsers() -> list[type[Parser]]:
    """Every parser class that overrides the base ``feed_lines`` (found, not listed, so a new fast path
    is covered as soon as it exists)."""
    found: list[type[Parser]] = []
    todo = list(Parser.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "feed_lines" in vars(cls):
            found.append(cls)
    return found


def _reference_feed_many(self: Correlator, ref: FileRef, records: Iterable[Record]) -> list[Event]:
    out: list[Event] = []
    for record in records:
        out.extend(self.feed(ref, record))
    return out


def _reference_extractor_many(
    self: EventExtractor, records: Iterable[Record], file_id: str, file: str = "", kind: str = ""
) -> list[Event]:
    out: list[Event] = []
    for record in records:
        out.extend(self.feed(record, file_id, file, kind))
    return out


def _diagnose(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["diagnose", "--json", "--jobs", "1", "--now", NOW, *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _both(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    fast = _diagnose(capsys, *argv)
    with monkeypatch.context() as m:
        for cls in _fast_parsers():
            m.setattr(cls, "feed_lines", Parser.feed_lines)
        m.setattr(Correlator, "feed_many", _reference_feed_many)
        if hasattr(EventExtractor, "feed_many"):
            m.setattr(EventExtractor, "feed_many", _reference_extractor_many)
        reference = _diagnose(capsys, *argv)
    return fast, reference


def test_the_fast_paths_are_really_replaced() -> None:
    names = {cls.__name__ for cls in _fast_parsers()}
    assert {"SmsParser", "IisParser", "CmtraceParser"} <= names


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_answers_the_same_with_reference_paths(
    scenario: str,
    style: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_logset(scenario, tmp_path, style=style)  # type: ignore[arg-type]
    fast, reference = _both(monkeypatch, capsys, str(folder))
    assert orjson.loads(fast)["servers"]  # a real answer, not two empty ones
    assert fast == reference


@pytest.mark.parametrize("log", sorted(p.name for p in CORPUS.glob("*.log")))
def test_every_real_log_answers_the_same_with_reference_paths(
    log: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fast, reference = _both(monkeypatch, capsys, "--host", f"CORPUSHOST={CORPUS / log}")
    assert fast == reference


def _gen_logs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_logs", REPO / "bench" / "gen_logs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_logs", module)
    spec.loader.exec_module(module)
    return module


def test_a_generated_site_with_iis_and_mpcontrol_volume_answers_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = _gen_logs()
    site = tmp_path / "site"
    layout = {
        "SERVER1/SMS/Logs/sitecomp.log": ("sms", 4000),
        "MGTPOINT1/SMS/Logs/MPSetup.log": ("mpsetup", 1500),
        "MGTPOINT1/SMS/Logs/MPMSI.log": ("msi", 1500),
        "MGTPOINT1/SMS/Logs/mpcontrol.log": ("sms", 4000),
        "MGTPOINT1/WINDOWS/system32/LogFiles/W3SVC1/ex041206.log": ("iis", 6000),
    }
    for rel, (fmt, lines) in layout.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        gen.generate(fmt, path, lines=lines, seed=len(rel))
    # a second MP whose logs are copies, so per-host state is exercised twice
    shutil.copytree(site / "MGTPOINT1", site / "MGTPOINT2")
    fast, reference = _both(monkeypatch, capsys, str(site))
    assert {"MGTPOINT1", "MGTPOINT2"} <= {s["server"] for s in orjson.loads(fast)["servers"]}
    assert fast == reference
