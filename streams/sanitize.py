"""Log text on a terminal: shown, never obeyed.

Log lines are attacker-controlled (an IIS URI or user agent is whatever a client sent). Written to a
terminal as they are, ``ESC]0;...BEL`` retitles the window, ``ESC[2J`` clears the screen, and bidi
overrides make text read differently from what it is. ``visible`` rewrites every such character as a
visible escape (``\\x1b``, ``\\u202e``), so the bytes that reach the terminal are printable text plus
the colours mpwatch adds itself. ``visible_tree`` does the same to every string of a JSON view.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab, DEL, C1 controls, and the bidirectional formatting characters
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with control, escape and bidi characters shown as ``\\xNN`` / ``\\uNNNN``; tabs kept."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def visible_tree(value: Any) -> Any:
    """``visible`` applied to every string (keys included) inside dicts and lists."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(k) if isinstance(k, str) else k: visible_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible_tree(v) for v in value]
    return value
