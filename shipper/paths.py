"""Which files to ship: glob patterns (``**`` included), folder defaults, and the log kind of a path.

A ``--path`` that names an existing folder stands for the default SMS and IIS patterns inside it
(``*.log``, ``*.lo_``, ``W3SVC*/u_ex*.log``, ``W3SVC*/ex*.log``), so ``--path 'C:\\SMS\\Logs'`` does the
expected thing; one that does not exist yet is watched for both as a file and as such a folder.
``PathsProvider`` only lists files; following them across renames is the registry's job (it tracks
identity, never paths).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat

from streams.logfiles import KINDS, log_kind

__all__ = ["DEFAULT_GLOBS", "KINDS", "PathsProvider", "expand_patterns", "log_kind"]

DEFAULT_GLOBS = ("*.log", "*.lo_", "W3SVC*/u_ex*.log", "W3SVC*/ex*.log")

_WILDCARDS = re.compile(r"[*?\[]")


def expand_patterns(patterns: list[str]) -> list[str]:
    """Turn folders into the default globs inside them; keep real patterns as they are. A plain path
    that does not exist yet (a role's log folder before the role is installed, ``SMS_CCM\\Logs`` before
    the MP) stands for both: the file of that name, and the default globs in a folder of that name, so
    whichever appears later is shipped (a non-folder path is never listed as a folder's files)."""
    out: list[str] = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if _WILDCARDS.search(pattern) or os.path.isfile(pattern):
            out.append(pattern)
        elif os.path.isdir(pattern):
            out.extend(os.path.join(pattern, g) for g in DEFAULT_GLOBS)
        else:
            out.append(pattern)
            out.extend(os.path.join(pattern, g) for g in DEFAULT_GLOBS)
    return list(dict.fromkeys(out))


def _static_prefix(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard (the folder to watch)."""
    parts = re.split(r"[\\/]", pattern)
    static: list[str] = []
    for part in parts[:-1]:
        if _WILDCARDS.search(part):
            break
        static.append(part)
    prefix = os.sep.join(static)
    if pattern.startswith(("/", "\\")) and not prefix.startswith(os.sep):
        prefix = os.sep + prefix
    return prefix or "."


class PathsProvider:
    """Lists the regular files matched by include patterns and not matched by exclude patterns."""

    def __init__(self, patterns: list[str], exclude: list[str] | None = None) -> None:
        self.patterns = expand_patterns(patterns)
        self.exclude = list(exclude or [])
        self._roots: list[str] | None = None

    def paths(self) -> list[str]:
        """Every matching regular file, each path once, in a stable order."""
        found: dict[str, None] = {}
        for pattern in self.patterns:
            for path in glob.iglob(pattern, recursive=True):
                if path in found or self._excluded(path):
                    continue
                try:
                    mode = os.stat(path).st_mode
                except OSError:
                    continue  # vanished between listing and stat
                if stat.S_ISREG(mode):
                    found[path] = None
        return sorted(found)

    def listing(self) -> dict[tuple[int, int], tuple[str, os.stat_result]]:
        """Every matching file by (device, inode), with its path and a fresh stat; a file listed under
        several names (hard links, overlapping patterns) keeps the first one."""
        found: dict[tuple[int, int], tuple[str, os.stat_result]] = {}
        for path in self.paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            found.setdefault((st.st_dev, st.st_ino), (path, st))
        return found

    def display_name(self, path: str) -> str:
        """``path`` relative to the watched folder it was found under ('/'-separated): the name the
        consumer shows and orders by, the same as ``mpwatch diagnose`` gives the file in a host folder.
        The shortest static root of the patterns that contain it wins; else the base name."""
        roots = self._roots
        if roots is None:
            roots = self._roots = sorted({os.path.abspath(_static_prefix(p)) for p in self.patterns}, key=len)
        full = os.path.abspath(path)
        for root in roots:
            if full.startswith(root.rstrip(os.sep) + os.sep):
                return full[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
        return os.path.basename(full)

    def _excluded(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(fnmatch.fnmatch(path, ex) or fnmatch.fnmatch(name, ex) for ex in self.exclude)

    def watch_roots(self) -> list[tuple[str, bool]]:
        """(folder, recursive) pairs a change watcher should observe to see every matching file."""
        roots: dict[str, bool] = {}
        for pattern in self.patterns:
            root = _static_prefix(pattern)
            rest = pattern[len(root) :].lstrip("\\/")
            recursive = bool(re.search(r"[\\/]", rest)) or "**" in rest
            roots[root] = roots.get(root, False) or recursive
        # a folder already watched recursively covers its sub-folders
        result = []
        for root, recursive in sorted(roots.items()):
            covered = any(
                other_rec and root != other and root.startswith(other.rstrip(os.sep) + os.sep)
                for other, other_rec in roots.items()
            )
            if not covered:
                result.append((root, recursive))
        return result
