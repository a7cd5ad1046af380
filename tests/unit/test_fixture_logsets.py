"""The fixture log-set builder writes what each scenario (``tests.fixtures.logsets.scenarios``) promises.

These tests check the files themselves (layout, encodings, line formats, timestamps that agree between
hosts, the symptom texts each scenario must carry); what the correlation core concludes from them is
tested with the core.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.logsets import ALL_SCENARIOS, DEMO, SCENARIOS, STYLES, write_all, write_logset
from tests.fixtures.logsets.build import main as build_main

CATALOGUE = {
    "MSI_MUTEX_BUSY", "DC_IIS_ACCOUNT_RESTRICTED", "IIS_NOT_INSTALLED", "BITS_NOT_INSTALLED",
    "WEB_SITE_PORT_CHANGED", "TASK_SCHEDULER_DISABLED", "DTC_DISABLED", "SQL_ACCESS_GROUP",
    "SQL_TRUSTED_CONNECTION", "URLSCAN_REJECTED", "SITE_SYSTEM_UNREACHABLE", "MSI_FATAL",
    "INSTALL_NOT_CONFIRMED", "INSTALL_RETRYING", "MP_NOT_RESPONDING",
    # causes later versions added (ConfigMgr 2007 .. current branch)
    "WEBDAV_NOT_INSTALLED", "ASPNET_NOT_REGISTERED", "MP_APP_POOL_STOPPED", "HTTPS_CLIENT_CERTIFICATE",
}  # fmt: skip
STATES = {"unknown", "pending", "installing", "installed", "healthy", "failed", "stuck", "degraded"}
BIAS = 300
TRAILER = {
    "numeric": re.compile(
        r"  \$\$<(?P<comp>[A-Z_]+)><(?P<ts>\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3})(?P<bias>[+-]\d+)>"
        r"<thread=(?P<tid>\d+) \(0x(?P<hex>[0-9A-F]+)\)>$"
    ),
    "text": re.compile(
        r"  \$\$<(?P<comp>[A-Z_]+)><(?P<ts>[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} \d{4}) "
        r"(?P<zone>Eastern Standard Time)><thread=(?P<tid>\d+) \(0x(?P<hex>[0-9A-F]+)\)>$"
    ),
}
MPSETUP_LINE = re.compile(r"^<(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d|\d\d/\d\d/\d\d \d\d:\d\d:\d\d)> ")
GMTDATE = re.compile(r"GMTDATE=([A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} \d{4}) ")


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """style -> scenario -> folder, every scenario (demo included) built once per style."""
    out: dict[str, dict[str, Path]] = {}
    for style in STYLES:
        root = tmp_path_factory.mktemp(style)
        out[style] = {name: write_logset(name, root, style) for name in ALL_SCENARIOS}
    return out


def _lines(path: Path, encoding: str = "ascii") -> list[str]:
    data = path.read_bytes()
    text = data.decode(encoding)
    assert text.endswith("\r\n"), path
    assert "\n" not in text.replace("\r\n", ""), f"bare LF or CR in {path}"
    return text[:-2].split("\r\n")


def _sms_records(path: Path, style: str) -> list[tuple[str, re.Match[str]]]:
    """(message, trailer match) per record; asserts every record is closed by a trailer."""
    records, pending = [], []
    for line in _lines(path):
        m = TRAILER[style].search(line)
        if m is None:
            pending.append(line)
            continue
        records.append(("\n".join([*pending, line[: m.start()]]), m))
        pending = []
    assert not pending, f"{path} ends inside a record"
    return records


def _local(m: re.Match[str], style: str) -> datetime:
    fmt = "%m-%d-%Y %H:%M:%S.%f" if style == "numeric" else "%a %b %d %H:%M:%S.%f %Y"
    return datetime.strptime(m["ts"], fmt)


def _sms_logs(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.name.lower() in ("sitecomp.log", "sitecomp.lo_", "mpcontrol.log")
    )


def _read(folder: Path, rel: str) -> str:
    path = folder / rel
    if path.name == "MPMSI.log":
        return path.read_bytes().decode("utf-16")
    return path.read_text("ascii")


def test_every_contract_code_has_exactly_one_scenario_and_sane_expectations() -> None:
    owners: dict[str, list[str]] = {}
    for name, sc in ALL_SCENARIOS.items():
        assert sc.expected_state in STATES and sc.target in sc.expected
        for state, codes in sc.expected.values():
            assert state in STATES and codes <= CATALOGUE
            assert (state in ("healthy",)) == (not codes)
        if name not in ("concurrent_installs", DEMO.name):
            assert set(sc.expected) == {"MGTPOINT1"}
            if sc.variant_of:  # the same cause in another form: its own scenario owns the code
                assert sc.variant_of in SCENARIOS and not SCENARIOS[sc.variant_of].variant_of
                continue
            for code in sc.expected_codes:
                owners.setdefault(code, []).append(name)
    assert {code: len(names) for code, names in owners.items()} == dict.fromkeys(CATALOGUE, 1)
    for code, (name,) in owners.items():
        assert name == code.lower()
    assert SCENARIOS["success"].expected_state == "healthy" and not SCENARIOS["success"].expected_codes
    assert DEMO.name not in SCENARIOS


def test_layout_hosts_and_files(sets: dict[str, dict[str, Path]]) -> None:
    for name, folder in sets["numeric"].items():
        sc = ALL_SCENARIOS[name]
        hosts = {p.name for p in folder.iterdir()}
        assert hosts >= {"SERVER1"} | set(sc.expected), name
        assert (folder / "SERVER1/SMS/Logs/sitecomp.log").is_file()
        for mp, (state, _) in sc.expected.items():
            logs = folder / mp / "SMS/Logs"
            if (logs / "MPMSI.log").exists():
                assert (logs / "MPSetup.log").exists()
            if state in ("healthy", "degraded"):  # installed: SMS_EXECUTIVE runs MP Control Manager
                assert (logs / "MPControl.log").is_file() and (logs / "MPMSI.log").is_file()
            else:
                assert not (logs / "MPControl.log").exists()
    iis_less = sets["numeric"]["iis_not_installed"] / "MGTPOINT1"
    assert not (iis_less / "W3SVC1").exists() and not (iis_less / "SMS/Logs/MPMSI.log").exists()
    assert (sets["numeric"]["install_retrying"] / "SERVER1/SMS/Logs/sitecomp.lo_").is_file()


@pytest.mark.parametrize("style", STYLES)
def test_sms_logs_are_crlf_records_closed_by_trailers(sets: dict[str, dict[str, Path]], style: str) -> None:
    continuation = tilde = 0
    for folder in sets[style].values():
        for path in _sms_logs(folder):
            records = _sms_records(path, style)
            assert records, path
            previous = None
            expected_comp = (
                "SMS_MP_CONTROL_MANAGER" if path.name == "MPControl.log" else "SMS_SITE_COMPONENT_MANAGER"
            )
            for message, m in records:
                assert m["comp"] == expected_comp
                assert int(m["hex"], 16) == int(m["tid"])
                if style == "numeric":
                    assert int(m["bias"]) == BIAS
                local = _local(m, style)
                assert previous is None or local >= previous, f"{path}: time goes back at {message!r}"
                previous = local
                continuation += "\n" in message
                tilde += "~" in message
    assert continuation and tilde


def test_both_styles_carry_the_same_records(sets: dict[str, dict[str, Path]]) -> None:
    for name in ALL_SCENARIOS:
        numeric, text = sets["numeric"][name], sets["text"][name]
        for path in _sms_logs(numeric):
            a = _sms_records(path, "numeric")
            b = _sms_records(text / path.relative_to(numeric), "text")
            assert [(msg, _local(m, "numeric")) for msg, m in a] == [(msg, _local(m, "text")) for msg, m in b]
        for path in numeric.rglob("*"):  # the other formats do not depend on the style
            if path.is_file() and path not in _sms_logs(numeric):
                assert path.read_bytes() == (text / path.relative_to(numeric)).read_bytes()


def test_statmsg_gmtdate_is_the_local_time_plus_bias(sets: dict[str, dict[str, Path]]) -> None:
    seen = 0
    for folder in sets["text"].values():
        for path in _sms_logs(folder):
            for message, m in _sms_records(path, "text"):
                if message.startswith("STATMSG: "):
                    gmt = datetime.strptime(GMTDATE.search(message)[1], "%a %b %d %H:%M:%S.%f %Y")  # type: ignore[index]
                    assert gmt - _local(m, "text") == timedelta(minutes=BIAS)
                    assert 'SOURCE="SMS Server"' in message and message.endswith("NUMATTRS=0")
                    seen += 1
    assert seen


def test_mpmsi_is_utf16le_with_bom_and_msi_verbose_shape(sets: dict[str, dict[str, Path]]) -> None:
    msi_logs = list(sets["numeric"]["success"].parent.rglob("MPMSI.log"))
    assert len(msi_logs) >= 8
    for path in msi_logs:
        data = path.read_bytes()
        assert data[:2] == b"\xff\xfe"
        lines = _lines(path, "utf-16-le")
        if lines[0] == "\ufeff2.00.3790.00":  # the seed's excerpt: begins after the banner's date
            lines = lines[1:]
            assert not any(ln.startswith("=== ") for ln in lines)
        else:
            assert lines[0].startswith("\ufeff=== Verbose logging started: ")
        assert "Calling process: C:\\SMS\\bin\\i386\\MPsetup.exe ===" in lines[0]
        engine = [ln for ln in lines if ln.startswith("MSI (")]
        assert engine and all(
            re.match(r"MSI \([cs]\) \([0-9A-F]{2}:[0-9A-F]{2}\)( \[\d\d:\d\d:\d\d:\d{3}\])?: ", ln)
            for ln in engine
        )
        if lines[-1].startswith("=== Verbose logging stopped"):
            assert re.search(r"MainEngineThread is returning \d+$", lines[-2])
    mutex = _read(sets["numeric"]["msi_mutex_busy"], "MGTPOINT1/SMS/Logs/MPMSI.log")
    assert "MSI (c) (A0:18): Failed to grab execution mutex. System error 258." in mutex  # no per-line times


def test_mpsetup_and_iis_formats(sets: dict[str, dict[str, Path]]) -> None:
    wrapped = 0
    for path in sets["numeric"]["success"].parent.rglob("MPSetup.log"):
        lines = _lines(path)
        assert MPSETUP_LINE.match(lines[0]) and "=====" in lines[0]
        wrapped += sum(1 for ln in lines if not MPSETUP_LINE.match(ln))
    assert wrapped
    for path in sets["numeric"]["success"].parent.rglob("ex*.log"):
        lines = _lines(path)
        assert lines[0] == "#Software: Microsoft Internet Information Services 6.0"
        fields: list[str] = []
        for line in lines:
            if line.startswith("#Fields: "):
                fields = line.split()[1:]
            elif not line.startswith("#"):
                assert fields[:2] == ["date", "time"] and len(line.split(" ")) == len(fields), line


def test_mp_and_site_server_times_agree(sets: dict[str, dict[str, Path]]) -> None:
    """MPSetup runs between SiteComp starting it and SiteComp seeing it end; IIS (UTC) matches MPControl."""
    folder = sets["numeric"]["success"]
    records = _sms_records(folder / "SERVER1/SMS/Logs/sitecomp.log", "numeric")
    started = next(
        _local(m, "numeric")
        for msg, m in records
        if msg.startswith("Starting service") and "MPsetup.exe" in msg
    )
    ended = next(
        _local(m, "numeric") for msg, m in records if "MPsetup.exe" in msg and "executed successfully" in msg
    )
    stamps = [MPSETUP_LINE.match(ln) for ln in _lines(folder / "MGTPOINT1/SMS/Logs/MPSetup.log")]
    times = [datetime.strptime(m[1], "%m-%d-%Y %H:%M:%S") for m in stamps if m]
    assert started - timedelta(seconds=1) <= times[0] and times[-1] <= ended
    flagged = next(_local(m, "numeric") for msg, m in records if "ID=1013 " in msg)
    done = next(_local(m, "numeric") for msg, m in records if "ID=1015 " in msg)
    assert timedelta(minutes=5) <= done - flagged <= timedelta(minutes=10)
    checks = [
        _local(m, "numeric")
        for msg, m in _sms_records(folder / "MGTPOINT1/SMS/Logs/MPControl.log", "numeric")
        if "succeeded with status code 200" in msg
    ]
    iis = [
        ln.split(" ")
        for ln in _lines(folder / "MGTPOINT1/W3SVC1/ex041206.log")
        if "SMS_MP_CONTROL_MANAGER 200" in ln
    ]
    assert len(checks) == len(iis) >= 5
    for check, row in zip(checks, iis, strict=True):
        utc = datetime.strptime(f"{row[0]} {row[1]}", "%Y-%m-%d %H:%M:%S")
        assert abs(check + timedelta(minutes=BIAS) - utc) < timedelta(seconds=2)
    assert all(b - a < timedelta(minutes=11) for a, b in itertools.pairwise(checks))  # every 10 minutes


# (scenario, file, texts the contract promises for it)
SYMPTOMS = [
    (
        "success",
        "SERVER1/SMS/Logs/sitecomp.log",
        ["NAL failed to access NAL path 'MSWNET:\\\\MGTPOINT1\\N$\\'", "Installation successful."],
    ),
    (
        "msi_mutex_busy",
        "MGTPOINT1/SMS/Logs/MPMSI.log",
        ["Failed to grab execution mutex. System error 258.", "MainEngineThread is returning 1618"],
    ),
    ("msi_mutex_busy", "MGTPOINT1/SMS/Logs/MPSetup.log", ["MP.MSI exited with return code: 1618"]),
    (
        "dc_iis_account_restricted",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["Http verification .sms_aut failed with status code 401, Unauthorized"],
    ),
    (
        "dc_iis_account_restricted",
        "MGTPOINT1/W3SVC1/ex041206.log",
        ["GET /SMS_MP/.sms_aut MPLIST 80 - 10.1.1.21 SMS_MP_CONTROL_MANAGER 401 3 5"],
    ),
    (
        "iis_not_installed",
        "MGTPOINT1/SMS/Logs/MPSetup.log",
        ["Error -\r\nIIS Service is not installed on the Machine - \r\nMP Installation cannot"],
    ),
    (
        "bits_not_installed",
        "MGTPOINT1/SMS/Logs/MPMSI.log",
        ["Error 25010. Setup failed: BITS Server Extensions are not installed on this computer."],
    ),
    (
        "bits_not_installed",
        "MGTPOINT1/SMS/Logs/MPSetup.log",
        ["MP.MSI exited with return code: 1603", "Fatal MSI Error - MP.MSI could not be installed."],
    ),
    (
        "web_site_port_changed",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        [
            "Failed to send http request /SMS_MP/.sms_aut?MPLIST. Error 12029",
            "Http verification .sms_aut failed with no header received",
        ],
    ),
    (
        "task_scheduler_disabled",
        "MGTPOINT1/SMS/Logs/MPSetup.log",
        [
            "the Internet virtual directory CCM_Incoming\r\nThe error code is 80041315",
            "MP.MSI exited with return code: 1603",
        ],
    ),
    (
        "dtc_disabled",
        "MGTPOINT1/SMS/Logs/MPSetup.log",
        ["The error code is 80020009", "Fatal MSI Error - MP.MSI could not be installed."],
    ),
    (
        "sql_access_group",
        "SERVER1/SMS/Logs/sitecomp.log",
        [
            'ID=4908 SEV=E LEV=M SOURCE="SMS Server" COMP="SMS_SITE_COMPONENT_MANAGER" SYS=MGTPOINT1 ',
            "ID=5414 SEV=E",
        ],
    ),
    (
        "sql_trusted_connection",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["Login failed for user '(null)'. Reason: Not associated with a trusted SQL Server connection."],
    ),
    (
        "urlscan_rejected",
        "MGTPOINT1/W3SVC1/ex041206.log",
        ["GET /<Rejected-By-UrlScan> ~/ccm_system/request 80 -"],
    ),
    (
        "site_system_unreachable",
        "SERVER1/SMS/Logs/sitecomp.log",
        ["NAL failed to access NAL path 'MSWNET:\\\\MGTPOINT1\\admin$\\', probably"],
    ),
    ("msi_fatal", "MGTPOINT1/SMS/Logs/MPMSI.log", ["Return value 3.", "MainEngineThread is returning 1603"]),
    (
        "msi_fatal",
        "MGTPOINT1/SMS/Logs/MPSetup.log",
        ["MP.MSI exited with return code: 1603", "Fatal MSI Error - MP.MSI could not be installed."],
    ),
    (
        "mp_not_responding",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["succeeded with status code 200, OK", "failed with status code 503, Service Unavailable"],
    ),
    (
        "msi_log_without_times",
        "MGTPOINT1/SMS/Logs/MPMSI.log",
        ["2.00.3790.00\r\nCalling process: C:\\SMS\\bin\\i386\\MPsetup.exe ===", "returning 1618"],
    ),
    # later versions (ConfigMgr 2007 .. current branch), in the published words
    (
        "configmgr_success",
        "SERVER1/SMS/Logs/sitecomp.log",
        [
            "Installing component SMS_MP_CONTROL_MANAGER...",
            'rolesetup.exe /install /siteserver:SERVER1 SMSMP 0" executed successfully on server MGTPOINT1.',
        ],
    ),
    (
        "configmgr_success",
        "MGTPOINT1/SMS/Logs/MPSetup.log",
        [
            "> SMSMP Setup Started....",
            "> Installing Pre Reqs for SMSMP",
            "> Pre Req SqlNativeClient is already installed. Skipping it.",
            "> Installation was successful.",
            "> ~RoleSetup().",
        ],
    ),
    (
        "configmgr_success",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["Call to HttpSendRequestSync succeeded for port 80 with status code 200, text: OK"],
    ),
    (
        "install_retrying_rolesetup",
        "SERVER1/SMS/Logs/sitecomp.log",
        [
            "Bootstrap operations aborted.",
            "Installation failed and will be retried in the next polling cycle.",
        ],
    ),
    (
        "msi_fatal_custom_action",
        "MGTPOINT1/SMS/Logs/MPMSI.log",
        ["CustomAction CcmCreateIISVirtualDirectories returned actual error code 1603", "Return value 3."],
    ),
    ("webdav_not_installed", "MGTPOINT1/SMS/Logs/MPMSI.log", ["WebDAV is not installed or not enabled"]),
    (
        "aspnet_not_registered",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["Call to HttpSendRequestSync failed for port 80 with status code 500, text: Internal Server Error"],
    ),
    ("aspnet_not_registered", "MGTPOINT1/W3SVC1/ex041206.log", ["SMS_MP_CONTROL_MANAGER 500 21 0"]),
    (
        "mp_app_pool_stopped",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["Call to HttpSendRequestSync failed for port 80 with status code 503, text: Service Unavailable"],
    ),
    (
        "https_client_certificate",
        "MGTPOINT1/SMS/Logs/MPControl.log",
        ["Call to HttpSendRequestSync failed for port 443 with status code 403, text: Forbidden"],
    ),
    (
        "https_client_certificate",
        "MGTPOINT1/W3SVC1/ex041206.log",
        ["MPLIST 443 - 10.1.1.21 SMS_MP_CONTROL_MANAGER 403 16 0"],
    ),
]


@pytest.mark.parametrize(("name", "rel", "texts"), SYMPTOMS)
def test_scenario_carries_its_contract_symptoms(
    sets: dict[str, dict[str, Path]], name: str, rel: str, texts: list[str]
) -> None:
    content = _read(sets["numeric"][name], rel).replace("\r\n", "\n")
    for text in texts:
        assert text.replace("\r\n", "\n") in content


def _sitecomp_messages(folder: Path) -> list[tuple[str, re.Match[str]]]:
    logs = sorted(folder.glob("SERVER1/SMS/Logs/sitecomp.lo*"), key=lambda p: p.suffix != ".lo_")
    return [rec for path in logs for rec in _sms_records(path, "numeric")]


def test_status_1013_counts_and_failure_windows(sets: dict[str, dict[str, Path]]) -> None:
    for name in SCENARIOS:
        records = _sitecomp_messages(sets["numeric"][name])
        flagged = [
            _local(m, "numeric") for msg, m in records if "ID=1013 " in msg and "SYS=MGTPOINT1 " in msg
        ]
        installed = [msg for msg, _ in records if "ID=1015 " in msg and "SYS=MGTPOINT1 " in msg]
        last = max(_local(m, "numeric") for _, m in records)
        if name == "install_retrying_rolesetup":  # no status line collected: the retry lines count
            retries = [
                _local(m, "numeric") for msg, m in records if msg.startswith("Installation failed and")
            ]
            assert not flagged and not installed and len(retries) == 3
            assert all(
                timedelta(minutes=59) < b - a < timedelta(minutes=62) for a, b in itertools.pairwise(retries)
            )
            continue
        if name == "install_retrying":
            assert len(flagged) == 3 and not installed
            assert all(
                timedelta(minutes=59) < b - a < timedelta(minutes=62) for a, b in itertools.pairwise(flagged)
            )
        else:
            assert len(flagged) == 1, name
            assert last - flagged[0] < timedelta(minutes=60), name  # ends before the hourly retry
        if ALL_SCENARIOS[name].expected_state in ("healthy", "degraded"):
            assert len(installed) == 1, name
        elif name != "concurrent_installs":
            assert not installed, name
    records = _sitecomp_messages(sets["numeric"]["install_not_confirmed"])
    flagged_at = next(_local(m, "numeric") for msg, m in records if "ID=1013 " in msg)
    assert max(_local(m, "numeric") for _, m in records) - flagged_at >= timedelta(minutes=15)


def test_concurrent_installs_interleave_two_threads(sets: dict[str, dict[str, Path]]) -> None:
    records = _sms_records(
        sets["numeric"]["concurrent_installs"] / "SERVER1/SMS/Logs/sitecomp.log", "numeric"
    )
    install_threads = [m["tid"] for msg, m in records if m["tid"] in ("1700", "2044")]
    switches = sum(a != b for a, b in itertools.pairwise(install_threads))
    assert switches >= 10
    text = "\n".join(msg for msg, _ in records)
    assert (
        "Synchronizing component server MGTPOINT1..." in text
        and "Synchronizing component server MGTPOINT2..." in text
    )
    assert (
        "SYS=MGTPOINT2 " in text
        and (sets["numeric"]["concurrent_installs"] / "MGTPOINT2/SMS/Logs/MPSetup.log").is_file()
    )


def test_builds_are_deterministic(tmp_path: Path, sets: dict[str, dict[str, Path]]) -> None:
    again = write_logset("concurrent_installs", tmp_path, "text")
    first = sets["text"]["concurrent_installs"]
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_write_all_cli_and_errors(tmp_path: Path) -> None:
    written = write_all(tmp_path / "all", "text")
    assert set(written) == set(SCENARIOS) and all((p / "SERVER1").is_dir() for p in written.values())
    assert build_main([str(tmp_path / "cli"), "--scenario", "success", "--scenario", "dtc_disabled"]) == 0
    assert {p.name for p in (tmp_path / "cli").iterdir()} == {"success", "dtc_disabled"}
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "README.md").write_text("kept")
    assert build_main([str(flat), "--scenario", "demo", "--flat"]) == 0
    assert {p.name for p in flat.iterdir()} == {
        "README.md",
        "SERVER1",
        "MGTPOINT1",
        "MGTPOINT2",
        "MGTPOINT3",
        "MGTPOINT4",
    }
    with pytest.raises(ValueError, match="style"):
        write_logset("success", tmp_path, "iso")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="known: success"):
        write_logset("nope", tmp_path)
    with pytest.raises(SystemExit):
        build_main([str(tmp_path), "--flat"])


def test_committed_samples_match_the_builder(tmp_path: Path) -> None:
    """samples/ (make demo) is the demo scenario written flat; regenerate it when the builder changes."""
    samples = Path(__file__).resolve().parents[2] / "samples"
    fresh = write_logset(DEMO.name, tmp_path, flat=True)
    files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(samples) for p in samples.rglob("*") if p.is_file() and p.parent != samples
    )
    assert files == committed
    stale = [str(f) for f in files if (fresh / f).read_bytes() != (samples / f).read_bytes()]
    assert not stale, "run: python -m tests.fixtures.logsets.build samples --scenario demo --flat"
