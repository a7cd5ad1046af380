"""The read side's one question: which server states can this process answer for, and what is "now"?

``StateStore`` is what the HTTP API, the metrics collector and ``mpwatch timeline``'s server side read.
Each shell supplies one: the offline run a ``MemoryStore`` over its reducer, ``mpwatch run`` a
``MemoryStore`` over the live reducer, a Faust worker a view of its table partitions.

The "now" policy, written once:

* **offline** (``mpwatch diagnose``): the latest record time in the input, unless ``--now`` is given,
  so a collected log set is judged as it stood when it was collected;
* **live shells** (``mpwatch run``, ``mpwatch worker``): the wall clock;
* a **query** may pass ``?now=ISO`` to evaluate the rules at another time (the store is not changed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from streams.core.reducer import ServerState
from streams.core.servers import canonical_server


def wall_clock_us() -> int:
    """The live shells' "now": wall-clock time in UTC microseconds."""
    return time.time_ns() // 1000


class StateStore(Protocol):
    """What a read side needs from a shell."""

    def servers(self) -> Iterable[ServerState]:
        """Every server state this process can answer for."""
        ...

    def get(self, name: str) -> ServerState | None:
        """One server by name: case-insensitive, FQDN or short name; None when unknown."""
        ...

    def now(self) -> int:
        """The evaluation time (UTC microseconds) under this shell's "now" policy."""
        ...


class MemoryStore:
    """A ``StateStore`` over an in-process mapping of canonical server name -> state.

    The mapping is read live (not copied), so a store over a running reducer's ``servers`` dict always
    shows the current states. ``now`` defaults to the wall clock (the live policy).
    """

    def __init__(self, states: Mapping[str, ServerState], now: Callable[[], int] | int | None = None) -> None:
        self._states = states
        if now is None:
            self._now: Callable[[], int] = wall_clock_us
        elif isinstance(now, int):
            fixed = now
            self._now = lambda: fixed
        else:
            self._now = now

    def servers(self) -> Iterable[ServerState]:
        return list(self._states.values())

    def get(self, name: str) -> ServerState | None:
        return self._states.get(canonical_server(name))

    def now(self) -> int:
        return self._now()
