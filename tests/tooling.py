"""System tools that some tests need (promtool, amtool, prometheus, ...), installed by ``make tools``.

``require_tool(name)`` gives the tool's path; when it is missing the test is skipped with the reason,
except under ``MPWATCH_REQUIRE_TOOLS=1`` (``.ci/run`` sets it), where it fails: CI never passes by
skipping. Tools the project builds itself (``make k8s-tools`` into ``.tools/``) are found with
``search=`` and named with their own ``install=`` hint; ``require_path`` does the same for files such
tools leave behind (schemas).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

MAKE_TOOLS = "`make tools` installs it when run as root"


def missing(reason: str) -> NoReturn:
    """Skip the test, or fail it under MPWATCH_REQUIRE_TOOLS=1."""
    if os.environ.get("MPWATCH_REQUIRE_TOOLS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_tool(name: str, *, search: Path | None = None, install: str = MAKE_TOOLS) -> str:
    if search is not None and (search / name).is_file() and os.access(search / name, os.X_OK):
        return str(search / name)
    path = shutil.which(name)
    if path is not None:
        return path
    missing(f"{name} is not installed ({install})")


def require_path(path: Path, install: str) -> Path:
    if path.exists():
        return path
    missing(f"{path} does not exist ({install})")
