"""The image's HEALTHCHECK: exit 0 when mpwatch's ``/-/healthy`` answers 200, else 1.

``mpwatch run`` and ``mpwatch worker`` both serve ``GET /-/healthy`` (open even with a token). The
address is ``MPWATCH_HEALTH_URL`` when set (``mpwatch run``, or a shipper's ``/metrics``), otherwise the
worker's own web address from ``MPWATCH_WEB_HOST`` and ``MPWATCH_WEB_PORT`` (defaults 127.0.0.1 and
6066, as in ``streams/worker/settings.py``; a wildcard host is asked on loopback).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

HEALTH_PATH = "/-/healthy"
DEFAULT_WEB_HOST = "127.0.0.1"
DEFAULT_WEB_PORT = "6066"


def health_url(environ: Mapping[str, str]) -> str:
    """The URL to probe for this container's settings."""
    if environ.get("MPWATCH_HEALTH_URL"):
        return environ["MPWATCH_HEALTH_URL"]
    host = environ.get("MPWATCH_WEB_HOST") or DEFAULT_WEB_HOST
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    port = environ.get("MPWATCH_WEB_PORT") or DEFAULT_WEB_PORT
    return f"http://{host}:{port}{HEALTH_PATH}"


def probe(url: str, timeout_s: float = 4.0) -> str | None:
    """None when ``url`` answers 200, else why not (one line)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def main() -> int:
    url = health_url(os.environ)
    problem = probe(url)
    if problem is None:
        return 0
    print(f"unhealthy: {url}: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
