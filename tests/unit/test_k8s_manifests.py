"""deploy/k8s: the kustomize base and the example overlay build, and kubeconform accepts every resource
against the Kubernetes schemas (strict, each version of versions.env) and the Strimzi and
prometheus-operator CRD schemas; the same checks reject a wrong field or type. The generated files are
current, and what the manifests say agrees with the worker's code (topics, routes, settings, image).

kustomize, kubeconform and the schemas come from ``make k8s-tools`` (deploy/k8s/tools/fetch) into .tools/.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tooling import require_path, require_tool

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
TOOLS = Path(os.environ.get("K8S_TOOLS_DIR") or ROOT / ".tools")  # as deploy/k8s/tools/fetch
INSTALL = "`make k8s-tools` builds it into .tools/"
KUBE_TEMPLATE = (
    "kubernetes/{{ .NormalizedKubernetesVersion }}{{ .StrictSuffix }}/"
    "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
CRD_TEMPLATE = "crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


def versions() -> dict[str, str]:
    out = {}
    for line in (K8S / "tools" / "versions.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = " ".join(shlex.split(value))
    return out


KUBERNETES_VERSIONS = versions()["KUBERNETES_VERSIONS"].split()


def docs_of(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return doc


@functools.cache
def build(path: Path) -> str:
    kustomize = require_tool("kustomize", search=TOOLS / "bin", install=INSTALL)
    done = subprocess.run([kustomize, "build", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def kubeconform(manifests: str, kube_version: str) -> subprocess.CompletedProcess[str]:
    binary = require_tool("kubeconform", search=TOOLS / "bin", install=INSTALL)
    schemas = TOOLS / "schemas"
    require_path(schemas / "kubernetes" / f"v{kube_version}-strict", INSTALL)
    require_path(schemas / "crds" / "kafka.strimzi.io", INSTALL)
    require_path(schemas / "crds" / "monitoring.coreos.com", INSTALL)
    command = [binary, "-strict", "-summary", "-kubernetes-version", kube_version]
    command += [
        "-schema-location",
        f"{schemas}/{KUBE_TEMPLATE}",
        "-schema-location",
        f"{schemas}/{CRD_TEMPLATE}",
    ]
    return subprocess.run(command, input=manifests, capture_output=True, text=True, check=False)


# ----------------------------------------------------------------------------- build and validate


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", [BASE, OVERLAY], ids=["base", "overlay"])
def test_kustomize_build_is_valid(target: Path, kube_version: str) -> None:
    manifests = build(target)
    count = len([d for d in yaml.safe_load_all(manifests) if d])
    done = kubeconform(manifests, kube_version)
    assert done.returncode == 0, done.stdout + done.stderr
    # every resource was checked against a schema: none skipped, none without one
    assert f"{count} resources found" in done.stdout and f"Valid: {count}," in done.stdout, done.stdout


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(leaf) if leaf.isdigit() else leaf] = value


BROKEN = [
    ("StatefulSet", "spec.replicas", "three", "want null or integer"),
    ("StatefulSet", "spec.template.spec.containers.0.readinessProbe.httpGet.paht", "/", "'paht' not allowed"),
    ("Service", "spec.ports.0.port", "80", "got string, want integer"),
    ("NetworkPolicy", "spec.policyTypes", "Ingress", "want null or array"),
    ("Kafka", "spec.kafka.listeners.0.tls", "no", "want boolean"),
    ("KafkaNodePool", "spec.storage.volumes.0.sise", "50Gi", "'sise' not allowed"),
    ("KafkaTopic", "spec.partitions", "8", "want integer"),
    ("KafkaTopic", "metadata.lables", {"a": "b"}, "'lables' not allowed"),  # ObjectMeta in CRs too
    ("PodMonitor", "metadata.labels", ["release"], "want null or object"),
    ("KafkaUser", "spec.authentication.type", "password", "value must be one of"),
    ("PodMonitor", "spec.podMetricsEndpoints.0.interval", 15, "want string"),
    ("PrometheusRule", "spec.groups.0.rules.0.alertname", "X", "'alertname' not allowed"),
]


@pytest.mark.parametrize(("kind", "path", "value", "why"), BROKEN, ids=[b[0] + ":" + b[1] for b in BROKEN])
def test_validation_rejects_a_wrong_field_or_type(kind: str, path: str, value: Any, why: str) -> None:
    """The schemas really constrain our resources: one wrong field or type in a built resource fails."""
    docs = [d for d in yaml.safe_load_all(build(BASE)) if d]
    doc = copy.deepcopy(next(d for d in docs if d["kind"] == kind))
    _set(doc, path, value)
    done = kubeconform(yaml.safe_dump(doc), KUBERNETES_VERSIONS[-1])
    assert done.returncode == 1, done.stdout
    assert "Invalid: 1" in done.stdout and why in done.stdout, done.stdout


def test_validation_rejects_a_kind_without_schema() -> None:
    done = kubeconform(
        "apiVersion: example.com/v1\nkind: Nothing\nmetadata: {name: x}\n", KUBERNETES_VERSIONS[-1]
    )
    assert done.returncode == 1 and "could not find schema" in done.stdout, done.stdout


# ----------------------------------------------------------------------------- generated and consistent


def test_generated_files_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_topics_are_the_workers() -> None:
    """KafkaTopics = what `mpwatch worker` creates: same names, partitions, replication, compaction."""
    from streams.worker.app import TABLES
    from streams.worker.settings import load_settings
    from streams.worker.topics import worker_topics

    settings = load_settings(str(BASE / "worker.toml"), environ={})
    expected = {t.name: (t.partitions, t.config) for t in worker_topics(settings, TABLES)}
    expected[f"{settings.app_id}-__assignor-__leader"] = (1, {})
    topics = {
        d["spec"].get("topicName", d["metadata"]["name"]): (
            d["spec"]["partitions"],
            d["spec"].get("config", {}),
        )
        for d in docs_of(BASE / "kafka-topics.yaml")
    }
    assert topics == expected
    assert {"mpwatch-records", "mpwatch-events", "mpwatch-health"} <= set(topics)
    replicas = {d["spec"]["replicas"] for d in docs_of(BASE / "kafka-topics.yaml")}
    assert replicas == {settings.replication}
    assert settings.partitions == 8 and settings.brokers() == ["mpwatch-kafka-bootstrap:9092"]
    cluster = one(docs_of(BASE / "kafka.yaml"), "Kafka")["metadata"]["name"]
    assert {d["metadata"]["labels"]["strimzi.io/cluster"] for d in docs_of(BASE / "kafka-topics.yaml")} == {
        cluster
    }


def test_prometheus_rule_holds_every_rule_file() -> None:
    groups = []
    for path in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml")):
        groups += yaml.safe_load(path.read_text())["groups"]
    assert one(docs_of(BASE / "prometheusrule.yaml"), "PrometheusRule")["spec"]["groups"] == groups


def test_worker_pods_match_the_worker() -> None:
    docs = docs_of(BASE / "worker.yaml")
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    app_source = (ROOT / "streams" / "worker" / "app.py").read_text()
    served = set(re.findall(r'@app\.page\("([^"{]+)"\)', app_source))
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in served
    config = tomllib.loads((BASE / "worker.toml").read_text())
    assert container["ports"][0]["containerPort"] == config["web_port"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert container["image"] == f"mpwatch:{version}"
    # RocksDB tables on the claim template's volume; the config file is the generated ConfigMap
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config["data_dir"].startswith(mounts["tables"] + "/")
    assert one(docs, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "tables"
    assert container["command"][-1] == mounts["config"] + "/worker.toml"
    # non-root, read-only root filesystem, nothing to escalate
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]["cpu"] == "1"
    headless = one(docs, "Service", "mpwatch-worker")["spec"]
    assert (
        headless["clusterIP"] == "None"
        and one(docs, "StatefulSet")["spec"]["serviceName"] == "mpwatch-worker"
    )


def test_scrape_job_is_the_one_the_rules_name() -> None:
    (endpoint,) = one(docs_of(BASE / "podmonitor.yaml"), "PodMonitor")["spec"]["podMetricsEndpoints"]
    job = next(r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job")
    rules = (ROOT / "deploy" / "prometheus" / "rules" / "pipeline.yml").read_text()
    assert f'job=~"{job}|' in rules and endpoint["path"] == "/metrics"


def test_dashboards_configmap_for_the_grafana_sidecar() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    (dashboards,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "mpwatch-dashboards"]
    assert dashboards["options"]["labels"] == {"grafana_dashboard": "1"}
    assert sorted(Path(f).name for f in dashboards["files"]) == sorted(
        p.name for p in (ROOT / "dashboards").glob("*.json")
    )
