"""Big synthetic log files in every format mpwatch reads, for benchmarks (deterministic, seedable).

    from gen_logs import generate
    info = generate("sms", Path("/tmp/big.log"), lines=1_000_000)   # -> GeneratedLog(path, lines, ...)

Formats and shapes (CRLF line ends, times increasing a few ms per record):

* ``sms``: SMS server trailer lines, one physical line per record, ~150 bytes; about 1 % STATMSG lines.
* ``cmtrace``: ``<![LOG[...]LOG]!><time=... >`` lines, one per record, ~150 bytes, type 0-3.
* ``msi``: a verbose Windows Installer log, UTF-16LE with BOM: ``MSI (s) (pid:tid) [time]:`` lines,
  ``Action start/ended`` lines, a few continuation lines.
* ``mpsetup``: ``<MM-DD-YYYY HH:MM:SS> text`` lines, about 10 % of records wrapped onto a second line.
* ``iis``: W3C extended with the IIS header (repeated, as IIS does after a restart, every 200,000 lines).

``records`` in the result is how many records the file holds (what a correct parser must return).
Run as a script to write files: ``python bench/gen_logs.py DIR [--lines N] [--format NAME]``.
"""

from __future__ import annotations

import argparse
import codecs
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

START = datetime(2004, 12, 6, 13, 21, 35)
BATCH = 20_000

SMS_MESSAGES = (
    "Http verification .sms_aut succeeded with status code 200, OK",
    "Synchronizing component server MGTPOINT{n}...",
    "Installed file \\\\MGTPOINT{n}\\C$\\SMS\\bin\\i386\\baseobj.dll.",
    "Attempting to connect to install drive '\\\\MGTPOINT{n}\\C$\\'.",
    "Testing connectivity to this path using NAL INetworkObject::IsAccessible()...",
    "Component SMS_MP_CONTROL_MANAGER flagged for installation.",
    "SQL>>>>> Done. Rows affected: {n}; elapsed {n} ms",
    "Waiting for changes for 5 minutes; next evaluation cycle in 300 seconds",
    "Failed to send http request /SMS_MP/.sms_aut?MPLIST. Error 12029",
    "Will retry in 60 minutes.",
    "Bootstrap operation successful.",
    'Starting service SMS_SERVER_BOOTSTRAP_SERVER1 with command-line arguments "GTB C:\\SMS /install"',
)
SMS_COMPONENTS = ("SMS_SITE_COMPONENT_MANAGER", "SMS_MP_CONTROL_MANAGER", "SMS_COLLECTION_EVALUATOR")
CM_MESSAGES = (
    "Downloading file ABC00{n:03d}/x.inf",
    "Set _SMSTSNextInstructionPointer={n}",
    "Failed to refresh state. Error 0x87d00310",
    "Raised Resync state message.",
    "Scan completed for {n} items",
    "Policy {n} not received; will retry",
)
CM_COMPONENTS = ("TSManager", "CcmExec", "UpdatesStore", "ccmsetup")
MSI_MESSAGES = (
    "Machine policy value 'DisableUserInstalls' is 0",
    "Note: 1: 2262 2: DigitalSignature 3: -2147287038 ",
    "PROPERTY CHANGE: Adding INSTALLDIR property. Its value is 'C:\\SMS_CCM\\{n}'.",
    "Doing action: InstallFiles",
    "Executing op: FileCopy(SourceName=ccm{n}.dll,DestName=ccm{n}.dll,Attributes=0)",
    "Resolving source to launched-from source.",
)
MPSETUP_MESSAGES = (
    "MP Setup Started....",
    "Passed OS version check.",
    "IIS Service is installed.",
    'Installing C:\\SMS\\bin\\i386\\mp.msi CCMINSTALLDIR="C:\\SMS_CCM" CCMSERVERDATAROOT="C:\\SMS"',
    "MP.MSI exited with return code: 0",
    "Enabling MSI logging.  MP.MSI will log to C:\\SMS\\logs\\MPMSI.log",
)
IIS_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "sc-status sc-substatus sc-win32-status time-taken"
)
IIS_REQUESTS = (
    ("GET", "/SMS_MP/.sms_aut", "MPLIST", "200"),
    ("GET", "/SMS_MP/.sms_aut", "MPCERT", "200"),
    ("CCM_POST", "/ccm_system/request", "-", "200"),
    ("GET", "/CCM_Incoming/x", "-", "404"),
    ("GET", "/SMS_MP/.sms_aut", "MPLIST", "401"),
)


@dataclass
class GeneratedLog:
    path: Path
    format: str
    lines: int  # physical lines written
    records: int  # records a correct parser returns
    bytes: int


def _times(step_ms: int = 7) -> Iterator[datetime]:
    when = START
    delta = timedelta(milliseconds=step_ms)
    while True:
        yield when
        when += delta


def _sms(rng: random.Random, lines: int) -> Iterator[tuple[str, int]]:
    clock = _times()
    for i in range(lines):
        when = next(clock)
        stamp = f"{when:%m-%d-%Y %H:%M:%S}.{when.microsecond // 1000:03d}+300"
        thread = 1700 + (i % 7)
        if i % 100 == 99:
            message = (
                f'STATMSG: ID={1013 + i % 3} SEV=I LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" '
                f"SYS=MGTPOINT{i % 9} SITE=ABC PID=2104 TID={thread} GMTDATE={when:%a %b %d %H:%M:%S}.000 "
                f'{when:%Y} ISTR0="MGTPOINT{i % 9}" ISTR1="" NUMATTRS=0'
            )
        else:
            message = rng.choice(SMS_MESSAGES).format(n=i % 50)
        component = SMS_COMPONENTS[i % 3]
        yield f"{message}  $$<{component}><{stamp}><thread={thread} (0x{thread:X})>", 1


