"""Turn a sub-command module's docstring into its ``--help`` description."""

from __future__ import annotations


def description(doc: str | None) -> str | None:
    """The docstring minus its first paragraph (the usage line argparse already prints), as plain text.

    Docstrings use reStructuredText literals (````--once````); a terminal shows them as plain words.
    """
    if not doc:
        return None
    body = doc.split("\n\n", 1)[1] if "\n\n" in doc else doc
    return body.replace("``", "").strip()
