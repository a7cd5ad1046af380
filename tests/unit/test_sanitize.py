"""Log text on a terminal is shown, never obeyed: streams.sanitize and mpwatch diagnose's text output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from streams.sanitize import visible, visible_tree

HOSTILE = "pwned\x1b]0;owned title\x07 and \x1b[2J cleared \x9b31m \u202egnp.exe\x00"
REPO = Path(__file__).resolve().parents[2]


def test_visible_escapes_controls_c1_and_bidi_but_keeps_text_and_tabs() -> None:
    shown = visible(HOSTILE)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown and "\x00" not in shown
    assert "\u202e" not in shown
    assert "\\x1b]0;owned title\\x07" in shown
    assert "\\x1b[2J" in shown and "\\u202e" in shown
    assert visible("plain text\twith a tab, caf\u00e9") == "plain text\twith a tab, caf\u00e9"


def test_visible_tree_reaches_every_string() -> None:
    tree = {"a\x1b": [{"b": "x\x1b[2J"}, 3, None], "c": "ok"}
    assert visible_tree(tree) == {"a\\x1b": [{"b": "x\\x1b[2J"}, 3, None], "c": "ok"}


def test_diagnose_text_output_holds_no_escape_from_the_logs(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(REPO / "samples", samples)
    control = samples / "MGTPOINT4" / "SMS" / "Logs" / "MPControl.log"
    trailer = "  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 15:59:56.993+300><thread=2008 (0x7D8)>\r\n"
    long_tail = "x" * 300  # the evidence and timeline columns cut long lines: the cut must stay safe too
    line = f"Http verification .sms_aut failed with status code 500, {HOSTILE}{long_tail}\x1b[0m{trailer}"
    with open(control, "ab") as handle:
        handle.write(line.encode("utf-8"))
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diagnose", str(samples)],
        capture_output=True, cwd=REPO, check=False, env={"PATH": "/usr/bin:/bin", "TERM": "xterm"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout and b"\xc2\x9b" not in done.stdout
    assert b"\\x1b]0;owned title\\x07" in done.stdout  # shown, visibly
