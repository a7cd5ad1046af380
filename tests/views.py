"""Comparing answers of ``mpwatch diagnose --json`` where byte offsets and evidence may differ but the
diagnosis must not (the same logs in another encoding or another layout)."""

from __future__ import annotations

from typing import Any


def essentials(view: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Per server: name, state, diagnosis codes, and the timeline as (time, kind) pairs."""
    return [
        (
            s["server"],
            s["state"],
            [d["code"] for d in s["diagnoses"]],
            [(e["time"], e["kind"]) for e in s["timeline"]],
        )
        for s in view["servers"]
    ]
