"""The shipper as a Windows service, checked on Linux.

* ``shipper/windows_service.py`` imports here with its pywin32 part left out, and its platform-neutral
  runner ships and stops cleanly when stopped from another thread (what ``SvcStop`` does);
* the pywin32 part is type-checked as Windows sees it (``mypy --platform win32``, types-pywin32), and
  that check is shown to catch an error inside the guarded block;
* deploy/windows/*.ps1 parse (tree-sitter's PowerShell grammar, tests/powershell/check_ps1.mjs), the
  check is shown to fail on a broken script, and the paths install.ps1 writes are the shipper's
  defaults.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from shipper.config import WINDOWS_DATA_DIR, WINDOWS_LOG_FOLDERS, KafkaSettings, ShipperConfig, load_config
from shipper.paths import DEFAULT_GLOBS
from shipper.windows_service import (
    CONFIG_NAME,
    SERVICE_NAME,
    ServiceRunner,
    config_path,
    data_dir,
    summary_text,
    windows_log_patterns,
)
from streams.worker.settings import TopicSettings
from tests.tooling import require_path, require_tool

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ROOT / "deploy" / "windows"
INSTALL = WINDOWS / "install.ps1"
UNINSTALL = WINDOWS / "uninstall.ps1"
CHECKER = ROOT / "tests" / "powershell" / "check_ps1.mjs"
GRAMMAR = ROOT / ".tools" / "node" / "node_modules" / "tree-sitter-powershell" / "package.json"


def check_ps1(*files: Path) -> subprocess.CompletedProcess[str]:
    node = require_tool("node")
    require_path(GRAMMAR, "make node-tools installs it")
    return subprocess.run(
        [node, str(CHECKER), *map(str, files)], capture_output=True, text=True, check=False, timeout=120
    )


def test_powershell_scripts_parse() -> None:
    done = check_ps1(INSTALL, UNINSTALL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok") == 2


def test_syntax_check_reports_a_broken_script(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ps1"
    # a copy of install.ps1 with one closing parenthesis lost in the middle
    text = INSTALL.read_text()
    needle = "if (-not (Test-Administrator)) {"
    assert needle in text
    broken.write_text(text.replace(needle, "if (-not (Test-Administrator) {"))
    line = text[: text.index(needle)].count("\n") + 1
    done = check_ps1(broken)
    assert done.returncode == 1, done.stdout + done.stderr
    reported = [
        int(m[1])
        for m in re.finditer(rf"^{re.escape(str(broken))}:(\d+):\d+: (ERROR|MISSING)", done.stdout, re.M)
    ]
    assert reported, done.stdout
    assert any(n >= line for n in reported), (line, done.stdout)
    unterminated = tmp_path / "unterminated.ps1"
    unterminated.write_text('$text = "no end\nWrite-Host $text\n')
    assert check_ps1(unterminated).returncode == 1


def ps_array(name: str, text: str) -> list[str]:
    """The single-quoted strings of ``$name = @( ... )`` in a script."""
    match = re.search(rf"^\${name} = @\((.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert match, f"${name} not found"
    return re.findall(r"'([^']*)'", match[1])


def ps_default(name: str, text: str) -> str:
    match = re.search(rf"\${name} = '?([^',\s]+)'?,?$", text, re.MULTILINE)
    assert match, f"no default for ${name}"
    return match[1]


def test_install_writes_the_shipper_default_paths() -> None:
    text = INSTALL.read_text()
    folders = ps_array("DefaultLogFolders", text)
    globs = ps_array("FolderGlobs", text)
    assert tuple(folders) == WINDOWS_LOG_FOLDERS
    assert globs == [g.replace("/", "\\") for g in DEFAULT_GLOBS]
    assert '$patterns.Add("$folder\\$glob")' in text  # folder x glob, as windows_log_patterns does
    assert windows_log_patterns() == [f"{f}\\{g}" for f in folders for g in globs]
    for needed in (r"C:\SMS\Logs", r"C:\inetpub\logs\LogFiles", r"C:\WINDOWS\system32\LogFiles"):
        assert needed in WINDOWS_LOG_FOLDERS
    assert any(f.endswith(r"\SMS_CCM\Logs") for f in WINDOWS_LOG_FOLDERS)
    assert any(f.endswith(r"\Microsoft Configuration Manager\Logs") for f in WINDOWS_LOG_FOLDERS)


def test_install_and_service_agree_on_names_and_places() -> None:
    install, uninstall = INSTALL.read_text(), UNINSTALL.read_text()
    for text in (install, uninstall):
        assert ps_default("ServiceName", text) == SERVICE_NAME
        assert "$DataDir = Join-Path $env:ProgramData 'mpwatch'" in text
    assert data_dir({"ProgramData": r"C:\ProgramData"}) == WINDOWS_DATA_DIR == data_dir({})
    assert "$ConfigFile = Join-Path $DataDir '" + CONFIG_NAME + "'" in install
    assert config_path({}) == WINDOWS_DATA_DIR + "\\" + CONFIG_NAME
    assert config_path({"MPWATCH_SHIPPER_CONFIG": r"D:\x.toml"}) == r"D:\x.toml"
    assert ps_default("Topic", install) == TopicSettings().records
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (shipper_job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "mpwatch-shipper"]
    ports = {t.rsplit(":", 1)[1] for t in shipper_job["static_configs"][0]["targets"]}
    assert ports == {ps_default("MetricsPort", install)}
    assert "-m shipper.windows_service --startup delayed install" in install
    assert re.search(r"sc\.exe failure \$ServiceName reset= \d+ actions= restart/\d+", install)
    assert "sc.exe failureflag $ServiceName 1" in install
    assert "sc.exe delete $ServiceName" in uninstall


def test_install_writes_only_known_settings() -> None:
    """Every ``key = `` line install.ps1 writes names a setting of the shipper's config (top level or
    [kafka]), and the protocols it accepts are the shipper's."""
    text = INSTALL.read_text()
    written = set(re.findall(r"\$lines\.Add\(['\"](\w+) = ", text))
    top = {f.name for f in dataclasses.fields(ShipperConfig)}
    kafka = {f.name for f in dataclasses.fields(KafkaSettings)}
    assert {"host", "output", "state_dir", "paths", "security_protocol"} <= written
    assert written <= top | kafka, written - top - kafka
    from shipper.config import SASL_MECHANISMS, SECURITY_PROTOCOLS

    assert f"[ValidateSet({', '.join(repr(p) for p in SECURITY_PROTOCOLS)})]" in text
    assert f"[ValidateSet({', '.join(repr(m) for m in SASL_MECHANISMS)})]" in text


