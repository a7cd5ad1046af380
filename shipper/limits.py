"""How many files the shipper may hold open at once.

Every tracked file keeps its descriptor while it is being read; idle ones are closed after
``tail.close_inactive_s`` and reopened by identity when they change. With more watched files than
descriptors, the registry keeps at most ``open_budget()`` open and closes the least recently changed idle
ones first. The CLI also raises the soft RLIMIT_NOFILE to the hard limit at start (POSIX).
"""

from __future__ import annotations

import sys

_CAP = 4096  # more open handles than this buys nothing for a log shipper


def raise_fd_limit() -> None:
    """Raise the soft descriptor limit to the hard limit (POSIX only; failures are ignored)."""
    if sys.platform == "win32":  # pragma: no cover - no RLIMIT_NOFILE on Windows
        return
    import resource

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass


def open_budget(configured: int = 0) -> int:
    """``configured`` if > 0, else half the soft descriptor limit (the rest is for sockets, the
    checkpoint, watchdog), between 16 and 4096."""
    if configured > 0:
        return configured
    if sys.platform == "win32":  # pragma: no cover - the C runtime allows 8192 descriptors
        return 2048
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _CAP
    return max(16, min(_CAP, soft // 2))
