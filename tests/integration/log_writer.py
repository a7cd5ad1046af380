"""A log writer that behaves like SMS: SMS-trailer records at a steady rate, rolled over ``x.log -> x.lo_``.

Used by the shipper's crash and outage tests and by the shipper benchmarks, as a separate process
(``python -m tests.integration.log_writer ...``, stopped with SIGTERM) or imported (``LogWriter``,
``format_record``, ``parse_seq``, ``read_manifest``).

Every record is one line in the SMS server format::

    message n=<seq> log=<name> t=<unix time> pad=xxx  $$<SMS_SITE_COMPONENT_MANAGER>
        <MM-DD-YYYY HH:MM:SS.mmm+300><thread=N (0xHEX)>           (one line, CRLF)

``seq`` is unique across all logs of one writer, so a consumer identifies a record by its content,
whatever file identity and offset the shipper gave it; ``t`` is the wall-clock time of the append (the
latency benchmark compares it with the arrival time in Kafka).

Rollover, as SMS does it: when ``x.log`` has reached ``rotate_bytes`` it is renamed to ``x.lo_``
(replacing the previous ``x.lo_``) and a new ``x.log`` is created.

**What "written" means (the invariant the tests check).** Replacing ``x.lo_`` destroys the previous
generation. A shipper that is alive holds that file open and reads it to its end anyway, but a shipper
that was just killed (or is paused by backpressure and has not opened the file yet) never sees it again:
SMS itself loses those records, and no shipper can deliver bytes that no longer exist. So that the tests
can demand *every record written is delivered*, the writer takes a ``gate``: before replacing ``x.lo_``
it asks ``gate(path_of_x.lo_)`` whether that generation was fully delivered, and while the answer is no
it does not roll over and keeps appending to ``x.log`` past the size limit (the rotation happens at the
first record after the gate opens). ``CheckpointGate`` answers from the shipper's checkpoint file, which
moves only after the output confirmed delivery: a ``.lo_`` may be replaced once the checkpoint holds its
identity (same inode and fingerprint) at an offset that reaches its size. The renames themselves, the
new files, inode reuse, and kills at any moment are all still exercised; only SMS's own data loss is
excluded. Without a gate the writer rolls over exactly like SMS, and records in overwritten generations
may legitimately be missing.

The manifest lists every record once it is fully written (``<log name> <seq>`` per line), so the test
knows the written set exactly; a JSON summary (counts, rotations, gated waits) is written at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

COMPONENT = "SMS_SITE_COMPONENT_MANAGER"
BIAS = 300
RECORD_BYTES = 150
DEFAULT_LOGS = ("SiteComp", "MPControl", "MPSetup", "Hman")
_SEQ = re.compile(r"\bn=(\d+)\b")
_STAMP = re.compile(r"\bt=(\d+\.\d+)\b")

Gate = Callable[[Path], bool]


def format_record(seq: int, name: str, thread: int, now: float, size: int = RECORD_BYTES) -> bytes:
    """One SMS server-format line (CRLF-terminated, as SMS writes it) of about ``size`` bytes."""
    local = time.localtime(now)
    millis = int((now % 1) * 1000)
    stamp = time.strftime("%m-%d-%Y %H:%M:%S", local) + f".{millis:03d}+{BIAS}"
    head = f"message n={seq} log={name} t={now:.6f} pad="
    tail = f"  $$<{COMPONENT}><{stamp}><thread={thread} (0x{thread:X})>\r\n"
    pad = max(1, size - len(head) - len(tail))
    return (head + "x" * pad + tail).encode("ascii")


def parse_seq(text: str) -> int | None:
    """The sequence number in a record's message or raw text (None when there is none)."""
    match = _SEQ.search(text)
    return int(match.group(1)) if match else None


def parse_stamp(text: str) -> float | None:
    """The append time (``t=``, unix seconds) embedded in a record's text."""
    match = _STAMP.search(text)
    return float(match.group(1)) if match else None


def read_manifest(path: Path) -> dict[int, str]:
    """seq -> log name of every record the writer finished writing."""
    written: dict[int, str] = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            name, _, seq = line.rstrip("\n").partition(" ")
            if seq:
                written[int(seq)] = name
    return written