def _cmtrace(rng: random.Random, lines: int) -> Iterator[tuple[str, int]]:
    clock = _times()
    for i in range(lines):
        when = next(clock)
        message = rng.choice(CM_MESSAGES).format(n=i % 1000)
        kind = 3 if "Failed" in message else 2 if "retry" in message else rng.choice((0, 1, 1))
        yield (
            (
                f'<![LOG[{message}]LOG]!><time="{when:%H:%M:%S}.{when.microsecond // 1000:03d}+240" '
                f'date="{when:%m-%d-%Y}" component="{CM_COMPONENTS[i % 4]}" context="" type="{kind}" '
                f'thread="{2580 + i % 5}" file="main.cpp:{i % 900}">'
            ),
            1,
        )


def _msi(rng: random.Random, lines: int) -> Iterator[tuple[str, int]]:
    clock = _times(3)
    yield f"=== Verbose logging started: {START:%d/%m/%Y  %H:%M:%S}  Build type: SHIP UNICODE 5.00 ===", 1
    written = 1
    i = 0
    while written < lines:
        when = next(clock)
        stamp = f"{when:%H:%M:%S}:{when.microsecond // 1000:03d}"
        if i % 50 == 0:
            yield f"Action start {when:%H:%M:%S}: InstallFiles{i}.", 1
        elif i % 50 == 1:
            yield f"Action ended {when:%H:%M:%S}: InstallFiles{i - 1}. Return value 1.", 1
        elif i % 97 == 0 and written + 1 < lines:
            yield f"MSI (s) (18:F4) [{stamp}]: ******* RunEngine:\r\n           ******* Product: mp.msi", 2
            written += 1
        else:
            yield f"MSI (s) (18:F4) [{stamp}]: {rng.choice(MSI_MESSAGES).format(n=i % 100)}", 1
        written += 1
        i += 1


def _mpsetup(rng: random.Random, lines: int) -> Iterator[tuple[str, int]]:
    clock = _times(40)
    written = 0
    i = 0
    while written < lines:
        when = next(clock)
        message = rng.choice(MPSETUP_MESSAGES)
        if i % 10 == 9 and written + 1 < lines:
            yield f"<{when:%m-%d-%Y %H:%M:%S}> {message}\r\nwrapped continuation of record {i}", 2
            written += 2
        else:
            yield f"<{when:%m-%d-%Y %H:%M:%S}> {message}", 1
            written += 1
        i += 1


def _iis(rng: random.Random, lines: int) -> Iterator[tuple[str, int]]:
    clock = _times(11)
    header = [
        "#Software: Microsoft Internet Information Services 6.0",
        "#Version: 1.0",
        f"#Date: {START:%Y-%m-%d %H:%M:%S}",
        f"#Fields: {IIS_FIELDS}",
    ]
    for i in range(lines):
        if i % 200_000 == 0:
            for line in header:
                yield line, 0
        when = next(clock)
        method, stem, query, status = rng.choice(IIS_REQUESTS)
        yield (
            (
                f"{when:%Y-%m-%d %H:%M:%S} 10.0.0.5 {method} {stem} {query} 80 - 10.0.{i % 250}.9 "
                f"SMS+CCM+5.0+(compatible;+client) {status} 0 0 {i % 300}"
            ),
            1,
        )


WRITERS: dict[str, Callable[[random.Random, int], Iterator[tuple[str, int]]]] = {
    "sms": _sms,
    "cmtrace": _cmtrace,
    "msi": _msi,
    "mpsetup": _mpsetup,
    "iis": _iis,
}
ENCODINGS = {"msi": "utf-16-le"}


def generate(fmt: str, path: Path, lines: int = 1_000_000, seed: int = 1) -> GeneratedLog:
    """Write ``lines`` physical lines (plus IIS directives) of format ``fmt`` to ``path``."""
    rng = random.Random(seed)
    encoding = ENCODINGS.get(fmt, "utf-8")
    total_lines = 0
    records = 0
    size = 0
    with open(path, "wb") as out:
        if encoding == "utf-16-le":
            out.write(codecs.BOM_UTF16_LE)
            size += len(codecs.BOM_UTF16_LE)
        batch: list[str] = []
        for text, physical in WRITERS[fmt](rng, lines):
            batch.append(text)
            total_lines += max(physical, 1)
            records += 1 if physical else 0
            if len(batch) >= BATCH:
                size += out.write(("\r\n".join(batch) + "\r\n").encode(encoding))
                batch.clear()
        if batch:
            size += out.write(("\r\n".join(batch) + "\r\n").encode(encoding))
    return GeneratedLog(path, fmt, total_lines, records, size)


def main() -> int:
    parser = argparse.ArgumentParser(description="write big synthetic logs (one file per format)")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--format", choices=sorted(WRITERS), action="append")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    for fmt in args.format or list(WRITERS):
        info = generate(fmt, args.folder / f"{fmt}.log", args.lines)
        print(f"{info.path}: {info.lines} lines, {info.records} records, {info.bytes} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
