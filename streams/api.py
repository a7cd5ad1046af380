"""The query API's answers, written once for every live shell (``mpwatch run`` and ``mpwatch worker``).

Pure functions over a ``StateStore`` (``streams.store``): no HTTP here. ``streams.http`` (the embedded
service) and the Faust worker's web views (``streams.worker``) only turn a request into one of these
calls and the result (or the ``ApiError`` it raises) into a JSON response, so both shells answer with
the same bytes for the same state.

* ``GET /api/servers`` -> ``list_servers``: every server with its state, active diagnosis codes,
  latest event time and timeline length, plus counts per state;
* ``GET /api/servers/{server}`` -> ``get_server``: exactly one entry of ``mpwatch diagnose --json``
  (state, diagnoses with cause/remedy/evidence, timeline) with the evaluation time beside it. Names
  match case-insensitively, FQDN or short name; an unknown name is a 404 listing close matches;
* ``?now=ISO`` on either evaluates the rules at that time (nothing is stored);
* ``GET /api/meta`` -> ``meta``: what a client needs to draw a timeline (the walkthrough's install steps
  and the kinds each step stands for, the kinds that are errors, every state);
* ``GET /api/openapi.json`` -> ``openapi``: the OpenAPI 3 description of the above.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from streams import __version__
from streams.core.events import iso, parse_iso
from streams.core.kinds import ERROR_KINDS
from streams.core.reducer import ServerState
from streams.core.servers import canonical_server
from streams.core.view import server_view
from streams.errors import ApiError
from streams.metrics import INSTALL_STEPS, STATES
from streams.store import StateStore

MAX_NAME = 255
_MIN_US = 0
_MAX_US = 253402214400 * 1_000_000  # 9999-12-31T00:00:00Z


def parse_now(text: str | None) -> int | None:
    """The ``?now=`` parameter in UTC microseconds (None when absent); a 400 ``ApiError`` when bad."""
    if text is None or text == "":
        return None
    try:
        value = parse_iso(text)
    except (ValueError, OverflowError) as exc:
        raise ApiError(400, "now must be an ISO 8601 time such as 2004-12-06T19:00:00Z") from exc
    if not _MIN_US <= value < _MAX_US:
        raise ApiError(400, "now is out of range (1970-01-01 .. 9999-12-30 UTC)")
    return value


def summary(state: ServerState, now: int) -> dict[str, Any]:
    """One row of the server list (what the page's table and ``/api/servers`` show)."""
    view = server_view(state, now)
    timeline = view["timeline"]
    return {
        "server": view["server"],
        "state": view["state"],
        "codes": [d["code"] for d in view["diagnoses"]],
        "latest": timeline[-1]["time"] if timeline else None,
        "events": len(timeline),
    }


def list_servers(store: StateStore, now: int | None = None) -> dict[str, Any]:
    """``GET /api/servers``: every management point the store can answer for, sorted by name."""
    at = store.now() if now is None else now
    rows = rows_of(store.servers(), at)
    return {"now": iso(at), "counts": count_states(rows), "servers": rows}


def rows_of(states: Iterable[ServerState], now: int) -> list[dict[str, Any]]:
    """Summary rows of the states that are management points, sorted by name (a worker merges the rows
    of every worker with ``merge_rows``)."""
    return [summary(s, now) for s in sorted(states, key=lambda s: s.server) if s.mp]


def merge_rows(parts: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows gathered from several workers as one sorted list (a server owned twice during a rebalance
    is shown once: the row with more events wins)."""
    best: dict[str, dict[str, Any]] = {}
    for rows in parts:
        for row in rows:
            known = best.get(row["server"])
            if known is None or row["events"] > known["events"]:
                best[row["server"]] = row
    return [best[name] for name in sorted(best)]


def count_states(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


def check_name(name: str) -> str:
    """The canonical spelling of a requested server name; a 400 ``ApiError`` for nonsense."""
    if not name or len(name) > MAX_NAME:
        raise ApiError(400, f"a server name is 1 to {MAX_NAME} characters")
    canonical = canonical_server(name)
    if not canonical:
        raise ApiError(400, "that is not a server name")
    return canonical


def get_server(store: StateStore, name: str, now: int | None = None) -> dict[str, Any]:
    """``GET /api/servers/{server}``: one entry of ``mpwatch diagnose --json`` plus ``now``."""
    canonical = check_name(name)
    state = store.get(canonical)
    if state is None or not state.mp:
        raise not_found(name, (s.server for s in store.servers() if s.mp))
    at = store.now() if now is None else now
    return {"now": iso(at), **server_view(state, at)}


def not_found(name: str, known: Iterable[str]) -> ApiError:
    """The 404 for an unknown server, naming up to five close matches."""
    canonical = canonical_server(name) or name
    names = sorted(set(known))
    close = difflib.get_close_matches(canonical, names, n=5, cutoff=0.6)
    close += [n for n in names if canonical and canonical in n and n not in close][: 5 - len(close)]
    return ApiError(404, f"unknown server {canonical}", close_matches=close)


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def meta() -> dict[str, Any]:
    """``GET /api/meta``: install steps (``mpwatch_install_step``'s names, in order, with their kinds),
    error kinds and states, so a page draws what the metrics count."""
    return {
        "version": __version__,
        "states": list(STATES),
        "steps": [{"name": name, "kinds": sorted(kinds)} for name, kinds in INSTALL_STEPS],
        "error_kinds": sorted(ERROR_KINDS),
    }


def openapi() -> dict[str, Any]:
    """The OpenAPI 3 description of the query API (served at ``/api/openapi.json``)."""
    now_param = {
        "name": "now",
        "in": "query",
        "required": False,
        "description": "evaluate the rules at this ISO 8601 time instead of the service's now",
        "schema": {"type": "string", "format": "date-time"},
    }
    error = {"$ref": "#/components/responses/Error"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mpwatch query API",
            "version": __version__,
            "description": "Install timelines, health states and diagnoses of SMS / ConfigMgr management "
            "points, as mpwatch diagnose --json gives them.",
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "needed when --token is set"}
            },
            "responses": {
                "Error": {
                    "description": "the request cannot be answered",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "close_matches": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Row": {
                    "type": "object",
                    "required": ["server", "state", "codes", "latest", "events"],
                    "properties": {
                        "server": {"type": "string"},
                        "state": {"type": "string", "enum": list(STATES)},
                        "codes": {"type": "array", "items": {"type": "string"}},
                        "latest": {"type": "string", "format": "date-time", "nullable": True},
                        "events": {"type": "integer"},
                    },
                },
                "Evidence": {
                    "type": "object",
                    "properties": {
                        "host": {"type": "string"},
                        "file": {"type": "string"},
                        "line": {"type": "integer"},
                        "time": {"type": "string", "format": "date-time"},
                        "text": {"type": "string"},
                    },
                },
                "Diagnosis": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "title": {"type": "string"},
                        "cause": {"type": "string"},
                        "remedy": {"type": "string"},
                        "first_seen": {"type": "string", "format": "date-time"},
                        "last_seen": {"type": "string", "format": "date-time"},
                        "evidence": {"type": "array", "items": {"$ref": "#/components/schemas/Evidence"}},
                    },
                },
                "TimelineEntry": {
                    "type": "object",
                    "properties": {
                        "time": {"type": "string", "format": "date-time"},
                        "kind": {"type": "string"},
                        "host": {"type": "string"},
                        "file": {"type": "string"},
                        "line": {"type": "integer"},
                        "message": {"type": "string"},
                    },
                },
                "Server": {
                    "type": "object",
                    "required": ["now", "server", "state", "diagnoses", "timeline"],
                    "properties": {
                        "now": {"type": "string", "format": "date-time"},
                        "server": {"type": "string"},
                        "state": {"type": "string", "enum": list(STATES)},
                        "diagnoses": {"type": "array", "items": _ref("Diagnosis")},
                        "timeline": {
                            "type": "array",
                            "items": _ref("TimelineEntry"),
                        },
                    },
                },
            },
        },
        "security": [{}, {"token": []}],
        "paths": {
            "/api/servers": {
                "get": {
                    "summary": "every management point with its state and active diagnosis codes",
                    "parameters": [now_param],
                    "responses": {
                        "200": {
                            "description": "the server list",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "now": {"type": "string", "format": "date-time"},
                                            "counts": {
                                                "type": "object",
                                                "additionalProperties": {"type": "integer"},
                                            },
                                            "servers": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Row"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": error,
                        "401": error,
                    },
                }
            },
            "/api/meta": {
                "get": {
                    "summary": "install step names and kinds, error kinds, states (for drawing timelines)",
                    "responses": {"200": {"description": "the metadata"}, "401": error},
                }
            },
            "/api/servers/{server}": {
                "get": {
                    "summary": "one server's state, diagnoses and install timeline",
                    "parameters": [
                        {
                            "name": "server",
                            "in": "path",
                            "required": True,
                            "description": "short name or FQDN, any case",
                            "schema": {"type": "string"},
                        },
                        now_param,
                    ],
                    "responses": {
                        "200": {
                            "description": "one entry of mpwatch diagnose --json",
                            "content": {"application/json": {"schema": _ref("Server")}},
                        },
                        "400": error,
                        "401": error,
                        "404": error,
                    },
                }
            },
        },
    }
