"""MemoryStore: live view over a mapping, name lookup by any spelling, the "now" policy."""

from __future__ import annotations

import time

from streams.core.reducer import ServerState
from streams.core.view import build_view
from streams.store import MemoryStore


def test_lookup_accepts_fqdn_case_and_short_name() -> None:
    states = {"MGTPOINT1": ServerState("MGTPOINT1")}
    store = MemoryStore(states, now=5)
    assert store.get("mgtpoint1.contoso.com") is states["MGTPOINT1"]
    assert store.get("MgtPoint1") is states["MGTPOINT1"]
    assert store.get("OTHER") is None
    assert store.now() == 5


def test_store_reads_the_mapping_live_and_defaults_to_wall_clock() -> None:
    states: dict[str, ServerState] = {}
    store = MemoryStore(states)
    assert list(store.servers()) == []
    states["MP2"] = ServerState("MP2")
    assert [s.server for s in store.servers()] == ["MP2"]
    assert abs(store.now() - time.time_ns() // 1000) < 5_000_000


def test_build_view_takes_any_iterable_of_states() -> None:
    assert build_view([], None) == {"now": None, "servers": []}
    state = ServerState("MP3")
    assert build_view(iter([state]), 0)["servers"] == []  # no management-point event yet: hidden
