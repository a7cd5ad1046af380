"""System tools that some tests need (promtool, amtool, prometheus, ...), installed by ``make tools``.

``require_tool(name)`` gives the tool's path; when it is missing the test is skipped with the reason,
except under ``MPWATCH_REQUIRE_TOOLS=1`` (``.ci/run`` sets it), where it fails: CI never passes by
skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} is not installed (`make tools` installs it when run as root)"
    if os.environ.get("MPWATCH_REQUIRE_TOOLS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_path(path: Path, how: str) -> Path:
    """``path`` (a tool a Makefile target installs into the work tree); skipped or failed like
    ``require_tool`` when it is missing, with ``how`` to install it."""
    if path.exists():
        return path
    reason = f"{path.name} is not installed ({how})"
    if os.environ.get("MPWATCH_REQUIRE_TOOLS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)
