"""The JSON-ready view of the reducer: exactly the shape ``mpwatch diagnose --json`` prints.

::

    {"now": ISO, "servers": [{"server", "state",
        "diagnoses": [{"code", "title", "cause", "remedy", "first_seen", "last_seen",
                       "evidence": [{"host", "file", "line", "time", "text"}]}],
        "timeline": [{"time", "kind", "host", "file", "line", "message"}]}]}

Times are ISO 8601 UTC with ``Z``. Servers are sorted by name; only servers with some management-point
specific event appear (a site server that merely runs SiteComp does not). A diagnosis shows at most
``EVIDENCE_LIMIT`` evidence items (the first and the last halves, its own symptoms before supporting
generic ones); ``first_seen``/``last_seen`` span all of its evidence. Timeline events whose time was
placed with an inferred UTC offset end with ``INFERRED_MARK``; a series the reducer compressed shows
one summary entry where the dropped events were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.core.catalogue import lookup
from streams.core.events import Event, iso
from streams.core.reducer import Reducer, ServerState
from streams.core.rules import Finding, evaluate

EVIDENCE_LIMIT = 10
INFERRED_MARK = " [time inferred]"


def build_view(states: Iterable[ServerState] | Reducer, now: int | None) -> dict[str, Any]:
    """The whole diagnose view over any iterable of server states (a dict's values, a Faust table, a
    snapshot; a ``Reducer`` stands for its servers). ``now`` defaults to the latest event time seen."""
    items = list(states.servers.values() if isinstance(states, Reducer) else states)
    if now is None:
        times = [s.latest_ts for s in items if s.latest_ts is not None]
        now = max(times) if times else None
    if now is None:
        return {"now": None, "servers": []}
    servers = [server_view(state, now) for state in sorted(items, key=lambda s: s.server) if state.mp]
    return {"now": iso(now), "servers": servers}


def server_view(state: ServerState, now: int) -> dict[str, Any]:
    """One server's entry. The timeline does not depend on ``now``: it is built once per state version
    and shared by later views (treat it as read-only); only the rules are evaluated per call."""
    cached = state.view_cache
    if cached is not None and cached[0] == state.version:
        events, timeline = cached[1]
    else:
        events = state.events()
        timeline = _timeline(state, events)
        state.view_cache = (state.version, (events, timeline))
    verdict = evaluate(events, now)
    return {
        "server": state.server,
        "state": verdict.state,
        "diagnoses": [_diagnosis(f) for f in verdict.findings],
        "timeline": timeline,
    }


def _diagnosis(finding: Finding) -> dict[str, Any]:
    entry = lookup(finding.code)
    events = finding.events
    half = EVIDENCE_LIMIT // 2
    shown = events if len(events) <= EVIDENCE_LIMIT else events[:half] + events[-half:]
    return {
        "code": entry.code,
        "title": entry.title,
        "cause": entry.cause,
        "remedy": entry.remedy,
        "first_seen": iso(min(e.ts for e in events)),
        "last_seen": iso(max(e.ts for e in events)),
        "evidence": [
            {"host": e.host, "file": e.file, "line": e.line, "time": iso(e.ts), "text": e.text} for e in shown
        ],
    }


def _entry(ev: Event, message: str) -> dict[str, Any]:
    return {
        "time": iso(ev.ts),
        "kind": ev.kind,
        "host": ev.host,
        "file": ev.file,
        "line": ev.line,
        "message": message + (INFERRED_MARK if ev.inferred else ""),
    }


def _timeline(state: ServerState, events: list[Event]) -> list[dict[str, Any]]:
    rows: list[tuple[tuple[int, str, str, int], dict[str, Any]]] = [
        (ev.key, _entry(ev, ev.message)) for ev in events
    ]
    for (kind, variant), series in state.compressed():
        first, last = series.mid_first, series.mid_last
        if first is None or last is None:
            continue
        label = f"{kind} {variant}".strip()
        text = f"... {series.n_mid} more '{label}' events up to {iso(last.ts)} (compressed)"
        rows.append((first.key, _entry(first, text)))
    rows.sort(key=lambda row: row[0])
    return [row[1] for row in rows]
