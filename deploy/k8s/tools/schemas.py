#!/usr/bin/env python3
"""JSON schemas that kubeconform reads offline: Kubernetes' own kinds and the CRDs mpwatch uses.

Two commands, both writing into a folder laid out for kubeconform's ``-schema-location`` templates:

* ``kube WHEEL VERSION OUT`` -- takes the strict schemas of one Kubernetes version out of the
  ``kubernetes-validate`` wheel (``kubernetes-json-schema/v<VERSION>-local-strict/``) and writes them to
  ``OUT/v<VERSION>-strict/<kind>-<group>-<version>.json`` (the names kubeconform's
  ``{{ .ResourceKind }}{{ .KindSuffix }}`` produces). Those files carry an ``$id`` under kubernetes.io and
  refer to ``/api/_definitions.json``, which a file loader would resolve to a remote address; here every
  ``$id`` is dropped and the references point at the ``_definitions.json`` beside them.
* ``crd CRD_YAML... --out OUT`` -- turns each served version of each CustomResourceDefinition into
  ``OUT/<group>/<kind>_<version>.json``: its ``openAPIV3Schema`` with ``apiVersion`` and ``kind`` pinned
  and required, ``nullable`` spelt as JSON Schema types, ``x-kubernetes-int-or-string`` as integer or
  string, and ``additionalProperties: false`` on every object that lists its properties and does not
  preserve unknown fields (what the API server's pruning would silently drop is an error here). A CRD
  says only ``metadata: {type: object}``; with ``--object-meta DEFINITIONS`` (a ``_definitions.json``
  written by ``kube``) Kubernetes' own strict ``ObjectMeta`` is embedded, so ``metadata.lables`` is an
  error in a custom resource too.

The schemas stay in Draft 4 semantics (kubeconform's default), as OpenAPI 3.0 uses them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

DEFINITIONS = "_definitions.json"
REMOTE_DEFINITIONS = "/api/_definitions.json"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LOCAL_REF = re.compile(r'"#/\$defs/([^"]+)"')


def localise(node: Any) -> Any:
    """A copy of a kubernetes-validate schema with no ``$id`` and only local references."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$id":
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith(REMOTE_DEFINITIONS):
                value = DEFINITIONS + value[len(REMOTE_DEFINITIONS) :]
            out[key] = localise(value)
        return out
    if isinstance(node, list):
        return [localise(item) for item in node]
    return node


def kube(wheel: Path, version: str, out: Path) -> int:
    """Write the localised strict schemas of Kubernetes ``version``; returns how many were written."""
    prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
    target = out / f"v{version}-strict"
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.startswith(prefix) or not name.endswith(".json"):
                continue
            schema = localise(json.loads(archive.read(name)))
            (target / name[len(prefix) :]).write_text(json.dumps(schema), encoding="utf-8")
            count += 1
    if count == 0:
        raise SystemExit(f"{wheel} has no schemas for Kubernetes v{version}")
    if not (target / DEFINITIONS).exists():
        raise SystemExit(f"{wheel}: v{version} has no {DEFINITIONS}")
    return count


def tighten(node: Any) -> Any:
    """An OpenAPI v3 structural schema (as a CRD carries it) as a strict JSON schema."""
    if isinstance(node, list):
        return [tighten(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: tighten(sub) for name, sub in value.items()}  # field names, not keywords
        else:
            out[key] = tighten(value)
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    open_ended = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not open_ended:
        out["additionalProperties"] = False
    return out


def object_meta(definitions: dict[str, Any]) -> dict[str, Any]:
    """``ObjectMeta`` and every definition it refers to, from a ``_definitions.json`` (``$defs``)."""
    defs = definitions["$defs"]
    out: dict[str, Any] = {}
    todo = [OBJECT_META]
    while todo:
        name = todo.pop()
        if name not in out:
            out[name] = defs[name]
            todo += _LOCAL_REF.findall(json.dumps(defs[name]))
    return out


def crd_schemas(crd: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``{"<group>/<kind>_<version>.json": schema}`` for every served version of one CRD; ``meta``
    (from ``object_meta``) makes ``metadata`` Kubernetes' ObjectMeta."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    out = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = tighten(version["schema"]["openAPIV3Schema"])
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        properties["kind"] = {"type": "string", "enum": [kind]}
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
        if meta:
            properties["metadata"] = {"$ref": f"#/$defs/{OBJECT_META}"}
            schema["$defs"] = meta
        out[f"{group}/{kind.lower()}_{version['name']}.json"] = schema
    return out


def crd(paths: list[Path], out: Path, definitions: Path | None = None) -> list[str]:
    """Convert every CustomResourceDefinition in ``paths``; returns the files written."""
    meta = object_meta(json.loads(definitions.read_text(encoding="utf-8"))) if definitions else None
    written = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in crd_schemas(doc, meta).items():
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=1), encoding="utf-8")
                written.append(name)
    if not written:
        raise SystemExit(f"no CustomResourceDefinition in {', '.join(map(str, paths))}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    k = commands.add_parser("kube", help="localise kubernetes-validate's schemas of one version")
    k.add_argument("wheel", type=Path)
    k.add_argument("version", help="e.g. 1.35.0")
    k.add_argument("out", type=Path)
    c = commands.add_parser("crd", help="convert CustomResourceDefinitions to JSON schemas")
    c.add_argument("crds", type=Path, nargs="+")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--object-meta", type=Path, help="a _definitions.json to take ObjectMeta from")
    args = parser.parse_args(argv)
    if args.command == "kube":
        print(f"  Kubernetes v{args.version}: {kube(args.wheel, args.version, args.out)} schemas")
    else:
        print(f"  CRD schemas: {', '.join(crd(args.crds, args.out, args.object_meta))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
