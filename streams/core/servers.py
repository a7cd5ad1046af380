"""Server names: one canonical spelling per machine.

Logs name the same machine as ``MGTPOINT1``, ``mgtpoint1``, ``MGTPOINT1.contoso.com``,
``\\\\MGTPOINT1\\admin$``, ``'MGTPOINT1'`` or ``MGTPOINT1...``. The canonical name is the upper-case
NetBIOS (short) name. IPv4 addresses are kept whole.
"""

from __future__ import annotations

import re
from functools import lru_cache

_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_STRIP = " \t'\"`[](){}<>,;:\\/"
_NOT_NAMES = frozenset({"", "THE", "A", "THIS", "X"})  # words a text pattern may catch after "server"


@lru_cache(maxsize=4096)  # called per event with the few names a site has
def canonical_server(name: str) -> str:
    """Upper-case short name; '' when nothing name-like is left."""
    text = name.strip().strip(_STRIP).rstrip(".").strip(_STRIP)
    if not text:
        return ""
    if _IPV4.match(text):
        return text
    return text.split(".", 1)[0].upper()


def target_name(raw: str) -> str:
    """Canonical name of a server named in a log text or field; '' when it is not a name."""
    name = canonical_server(raw)
    return "" if name in _NOT_NAMES else name


def same_server(a: str, b: str) -> bool:
    return canonical_server(a) == canonical_server(b)
