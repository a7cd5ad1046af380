"""The Compose trial stack (deploy/compose/compose.yaml) and the Dockerfile, held to the code.

No Docker engine runs here, so compose.yaml is loaded with compose-go (the loader of Docker Compose
itself: schema, interpolation, extends), and every setting that must agree with the code is read from
both sides: topic names and partition counts (the worker's own ``worker_topics``), the broker
address (Kafka's advertised listener for containers), the scrape targets (the services' web and
metrics ports), the health probe's path (a route the worker and ``mpwatch run`` really serve), bind
mounts (files of this repository), pinned image tags and loopback-only ports.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shipper.config import load_config
from shipper.paths import PathsProvider
from streams.worker.settings import WorkerSettings, load_settings
from streams.worker.topics import worker_topics
from tests.tooling import require_path, require_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"
WORKERS = ("worker-1", "worker-2")
COMPOSECHECK = ROOT / ".tools" / "go" / "composecheck"
DOCKERFILECHECK = ROOT / ".tools" / "go" / "dockerfilecheck"


def load_compose() -> dict[str, Any]:
    """compose.yaml with ``extends`` resolved the way Compose does it (the base, overridden by the
    service's own keys)."""
    compose = yaml.safe_load(COMPOSE.read_text())
    for service in compose["services"].values():
        extends = service.pop("extends", None)
        if extends:
            base = yaml.safe_load((COMPOSE_DIR / extends["file"]).read_text())["services"][extends["service"]]
            service.update({**base, **service})
    return compose


SERVICES: dict[str, Any] = load_compose()["services"]


def worker_settings(name: str) -> WorkerSettings:
    """The settings ``mpwatch worker`` builds inside the container ``name``: its environment and its
    ``--config`` file (mounted from this folder)."""
    service = SERVICES[name]
    command = service["command"]
    config = command[command.index("--config") + 1]
    return load_settings(str(mount_source(service, config)), {}, environ=service["environment"])


def mount_source(service: dict[str, Any], target: str) -> Path:
    for volume in service.get("volumes", []):
        source, mounted, *_ = volume.split(":")
        if mounted == target:
            return (COMPOSE_DIR / source).resolve()
    raise AssertionError(f"nothing mounted at {target}")


def bind_mounts() -> list[tuple[str, Path]]:
    mounts = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                mounts.append((name, (COMPOSE_DIR / source).resolve()))
    return mounts


def advertised_for_containers() -> str:
    """HOST:PORT that Kafka advertises to other containers (its inter-broker PLAINTEXT listener)."""
    env = SERVICES["kafka"]["environment"]
    listeners = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    return listeners[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]


def image_tag(image: str) -> str:
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{image}: no tag"
    return tag


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        assert "image" in service, f"{name}: no image"
        tag = image_tag(service["image"])
        assert tag != "latest" and re.search(r"\d", tag), (
            f"{name}: {service['image']} is not a pinned version"
        )
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in (*WORKERS, "shipper"):
        assert SERVICES[name]["image"] == f"mpwatch:{version}"
        assert SERVICES[name]["build"]["context"] == "../.."
        assert (COMPOSE_DIR / "../.." / SERVICES[name]["build"]["dockerfile"]).resolve() == DOCKERFILE
    pom = (ROOT / "deploy" / "local" / "kafka-pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert kafka_version
    assert (
        SERVICES["kafka"]["image"] == SERVICES["kafka-topics"]["image"] == f"apache/kafka:{kafka_version[1]}"
    )


def test_ports_are_published_on_loopback_only() -> None:
    published = [(name, port) for name, s in SERVICES.items() for port in s.get("ports", [])]
    assert len(published) >= 6
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not bound to 127.0.0.1"


def test_topic_service_creates_what_the_worker_expects() -> None:
    from streams.worker.app import TABLES

    script = SERVICES["kafka-topics"]["command"][0]
    created = {}
    for match in re.finditer(r"^create (.+)$", script, re.MULTILINE):
        args = shlex.split(match[1])
        config = {}
        if "--config" in args:
            key, value = args[args.index("--config") + 1].split("=")
            config[key] = value
        created[args[args.index("--topic") + 1]] = (int(args[args.index("--partitions") + 1]), config)
    settings = worker_settings("worker-1")
    expected = {t.name: (t.partitions, t.config) for t in worker_topics(settings, TABLES)}
    expected[f"{settings.app_id}-__assignor-__leader"] = (1, {})  # streams/cli/worker.py creates it too
    assert created == expected
    assert settings.topics == WorkerSettings().topics  # the defaults, spelled out in compose.yaml
    assert f"--bootstrap-server {advertised_for_containers()} " in script
    assert "--replication-factor 1" in script
    assert settings.replication == 1


def test_workers_and_shipper_use_the_advertised_broker() -> None:
    broker = advertised_for_containers()
    for name in WORKERS:
        assert worker_settings(name).brokers() == [broker]
    shipper = load_config(
        str(mount_source(SERVICES["shipper"], "/etc/mpwatch/shipper.toml")), {"paths": ["x"]}
    )
    output = urlsplit(shipper.output)
    assert (output.scheme, output.netloc) == ("kafka", broker)
    assert output.path.lstrip("/") == worker_settings("worker-1").topics.records


def test_each_worker_announces_its_own_reachable_address() -> None:
    settings = [worker_settings(name) for name in WORKERS]
    for name, s in zip(WORKERS, settings, strict=True):
        assert SERVICES[name]["hostname"] == name == s.web_host  # canonical_url = http://web_host:web_port
        assert [p.rsplit(":", 1)[1] for p in SERVICES[name]["ports"]] == [str(s.web_port)]
        assert s.store == "rocksdb://" and s.data_dir == "/var/lib/mpwatch/worker"
        assert any(v.endswith(f":{s.data_dir}") for v in SERVICES[name]["volumes"])
    assert len({s.partitions for s in settings}) == 1


def test_depends_on_have_conditions_and_health_checked_targets() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, rule in depends.items():
            assert target in SERVICES, (name, target)
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), (name, target)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], (
                    f"{name} waits for {target}, which has no healthcheck"
                )
    for name, service in SERVICES.items():
        if name != "kafka-topics":
            assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
    assert SERVICES["kafka-topics"]["restart"] == "no"


