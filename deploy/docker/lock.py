"""Write ``deploy/docker/constraints.txt``: the exact versions of mpwatch's runtime dependencies.

Run as ``.venv/bin/python deploy/docker/lock.py`` after a dependency in pyproject.toml changed. It
walks the installed distribution's ``Requires-Dist`` (extras only where mpwatch asks for them, the dev
extra never) through the environment it runs in and pins every package it reaches to the version
installed there (what ``pip freeze`` says, limited to what the image needs). The Dockerfile installs
mpwatch with ``--constraint`` on that file, so the image gets the versions the tests ran against.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

OUT = Path(__file__).with_name("constraints.txt")
HEADER = (
    "# Runtime dependencies of mpwatch pinned to the versions its tests ran with; written by\n"
    "# deploy/docker/lock.py (do not edit by hand). Used by the Dockerfile: pip install --constraint.\n"
)


def runtime_pins(root: str = "mpwatch") -> dict[str, str]:
    """Canonical package name -> installed version for everything ``root`` needs at run time."""
    pins: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = metadata.distribution(name)
        if name != root:
            pins[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            environment = {"extra": ""}
            wanted = not req.marker or req.marker.evaluate(environment)
            if not wanted and extras:  # a requirement of one of the extras asked for
                wanted = any(req.marker.evaluate({"extra": e}) for e in extras)
            if wanted:
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return pins


def main() -> int:
    pins = runtime_pins()
    OUT.write_text(HEADER + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins)))
    print(f"{OUT.name}: {len(pins)} packages pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
