"""The registry's shared bookkeeping: the tracked files and which of them have work waiting.

Discovery, descriptor handling, reading and lag accounting all look at the same set of ``FileState``
entries through different keys (identity key for the checkpoint, inode for reconciliation with a listing,
path for change hints). ``FileTable`` keeps those three indexes consistent in one place, and
``ReadyQueue`` is the round-robin order in which files get a read, so that none of the components has
to reach into another one's dictionaries.
"""

from __future__ import annotations

from collections import deque

from shipper.state import FileState, Inode


class FileTable:
    """Tracked files by identity key, inode and path; ``dirty`` = the checkpoint content changed."""

    def __init__(self) -> None:
        self.states: dict[str, FileState] = {}  # identity key -> state (retired ones until drained)
        self.by_inode: dict[Inode, FileState] = {}
        self.by_path: dict[str, FileState] = {}
        self.dirty = False  # the checkpoint content changed since the last save

    def add(self, state: FileState, inode: Inode, path: str) -> None:
        self.dirty = True
        self.states[state.key] = state
        self.by_inode[inode] = state
        self.by_path[path] = state

    def rename(self, state: FileState, path: str) -> None:
        if self.by_path.get(state.path) is state:
            del self.by_path[state.path]
        state.path = path
        self.by_path[path] = state

    def unindex(self, state: FileState) -> None:
        """No longer reachable by inode or path (it may stay in ``states`` until its outbox drained)."""
        if self.by_inode.get(state.inode) is state:
            del self.by_inode[state.inode]
        if self.by_path.get(state.path) is state:
            del self.by_path[state.path]

    def forget(self, state: FileState) -> None:
        self.dirty = True
        self.states.pop(state.key, None)
        self.unindex(state)


class ReadyQueue:
    """Files with records queued or bytes to read, each at most once, served round-robin."""

    def __init__(self) -> None:
        self._order: deque[FileState] = deque()
        self._members: set[FileState] = set()

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, state: object) -> bool:
        return state in self._members

    def mark(self, state: FileState) -> None:
        if state not in self._members:
            self._members.add(state)
            self._order.append(state)

    def pop(self) -> FileState:
        state = self._order.popleft()
        self._members.discard(state)
        return state
