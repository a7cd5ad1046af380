"""Human output of ``mpwatch diagnose``: per server its state, diagnoses (cause, remedy, evidence) and a
compact timeline. Works on the JSON view, so text and ``--json`` can never disagree.

Compact timeline: consecutive entries of the same kind from the same file collapse into one line with a
count (drive probes, repeated verifications), and at most ``TIMELINE_LINES`` lines are shown (the
latest ones). Colours are ANSI escapes, used only when asked (the CLI asks on a terminal without
``NO_COLOR``). Every string of the view passes ``streams.sanitize.visible`` first: escape sequences in
log text are shown, never sent to the terminal as such. ``render_server`` is one server's block, also
used by ``mpwatch timeline`` (with local times and the whole timeline).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streams.core.kinds import severity
from streams.sanitize import visible_tree

TIMELINE_LINES = 40
EVIDENCE_LINES = 3
_STATE_COLOUR = {
    "healthy": "32",
    "installed": "36",
    "installing": "36",
    "pending": "36",
    "degraded": "33",
    "stuck": "35",
    "failed": "31",
    "unknown": "2",
}
_SEVERITY_COLOUR = {"error": "31", "warning": "33", "info": ""}


class Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and code else text


def render(view: dict[str, Any], colour: bool = False) -> str:
    """The whole report as text (ends with a newline)."""
    view = visible_tree(view)
    lines = [f"now {view['now'] or '-'}; {len(view['servers'])} management point(s)"]
    if not view["servers"]:
        lines.append("no management point install activity found in the input")
    for server in view["servers"]:
        lines.append("")
        lines.extend(render_server(server, colour))
    return "\n".join(lines) + "\n"


def render_server(
    server: dict[str, Any],
    colour: bool = False,
    *,
    when: Callable[[str], str] | None = None,
    timeline_lines: int | None = TIMELINE_LINES,
) -> list[str]:
    """One server's lines: state, diagnoses (cause, remedy, evidence), compact timeline. ``when``
    formats a time (default: UTC to the second); ``timeline_lines=None`` shows the whole timeline."""
    paint = Painter(colour)
    server = visible_tree(server)
    _short = when or _utc_short
    state = server["state"]
    out = [f"{paint(server['server'], '1')}  {paint(state, _STATE_COLOUR.get(state, ''))}"]
    if not server["diagnoses"]:
        out.append("  no diagnosis")
    for diag in server["diagnoses"]:
        out.append(f"  {paint(diag['code'], '1;31')}  {diag['title']}")
        out.append(f"    seen     {_short(diag['first_seen'])} .. {_short(diag['last_seen'])}")
        out.append(f"    cause    {diag['cause']}")
        out.append(f"    remedy   {diag['remedy']}")
        evidence = diag["evidence"]
        for item in evidence[:EVIDENCE_LINES]:
            where = f"{item['host']}:{item['file']}:{item['line']}"
            out.append(f"    evidence {_short(item['time'])} {where}  {_clip(item['text'], 120)}")
        if len(evidence) > EVIDENCE_LINES:
            out.append(f"             (+{len(evidence) - EVIDENCE_LINES} more evidence lines in --json)")
    rows = _compact(server["timeline"])
    out.append(f"  timeline ({len(server['timeline'])} entries)")
    if timeline_lines is not None and len(rows) > timeline_lines:
        out.append(f"    ... {len(rows) - timeline_lines} earlier lines")
        rows = rows[-timeline_lines:]
    for entry, count in rows:
        kind = entry["kind"]
        label = kind + (f" x{count}" if count > 1 else "")
        text = _clip(entry["message"], 90)
        tone = _SEVERITY_COLOUR.get(severity(kind, _variant(entry)), "")
        where = f"{entry['host']}:{_base(entry['file'])}:{entry['line']}"
        out.append(
            f"    {_short(entry['time'])}  {paint(f'{label:<24}', tone)} {where:<30} {paint(text, tone)}"
        )
    return out


def _compact(timeline: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    rows: list[tuple[dict[str, Any], int]] = []
    for entry in timeline:
        if rows:
            last, count = rows[-1]
            if last["kind"] == entry["kind"] and last["file"] == entry["file"] and _same(last, entry):
                rows[-1] = (last, count + 1)
                continue
        rows.append((entry, 1))
    return rows


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["host"] == b["host"] and _variant(a) == _variant(b)


def _variant(entry: dict[str, Any]) -> str:
    """The outcome stated in a verification or exit-code message (so 200s and 401s do not merge)."""
    message = entry["message"]
    kind = entry["kind"]
    if kind == "http_verify":
        match = re.search(r"status\s*code\s*(\d{3})", message) or re.search(r"(no header)", message)
        return match.group(1) if match else "failed"
    if kind in ("msi_exit", "msi_engine_return"):
        match = re.search(r"(-?\d+)\D*$", message)
        return match.group(1) if match else ""
    return ""


def _utc_short(iso: str) -> str:
    """``2004-12-06T18:21:35.131Z`` -> ``2004-12-06 18:21:35Z`` (whole seconds line up)."""
    return iso[:19].replace("T", " ") + "Z"


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
