"""Lag accounting: how many bytes of each log kind are not yet confirmed by the output.

``lag_bytes{kind}`` is what tells an operator the shipper is behind, so it must stay true when nothing
else runs: during an outage the pipeline only waits on the output, no scan runs, and files keep growing
and rolling over. ``LagMeter.refresh`` therefore re-stats the tracked files *and* lists the patterns
(stat only, nothing is opened) to count files that appeared meanwhile; ``update`` sets every gauge from
what is known (tracked files, files still too short to identify, untracked ones).
"""

from __future__ import annotations

import os

from shipper.filetable import FileTable
from shipper.identifier import Identifier
from shipper.metrics import ShipperMetrics
from shipper.paths import PathsProvider, log_kind


class LagMeter:
    """Sets ``lag_bytes``, ``files_watched`` and ``files_open`` (see the module docstring)."""

    def __init__(
        self, table: FileTable, identifier: Identifier, provider: PathsProvider, metrics: ShipperMetrics
    ) -> None:
        self.table = table
        self.identifier = identifier
        self.provider = provider
        self.metrics = metrics
        self._shown: dict[str, int] = {}  # what each gauge shows now (kinds, " watched", " open")

    def refresh(self) -> None:
        """Re-read file sizes and update the gauges (called while the output is down: nothing else
        runs then, and the lag must keep growing with the files)."""
        for state in self.table.states.values():
            if state.retired:
                continue
            try:
                state.size = (
                    os.fstat(state.tailer.fd).st_size if state.tailer else os.stat(state.path).st_size
                )
            except OSError:
                continue
        # files that appeared meanwhile are not tracked yet (no scans while waiting): count them too
        untracked: dict[str, int] = {}
        tracked, waiting = self.table.by_inode, self.identifier.waiting
        for inode, (path, st) in self.provider.listing().items():
            if inode in tracked or inode in waiting:
                continue
            kind = log_kind(path)
            untracked[kind] = untracked.get(kind, 0) + st.st_size
        self.update(untracked)

    def update(self, untracked: dict[str, int] | None = None) -> None:
        lag: dict[str, int] = dict(untracked or {})
        open_files = 0
        for state in self.table.states.values():
            if state.retired:
                continue
            open_files += state.tailer is not None
            lag[state.kind] = lag.get(state.kind, 0) + state.lag()
        for path, _since, size in self.identifier.waiting.values():
            kind = log_kind(path)
            lag[kind] = lag.get(kind, 0) + size
        # called on every loop round: a gauge's lock is taken only when its figure changed
        shown = self._shown
        for kind, child in self.metrics.lag_by_kind.items():  # every series: a caught-up kind shows 0
            value = lag.get(kind, 0)
            if shown.get(kind) != value:
                shown[kind] = value
                child.set(value)
        watched = len(self.table.by_inode) + len(self.identifier.waiting)
        if shown.get(" watched") != watched:
            shown[" watched"] = watched
            self.metrics.files_watched.set(watched)
        if shown.get(" open") != open_files:
            shown[" open"] = open_files
            self.metrics.files_open.set(open_files)