def test_a_config_like_the_installer_writes_loads(tmp_path: Path) -> None:
    """The file install.ps1 writes, spelled the same way (TOML basic strings, backslashes doubled)."""

    def toml(value: str) -> str:
        return json.dumps(value)  # the same escaping as ConvertTo-TomlString for these values

    lines = [
        f"host = {toml('MP01')}",
        f"output = {toml('kafka://kafka1:9092/mpwatch-records')}",
        f"state_dir = {toml(str(tmp_path / 'state'))}",
        "metrics_port = 9108",
        f"metrics_host = {toml('127.0.0.1')}",
        "paths = [",
        *(f"    {toml(p)}," for p in windows_log_patterns()),
        "]",
        "",
        "[kafka]",
        f"security_protocol = {toml('PLAINTEXT')}",
    ]
    path = tmp_path / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(str(path))
    assert config.paths == windows_log_patterns()
    assert config.paths[0] == "C:\\SMS\\Logs\\*.log"


def test_module_imports_without_pywin32_and_leaves_the_service_out() -> None:
    code = (
        "import sys, shipper.windows_service as m; "
        "assert not hasattr(m, 'ShipperService') and not hasattr(m, 'main'); "
        "assert not any(n.startswith(('win32', 'servicemanager')) for n in sys.modules); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def mypy_win32(*files: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", "win32", "--no-incremental", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )


def test_windows_part_type_checks_as_windows_sees_it(tmp_path: Path) -> None:
    module = ROOT / "shipper" / "windows_service.py"
    done = mypy_win32(module)
    assert done.returncode == 0, done.stdout + done.stderr
    # the same module with a wrong call inside the win32 block: mypy must see it (on Linux it is skipped)
    text = module.read_text()
    needle = 'servicemanager.LogInfoMsg(f"{SERVICE_NAME}: stop requested; sending what was read")'
    assert needle in text
    broken = tmp_path / "broken_service.py"
    broken.write_text(text.replace(needle, "servicemanager.LogInfoMsg(42)"))
    done = mypy_win32(broken)
    assert done.returncode == 1 and '"LogInfoMsg" has incompatible type "int"' in done.stdout, done.stdout


def test_runner_ships_and_stops_cleanly_from_another_thread(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(ROOT / "samples" / "SERVER1" / "SMS" / "Logs" / "sitecomp.log", logs / "sitecomp.log")
    out = tmp_path / "out.jsonl"
    config = load_config(
        None,
        {
            "paths": [str(logs)],
            "host": "SERVER1",
            "output": f"file://{out}",
            "state_dir": str(tmp_path / "state"),
        },
    )
    runner = ServiceRunner(config)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(runner.run()), daemon=True)
    thread.start()
    assert runner.started.wait(30)
    deadline = time.monotonic() + 30
    while not (out.exists() and out.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()  # what SvcStop does, from the SCM's thread
    thread.join(30)
    assert not thread.is_alive(), "the shipper did not stop"
    (summary,) = result
    assert summary.records > 0 and summary.delivered_all and summary.checkpoint_saved  # type: ignore[attr-defined]
    assert (tmp_path / "state" / "checkpoint.json").exists()
    assert summary_text(summary).startswith(f"shipped {summary.records} records")  # type: ignore[arg-type,attr-defined]


def test_runner_stopped_before_it_started_returns_at_once(tmp_path: Path) -> None:
    config = load_config(
        None,
        {
            "paths": [str(tmp_path / "*.log")],
            "output": f"file://{tmp_path / 'o.jsonl'}",
            "state_dir": str(tmp_path),
        },
    )
    runner = ServiceRunner(config)
    runner.stop()  # SvcStop while SvcDoRun was still loading the config
    started = time.monotonic()
    summary = runner.run()
    assert summary.records == 0 and time.monotonic() - started < 15