def test_bind_mounts_exist_in_the_repository() -> None:
    mounts = bind_mounts()
    assert len(mounts) >= 10
    for name, source in mounts:
        assert source.exists(), f"{name}: {source.relative_to(ROOT)} does not exist"
        assert ROOT in source.parents, f"{name}: {source} is outside the repository"
    grafana = {p.name for n, p in mounts if n == "grafana"}
    assert {p.name for p in (ROOT / "dashboards").glob("*.json")} <= grafana
    rules = mount_source(SERVICES["prometheus"], "/etc/prometheus/rules")
    assert rules == ROOT / "deploy" / "prometheus" / "rules" and list(rules.glob("*.yml"))
    assert mount_source(SERVICES["alertmanager"], "/etc/alertmanager/alertmanager.yml") == (
        ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    )


def test_grafana_provisioning_points_at_the_prometheus_service() -> None:
    grafana = SERVICES["grafana"]
    ours = yaml.safe_load(
        mount_source(grafana, "/etc/grafana/provisioning/datasources/mpwatch.yml").read_text()
    )
    repo = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/mpwatch.yml").read_text())
    (source,) = ours["datasources"]
    (original,) = repo["datasources"]
    assert {**source, "url": None} == {**original, "url": None}
    port = SERVICES["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert source["url"] == f"http://prometheus:{port}"
    provider = yaml.safe_load(
        mount_source(grafana, "/etc/grafana/provisioning/dashboards/mpwatch.yml").read_text()
    )
    folder = provider["providers"][0]["options"]["path"]
    for volume in grafana["volumes"]:
        if volume.split(":")[0].endswith(".json"):
            assert volume.split(":")[1].startswith(folder + "/")


def shipper_ports() -> tuple[list[str], int]:
    """Host folders of samples/ (what ship-samples.sh iterates over) and its first metrics port."""
    script = mount_source(SERVICES["shipper"], "/etc/mpwatch/ship-samples.sh").read_text()
    first = re.search(r"^port=(\d+)$", script, re.MULTILINE)
    assert first and "for dir in /samples/*/" in script
    assert mount_source(SERVICES["shipper"], "/samples") == ROOT / "samples"
    hosts = sorted(p.name for p in (ROOT / "samples").iterdir() if p.is_dir())
    return hosts, int(first[1])


def test_prometheus_scrapes_every_worker_and_shipper_port() -> None:
    config = yaml.safe_load(
        mount_source(SERVICES["prometheus"], "/etc/prometheus/prometheus.yml").read_text()
    )
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    repo = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert set(jobs) <= {job["job_name"] for job in repo["scrape_configs"]}  # names the rules use
    assert jobs["mpwatch-worker"] == [f"{n}:{worker_settings(n).web_port}" for n in WORKERS]
    hosts, first = shipper_ports()
    assert jobs["mpwatch-shipper"] == [f"shipper:{first + i}" for i in range(len(hosts))]
    shipper = load_config(
        str(mount_source(SERVICES["shipper"], "/etc/mpwatch/shipper.toml")), {"paths": ["x"]}
    )
    assert shipper.metrics_host == "0.0.0.0"
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    port = SERVICES["alertmanager"]["ports"][0].rsplit(":", 1)[1]
    assert alertmanagers["static_configs"][0]["targets"] == [f"alertmanager:{port}"]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_prometheus_config_passes_promtool() -> None:
    config = mount_source(SERVICES["prometheus"], "/etc/prometheus/prometheus.yml")
    done = subprocess.run(
        [require_tool("promtool"), "check", "config", "--syntax-only", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_demo_shipper_patterns_cover_every_sample_log() -> None:
    script = mount_source(SERVICES["shipper"], "/etc/mpwatch/ship-samples.sh").read_text()
    patterns = re.findall(r'--path "\$\{dir\}([^"]+)"', script)
    assert patterns
    for host in shipper_ports()[0]:
        folder = ROOT / "samples" / host
        found = {Path(p) for p in PathsProvider([f"{folder}/{pattern}" for pattern in patterns]).paths()}
        logs = {p for p in folder.rglob("*") if p.suffix in (".log", ".lo_")}
        assert found == logs and logs, host


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_pins_its_base_and_runs_unprivileged() -> None:
    steps = dockerfile_instructions()
    (base,) = [arg for op, arg in steps if op == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert steps.index(("USER", users[-1])) > max(i for i, (op, _) in enumerate(steps) if op == "RUN")
    assert ("ENTRYPOINT", '["mpwatch"]') in steps
    assert any("--constraint constraints.txt" in arg for op, arg in steps if op == "RUN")


def test_dockerfile_healthcheck_probes_a_route_the_code_serves() -> None:
    from prometheus_client import CollectorRegistry

    from streams.http import build_app as build_run_app
    from streams.store import MemoryStore
    from streams.worker.app import build_app as build_worker_app

    steps = dockerfile_instructions()
    (check,) = [arg for op, arg in steps if op == "HEALTHCHECK"]
    assert "/usr/local/bin/mpwatch-healthcheck" in check
    assert ("COPY", "deploy/docker/healthcheck.py /usr/local/bin/mpwatch-healthcheck") in steps
    sys.path.insert(0, str(HEALTHCHECK.parent))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(HEALTHCHECK.parent))
    worker_app = build_worker_app(WorkerSettings(store="memory://"))
    worker_routes = {r.resource.canonical for r in worker_app.web.web_app.router.routes() if r.resource}
    run_routes = {
        r.resource.canonical for r in build_run_app(MemoryStore({}), CollectorRegistry()).router.routes()
    }
    assert healthcheck.HEALTH_PATH in worker_routes and healthcheck.HEALTH_PATH in run_routes
    defaults = WorkerSettings()
    assert (healthcheck.DEFAULT_WEB_HOST, int(healthcheck.DEFAULT_WEB_PORT)) == (
        defaults.web_host,
        defaults.web_port,
    )
    for name in WORKERS:
        s = worker_settings(name)
        assert (
            healthcheck.health_url(SERVICES[name]["environment"])
            == f"http://{s.web_host}:{s.web_port}/-/healthy"
        )
    _, first = shipper_ports()
    assert SERVICES["shipper"]["environment"]["MPWATCH_HEALTH_URL"] == f"http://127.0.0.1:{first}/metrics"


async def test_healthcheck_script_answers_for_a_real_service() -> None:
    from prometheus_client import CollectorRegistry

    from streams.http import build_app, start
    from streams.store import MemoryStore

    async def probe(url: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HEALTHCHECK),
            env={**os.environ, "MPWATCH_HEALTH_URL": url},
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await process.wait()

    runner, port = await start(build_app(MemoryStore({}), CollectorRegistry(), token="t"), "127.0.0.1", 0)
    try:
        assert await probe(f"http://127.0.0.1:{port}/-/healthy") == 0
        assert await probe(f"http://127.0.0.1:{port}/api/servers") == 1  # 401 without the token
    finally:
        await runner.cleanup()
    assert await probe(f"http://127.0.0.1:{port}/-/healthy") == 1  # nothing listens any more


def test_constraints_pin_every_runtime_dependency() -> None:
    pins = {}
    for line in (ROOT / "deploy" / "docker" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line}: not pinned with =="
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        if requirement.marker and not requirement.marker.evaluate({"sys_platform": "linux"}):
            continue  # e.g. pywin32: Windows only, never in the Linux image
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in constraints.txt: run deploy/docker/lock.py"
        assert requirement.specifier.contains(pins[name]), (
            f"constraints.txt pins {name}=={pins[name]}, pyproject asks {requirement.specifier}: "
            "run deploy/docker/lock.py"
        )


def test_build_context_holds_only_what_the_image_copies() -> None:
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "*", "the context should start from nothing (no .venv, caches or local state)"
    kept = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = {arg.split()[0].rstrip("/") for op, arg in dockerfile_instructions() if op == "COPY"}
    assert copied <= kept


def compose_go(path: Path) -> subprocess.CompletedProcess[str]:
    """Load ``path`` with compose-go (tests/compose, built by ``make go-tools``)."""
    binary = require_path(COMPOSECHECK, "make go-tools builds it")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [str(binary), str(path)], capture_output=True, text=True, check=False, env=env, timeout=60
    )


def test_compose_loads_with_the_compose_loader() -> None:
    """What Docker Compose would load: schema, interpolation, extends and service references."""
    done = compose_go(COMPOSE)
    assert done.returncode == 0, done.stderr
    project = json.loads(done.stdout)
    services = project["services"]
    assert set(services) == set(SERVICES)
    assert services["kafka"]["environment"] == {
        k: str(v) for k, v in SERVICES["kafka"]["environment"].items()
    }
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), (name, volume["source"])
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "admin"  # the default
    assert set(project["volumes"]) == {"worker-1-data", "worker-2-data", "shipper-state", "prometheus-data"}


def test_compose_loader_rejects_a_broken_file(tmp_path: Path) -> None:
    shutil.copy(COMPOSE_DIR / "kafka.yml", tmp_path / "kafka.yml")
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text().replace("condition: service_completed_successfully", "condition: done", 1)
    )
    done = compose_go(broken)
    assert done.returncode == 1 and "condition" in done.stderr, done.stderr


def dockerfile_check(path: Path) -> tuple[int, dict[str, Any]]:
    """BuildKit's parser and build checks over ``path`` (tests/compose, built by ``make go-tools``)."""
    binary = require_path(DOCKERFILECHECK, "make go-tools builds it")
    done = subprocess.run([str(binary), str(path)], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_dockerfile_passes_buildkit_checks() -> None:
    code, report = dockerfile_check(DOCKERFILE)
    assert code == 0 and report == {"warnings": []}, report


def test_buildkit_checks_catch_a_broken_dockerfile(tmp_path: Path) -> None:
    text = DOCKERFILE.read_text()
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace('ENTRYPOINT ["mpwatch"]', "ENTRYPOINT mpwatch"))  # shell form: no signals
    code, report = dockerfile_check(broken)
    assert code == 1 and [w["rule"] for w in report["warnings"]] == ["JSONArgsRecommended"], report
    broken.write_text(
        text.replace("COPY deploy/docker/healthcheck.py /usr/local/bin/mpwatch-healthcheck", "COPY x")
    )
    code, report = dockerfile_check(broken)
    assert code == 1 and "COPY requires at least two arguments" in report["error"], report
