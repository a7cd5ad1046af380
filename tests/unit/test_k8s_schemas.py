"""deploy/k8s/tools/schemas.py: the conversions that make the Kubernetes and CRD schemas usable offline
and strict (pure functions, no tools needed)."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "k8s_schemas", ROOT / "deploy" / "k8s" / "tools" / "schemas.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


schemas = _load()

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget"},
        "versions": [
            {"name": "v1alpha1", "served": False, "schema": {"openAPIV3Schema": {"type": "object"}}},
            {
                "name": "v1",
                "served": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                    "config": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    # a field called like a keyword stays a field
                                    "properties": {
                                        "type": "object",
                                        "properties": {"a": {"type": "integer"}},
                                    },
                                },
                            }
                        },
                    }
                },
            },
        ],
    },
}


def test_crd_schema_is_strict_where_the_crd_lists_fields() -> None:
    (name, schema), *rest = schemas.crd_schemas(CRD).items()
    assert name == "example.com/widget_v1.json" and not rest  # unserved versions are left out
    assert schema["properties"]["apiVersion"]["enum"] == ["example.com/v1"]
    assert schema["properties"]["kind"]["enum"] == ["Widget"]
    assert {"apiVersion", "kind"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    fields = spec["properties"]
    assert fields["size"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert fields["note"]["type"] == ["string", "null"] and "nullable" not in fields["note"]
    assert "additionalProperties" not in fields["config"]  # preserves unknown fields
    assert fields["labels"]["additionalProperties"] == {"type": "string"}
    assert fields["properties"]["additionalProperties"] is False
    assert fields["properties"]["properties"] == {"a": {"type": "integer"}}


def test_object_meta_is_embedded_with_what_it_refers_to() -> None:
    meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    time = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
    definitions = {
        "$defs": {
            meta: {"properties": {"creationTimestamp": {"$ref": f"#/$defs/{time}"}}},
            time: {"type": "string"},
            "io.k8s.api.core.v1.Pod": {"type": "object"},
        }
    }
    embedded = schemas.object_meta(definitions)
    assert sorted(embedded) == sorted([meta, time])
    (schema,) = schemas.crd_schemas(CRD, embedded).values()
    assert schema["properties"]["metadata"] == {"$ref": f"#/$defs/{meta}"}
    assert schema["$defs"] == embedded


def test_crd_command_writes_the_group_kind_version_layout(tmp_path: Path) -> None:
    import yaml

    source = tmp_path / "crd.yaml"
    source.write_text("---\n" + yaml.safe_dump(CRD))
    assert schemas.crd([source], tmp_path / "out") == ["example.com/widget_v1.json"]
    assert json.loads((tmp_path / "out" / "example.com" / "widget_v1.json").read_text())["type"] == "object"
    (tmp_path / "empty.yaml").write_text("kind: ConfigMap\n")
    with pytest.raises(SystemExit):
        schemas.crd([tmp_path / "empty.yaml"], tmp_path / "out")


def test_kubernetes_schemas_lose_remote_ids_and_refs(tmp_path: Path) -> None:
    prefix = "kubernetes_validate/kubernetes-json-schema/v1.99.0-local-strict/"
    remote = "/api/_definitions.json#/$defs/io.k8s.api.core.v1.PodSpec"
    wheel = tmp_path / "kv.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            prefix + "pod-v1.json",
            json.dumps({"$id": "https://kubernetes.io/api/pod/v1", "properties": {"spec": {"$ref": remote}}}),
        )
        archive.writestr(prefix + "_definitions.json", json.dumps({"$id": "x", "$defs": {}}))
        archive.writestr("kubernetes_validate/kubernetes-json-schema/v1.98.0-local-strict/pod-v1.json", "{}")
    assert schemas.kube(wheel, "1.99.0", tmp_path / "out") == 2
    pod = json.loads((tmp_path / "out" / "v1.99.0-strict" / "pod-v1.json").read_text())
    assert pod == {"properties": {"spec": {"$ref": "_definitions.json#/$defs/io.k8s.api.core.v1.PodSpec"}}}
    assert sorted(p.name for p in (tmp_path / "out" / "v1.99.0-strict").iterdir()) == [
        "_definitions.json",
        "pod-v1.json",
    ]
    with pytest.raises(SystemExit):
        schemas.kube(wheel, "1.50.0", tmp_path / "out")
