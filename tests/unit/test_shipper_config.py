"""Shipper configuration: TOML, flags win, errors name the setting; paths and log kinds."""

from __future__ import annotations

import os

import pytest

from shipper.config import ShipperConfig, load_config
from shipper.errors import ConfigError
from shipper.outputs.base import open_output
from shipper.paths import DEFAULT_GLOBS, PathsProvider, expand_patterns, log_kind
from streams.cli import main

BASE = {"paths": ["/logs/*.log"], "output": "file:///tmp/out.jsonl"}


def write(tmp_path, text: str) -> str:
    path = tmp_path / "ship.toml"
    path.write_text(text)
    return str(path)


def test_file_values_and_flags_win(tmp_path):
    cfg = write(
        tmp_path,
        """
host = "MP01"
paths = ["/a/*.log"]
output = "kafka://127.0.0.1:9092/logs"
[tail]
max_line_bytes = 4096
[kafka]
compression = "zstd"
""",
    )
    config = load_config(cfg, {"host": "SITE1", "paths": None, "state_dir": str(tmp_path)})
    assert config.host == "SITE1"  # the flag wins
    assert config.paths == ["/a/*.log"]  # no flag: the file's value
    assert config.output == "kafka://127.0.0.1:9092/logs"
    assert config.tail.max_line_bytes == 4096
    assert config.kafka.compression == "zstd"
    assert config.batch.max_records > 0  # defaults fill the rest


def test_default_host_is_upper_case_short_name():
    config = load_config(None, dict(BASE))
    assert config.host and config.host == config.host.upper() and "." not in config.host


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("[tail]\nmax_line_byte = 5\n", "tail.max_line_byte"),
        ("[tail]\nmax_line_bytes = 'big'\n", "tail.max_line_bytes"),
        ("[tail]\nmax_line_bytes = 10\n", "tail.max_line_bytes"),
        ("[batch]\nmax_records = 0\n", "batch.max_records"),
        ("[kafka]\nsecurity_protocol = 'SASL_SSL'\n", "kafka.username"),
        ("[kafka]\nsasl_mechanism = 'GSSAPI'\n", "kafka.sasl_mechanism"),
        ("[kafka]\nssl_cafile = '/nonexistent/ca.pem'\n", "kafka.ssl_cafile"),
        ("metrics_port = 70000\n", "metrics_port"),
        ("colour = 'blue'\n", "colour"),
        ("[tail]\nformat = 'smss'\n", "tail.format"),
        ("[tail]\nencoding = 'utf-9'\n", "tail.encoding"),
        ("[tail]\nnotify = 'fanotify'\n", "tail.notify"),
    ],
)
def test_bad_settings_are_named(tmp_path, text, setting):
    with pytest.raises(ConfigError, match=f"^{setting}"):
        load_config(write(tmp_path, text), dict(BASE))


def test_missing_output_and_paths_are_named():
    with pytest.raises(ConfigError, match=r"^output"):
        load_config(None, {"paths": ["/x"]})
    with pytest.raises(ConfigError, match=r"^paths"):
        load_config(None, {"output": "file:///x.jsonl"})


def test_bad_toml_names_the_file(tmp_path):
    path = write(tmp_path, "host = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, dict(BASE))


def test_password_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    cfg = write(
        tmp_path,
        f"[kafka]\nsecurity_protocol = 'SASL_SSL'\nusername = 'mpwatch'\npassword_file = '{secret}'\n",
    )
    config = load_config(cfg, dict(BASE))
    assert config.kafka.resolved_password() == "s3cret"


def test_log_kinds():
    assert log_kind("C:/SMS/Logs/SiteComp.log") == "sitecomp"
    assert log_kind("/logs/sitecomp.lo_") == "sitecomp"
    assert log_kind("/logs/MPSetup.log") == "mpsetup"
    assert log_kind("/logs/MPMSI.log") == "mpmsi"
    assert log_kind("/logs/mpcontrol.lo_") == "mpcontrol"
    assert log_kind("/inetpub/logs/W3SVC1/u_ex041206.log") == "iis"
    assert log_kind("/W3SVC1/ex041206.log") == "iis"
    assert log_kind("/logs/distmgr.log") == "other"


def test_a_folder_means_the_default_globs(tmp_path):
    (tmp_path / "W3SVC1").mkdir()
    (tmp_path / "deep" / "er").mkdir(parents=True)
    for name in ("SiteComp.log", "SiteComp.lo_", "notes.txt", "W3SVC1/u_ex041206.log", "W3SVC1/ex041205.log"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "deep" / "er" / "MPControl.log").write_text("x\n")
    assert expand_patterns([str(tmp_path)]) == [os.path.join(str(tmp_path), g) for g in DEFAULT_GLOBS]
    found = {os.path.relpath(p, tmp_path) for p in PathsProvider([str(tmp_path)]).paths()}
    assert found == {"SiteComp.log", "SiteComp.lo_", "W3SVC1/u_ex041206.log", "W3SVC1/ex041205.log"}
    deep = PathsProvider([str(tmp_path / "**" / "*.log")]).paths()
    assert str(tmp_path / "deep" / "er" / "MPControl.log") in deep
    assert str(tmp_path / "SiteComp.log") in deep
    excluded = PathsProvider([str(tmp_path)], exclude=["*.lo_"]).paths()
    assert str(tmp_path / "SiteComp.lo_") not in excluded


def test_watch_roots(tmp_path):
    roots = PathsProvider([str(tmp_path)]).watch_roots()
    assert roots == [(str(tmp_path), True)]  # W3SVC*/... needs sub-folders
    flat = PathsProvider([str(tmp_path / "*.log")]).watch_roots()
    assert flat == [(str(tmp_path), False)]


@pytest.mark.parametrize(
    "url",
    [
        "kafka://127.0.0.1:abc/mpwatch",
        "kafka://127.0.0.1:99999/mpwatch",
        "kafka://:9092/mpwatch",
        "kafka://127.0.0.1:9092,broker2/mpwatch",
        "kafka://127.0.0.1:9092/",
        "http://127.0.0.1/x",
    ],
)
def test_bad_output_urls_are_config_errors_naming_the_output(url):
    with pytest.raises(ConfigError, match=r"^output: "):
        config = load_config(None, {**BASE, "output": url})
        open_output(config.output, host=config.host, kafka=config.kafka)


def test_ship_help_names_the_default_state_dir(capsys):
    with pytest.raises(SystemExit):
        main(["ship", "--help"])
    assert f"default: {ShipperConfig().state_dir}" in " ".join(capsys.readouterr().out.split())
