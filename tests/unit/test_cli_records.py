"""``mpwatch records`` over a file:// output file: one JSON object per record, malformed lines skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from streams.wire import FileHeader, Framed, ShippedBatch, encode

LINE = "Done $$<SMS_MP_CONTROL_MANAGER><12-06-2004 23:35:41.123+480><thread=1234 (0x4D2)>"


def test_records_prints_each_record_and_skips_malformed_lines(tmp_path: Path) -> None:
    header = FileHeader(
        "MP01", "mpcontrol", "C:\\SMS\\Logs\\MPControl.log", "SMS/Logs/MPControl.log", "9-1", "sms"
    )
    batch = ShippedBatch(
        header, [Framed(0, len(LINE) + 2, 1, LINE), Framed(len(LINE) + 2, len(LINE) + 2, 2, LINE)]
    )
    out = tmp_path / "out.jsonl"
    out.write_bytes(encode(batch)[0] + b"\nnot json\n" + b'{"v":"9.0"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "records", f"file://{out}", "--parsed"],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 1
    rows = [orjson.loads(x) for x in proc.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["MP01:9-1:0", f"MP01:9-1:{len(LINE) + 2}"]
    assert rows[0]["file"] == "SMS/Logs/MPControl.log" and rows[0]["raw"] == LINE
    assert rows[1]["record"]["message"] == "Done" and rows[1]["record"]["line"] == 2
    errors = proc.stderr.decode().splitlines()
    assert f"{out}:2: skipped" in errors[0] and f"{out}:3: skipped" in errors[1] and "9.0" in errors[1]
    assert "2 records, 2 malformed" in errors[-1]