class CheckpointGate:
    """Answers "was this rotated file fully delivered?" from the shipper's checkpoint (see the module doc).

    The checkpoint file is read directly (JSON: ``files`` -> {device, inode, fp_length, fp_digest,
    offset}), never through the shipper's ``Checkpointer``, which tidies the state folder as it loads.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "checkpoint.json"

    def __call__(self, rotated: Path) -> bool:
        from shipper.identity import digest  # the identity the shipper checkpoints (same definition)

        try:
            st = os.stat(rotated)
            with open(rotated, "rb") as handle:
                head = handle.read(8192)
            files = json.loads(self.path.read_bytes()).get("files", {})
        except (OSError, ValueError):
            return False
        for entry in files.values():
            if entry.get("device") != st.st_dev or entry.get("inode") != st.st_ino:
                continue
            length = int(entry.get("fp_length", 0))
            if len(head) < length or digest(head[:length]) != entry.get("fp_digest"):
                continue  # the same inode number, but another (older) file
            if int(entry.get("offset", -1)) >= st.st_size:
                return True
        return False


@dataclass
class WriterStats:
    records: int = 0
    bytes: int = 0
    rotations: int = 0
    gated_waits: int = 0  # times a rollover was due but the previous .lo_ was not delivered yet
    largest_log_bytes: int = 0  # how far a gated log grew past rotate_bytes
    per_log: dict[str, int] = field(default_factory=dict)


class _Log:
    def __init__(self, folder: Path, name: str, thread: int) -> None:
        self.name = name
        self.thread = thread
        self.path = folder / f"{name}.log"
        self.rotated = folder / f"{name}.lo_"
        self.fd = -1
        self.size = 0
        self.gated = False

    def open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.size = os.fstat(self.fd).st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LogWriter:
    """Appends records round-robin to ``names`` in ``folder`` and rolls them over (see the module doc)."""

    def __init__(
        self,
        folder: Path,
        names: Iterable[str] = DEFAULT_LOGS,
        *,
        rotate_bytes: int = 50_000,
        gate: Gate | None = None,
        record_bytes: int = RECORD_BYTES,
        manifest: IO[str] | None = None,
        first_seq: int = 1,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rotate_bytes = rotate_bytes
        self.gate = gate
        self.record_bytes = record_bytes
        self.manifest = manifest
        self.next_seq = first_seq
        self.logs = [_Log(self.folder, name, 1000 + 17 * i) for i, name in enumerate(names)]
        self.stats = WriterStats(per_log={log.name: 0 for log in self.logs})
        self._turn = 0
        for log in self.logs:
            log.open()

    def write(self, count: int) -> None:
        """Append ``count`` records, spread round-robin over the logs, one ``write`` call per log."""
        now = time.time()
        chunks: dict[_Log, list[bytes]] = {}
        seqs: dict[_Log, list[int]] = {}
        for _ in range(count):
            log = self.logs[self._turn]
            self._turn = (self._turn + 1) % len(self.logs)
            seq = self.next_seq
            self.next_seq += 1
            chunks.setdefault(log, []).append(
                format_record(seq, log.name, log.thread, now, self.record_bytes)
            )
            seqs.setdefault(log, []).append(seq)
        for log, lines in chunks.items():
            self._roll_if_due(log)
            data = b"".join(lines)
            os.write(log.fd, data)  # O_APPEND: one atomic append of whole lines
            log.size += len(data)
            self.stats.records += len(lines)
            self.stats.bytes += len(data)
            self.stats.per_log[log.name] += len(lines)
            self.stats.largest_log_bytes = max(self.stats.largest_log_bytes, log.size)
            if self.manifest is not None:
                self.manifest.write("".join(f"{log.name} {seq}\n" for seq in seqs[log]))
        if self.manifest is not None:
            self.manifest.flush()

    def _roll_if_due(self, log: _Log) -> None:
        if log.size < self.rotate_bytes:
            return
        if self.gate is not None and log.rotated.exists() and not self.gate(log.rotated):
            if not log.gated:
                log.gated = True
                self.stats.gated_waits += 1
            return
        log.gated = False
        log.close()
        os.replace(log.path, log.rotated)  # replaces the previous generation, as SMS does
        log.open()
        self.stats.rotations += 1

    def run(
        self,
        rate: float,
        should_stop: Callable[[], bool],
        tick: float = 0.01,
        extra: Callable[[], int] | None = None,
    ) -> None:
        """Write ``rate`` records per second (in small bursts every ``tick`` s) until ``should_stop()``;
        ``extra()`` may ask for more records on top (a burst), written in the same tick."""
        started = time.monotonic()
        done = 0
        while not should_stop():
            due = int((time.monotonic() - started) * rate) - done
            if due > 0:
                done += due
            due += extra() if extra is not None else 0
            if due > 0:
                self.write(due)
            time.sleep(tick)

    def close(self) -> None:
        for log in self.logs:
            log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", required=True, type=Path, help="folder of the logs")
    parser.add_argument("--logs", default=",".join(DEFAULT_LOGS), help="comma-separated log names")
    parser.add_argument("--rate", type=float, default=2000.0, help="records per second (all logs)")
    parser.add_argument("--rotate-bytes", type=int, default=50_000)
    parser.add_argument("--record-bytes", type=int, default=RECORD_BYTES)
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many s (0 = SIGTERM)")
    parser.add_argument("--manifest", required=True, type=Path, help="file listing every record written")
    parser.add_argument("--summary", type=Path, help="JSON statistics written at exit")
    parser.add_argument(
        "--burst",
        type=int,
        default=0,
        help="on SIGUSR1, write this many extra records (in chunks of --burst-chunk per tick)",
    )
    parser.add_argument("--burst-chunk", type=int, default=1000)
    parser.add_argument(
        "--gate-state-dir", type=Path, help="shipper state folder: replace a .lo_ only once it was delivered"
    )
    args = parser.parse_args(argv)

    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    burst_left = 0

    def burst(*_args: object) -> None:
        nonlocal burst_left
        burst_left += args.burst

    def extra() -> int:
        nonlocal burst_left
        count = min(burst_left, args.burst_chunk)
        burst_left -= count
        return count

    signal.signal(signal.SIGUSR1, burst)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    gate = CheckpointGate(args.gate_state_dir) if args.gate_state_dir else None
    with open(args.manifest, "a", encoding="ascii") as manifest:
        writer = LogWriter(
            args.dir,
            [name for name in args.logs.split(",") if name],
            rotate_bytes=args.rotate_bytes,
            gate=gate,
            record_bytes=args.record_bytes,
            manifest=manifest,
        )
        try:
            writer.run(
                args.rate,
                lambda: stopping or (deadline is not None and time.monotonic() >= deadline),
                extra=extra,
            )
        finally:
            writer.close()
    if args.summary:
        args.summary.write_text(json.dumps(asdict(writer.stats), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
