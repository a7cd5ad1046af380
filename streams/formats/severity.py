"""Severity from message text, for formats that do not write one (SMS server logs, MPSetup, MSI, raw).

A deliberately small keyword rule, shared by every parser so that all formats agree: error if a word of
the text *starts with* one of the error keywords, else warning if one starts with a warning keyword,
else info. Case-insensitive; "fail" covers "failed" and "failure", "retry" covers "retrying". A keyword
inside a longer identifier does not count ("ansi_warnings", "GetLastError"). It is a hint for filtering
and metrics, not a diagnosis: the correlation core matches the texts themselves (for example the NAL
drive-enumeration errors that are normal during an MP install).

Speed matters (every SMS record goes through here): plain substring tests reject the common case, and
the word-boundary regex only runs when a keyword occurs somewhere.
"""

from __future__ import annotations

import re

from streams.formats.record import Severity

ERROR_WORDS = (
    "error", "fail", "cannot", "can't", "unable", "fatal", "exception", "access denied",
    "access is denied", "abort", "@@err",
)  # fmt: skip
WARNING_WORDS = ("warn", "retry", "retries", "not responding")


def _word_start(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9_])(?:" + "|".join(re.escape(word) for word in words) + ")")


_ERROR = _word_start(ERROR_WORDS)
_WARNING = _word_start(WARNING_WORDS)


def infer_severity(text: str) -> Severity:
    """'error', 'warning' or 'info' for a message, by keyword (see the module docstring)."""
    lowered = text.lower()
    # substring pre-checks written out (a loop over the word tuples costs a third more); the regexes
    # built from ERROR_WORDS / WARNING_WORDS decide. test_formats_sms checks every word goes through.
    if (
        "err" in lowered or "fail" in lowered or "can" in lowered or "unable" in lowered
        or "fatal" in lowered or "exception" in lowered or "denied" in lowered or "abort" in lowered
    ) and _ERROR.search(lowered) is not None:  # fmt: skip
        return "error"
    if ("warn" in lowered or "retr" in lowered or "not resp" in lowered) and _WARNING.search(lowered):
        return "warning"
    return "info"
