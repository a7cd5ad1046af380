"""``mpwatch probe MP... [--https] [--ca FILE] [--timeout S] [--json]``

Asks each management point the seed's two questions and says whether it answers as a healthy MP:

  http://MP/sms_mp/.sms_aut?mplist   a blank page (SMS 2003) or an MP list XML (later versions)
  http://MP/sms_mp/.sms_aut?mpcert   a long string of hex digits (the MP's certificate)

MP is HOST, HOST:PORT or a URL (http://HOST:PORT, https://HOST); NAME=... names the server the
answer is reported for (default: HOST). Each line says what came back: 401.3 (IIS anonymous accounts
refused: the domain controller problem), a URLScan 404 (the SMS Toolkit template is missing), 500,
503 (application pool stopped), a time-out, a refused connection (site stopped or moved off the port).
TLS certificates are verified (--ca FILE trusts a CA besides the system's); redirects are not followed.

Exit status 0 when every check of every MP passed, 1 when some failed, 2 for unusable arguments.
Try: mpwatch probe MGTPOINT1 --json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from streams.cli.help import description
from streams.errors import ProbeError
from streams.probe import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, Prober, Result, parse_target
from streams.sanitize import visible


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="ask management points the seed's checks (.sms_aut?mplist, ?mpcert) and judge the answers",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_argument(parser, positional=True)
    add_probe_options(parser, prefix="")
    parser.add_argument("--json", action="store_true", help="one JSON object with every result")
    parser.set_defaults(func=run)


def add_target_argument(parser: argparse.ArgumentParser, positional: bool) -> None:
    """The MPs to probe: positional for ``mpwatch probe``, ``--probe MP...`` for ``mpwatch run``."""
    if positional:
        parser.add_argument("targets", nargs="+", metavar="MP", help="[NAME=]HOST[:PORT] or [NAME=]URL")
    else:
        parser.add_argument(
            "--probe",
            dest="probe_targets",
            nargs="+",
            action="extend",
            default=[],
            metavar="MP",
            help="probe these MPs ([NAME=]HOST[:PORT] or URL) every --probe-interval seconds",
        )


def add_probe_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    """``--https``, ``--ca``, ``--timeout`` (``--probe-https`` ... with ``prefix="probe-"``)."""
    dest = prefix.replace("-", "_")
    parser.add_argument(
        f"--{prefix}https",
        dest=f"{dest}https",
        action="store_true",
        help="https:// for MPs given without a URL",
    )
    parser.add_argument(
        f"--{prefix}ca", dest=f"{dest}ca", metavar="FILE", help="trust this CA (PEM) besides the system's"
    )
    parser.add_argument(
        f"--{prefix}timeout",
        dest=f"{dest}timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds per request (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        f"--{prefix}concurrency",
        dest=f"{dest}concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests at once (default: {DEFAULT_CONCURRENCY})",
    )


def build_prober(targets: list[str], https: bool, ca: str | None, timeout: float, concurrency: int) -> Prober:
    """A ``Prober`` from command-line values (ProbeError, i.e. exit 2, for unusable ones)."""
    parsed = [parse_target(text, https) for text in targets]
    servers = [t.server for t in parsed]
    twice = sorted({s for s in servers if servers.count(s) > 1})
    if twice:
        raise ProbeError(f"probe targets name {', '.join(twice)} more than once (use NAME=URL)")
    return Prober(parsed, timeout=timeout, ca=ca, concurrency=concurrency)


def run(args: argparse.Namespace) -> int:
    prober = build_prober(args.targets, args.https, args.ca, args.timeout, args.concurrency)
    results = asyncio.run(_round(prober))
    if args.json:
        out = {"results": [r.to_dict() for r in results], "ok": all(r.verdict.ok for r in results)}
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for result in results:
            sys.stdout.write(_line(result) + "\n")
    return 0 if all(r.verdict.ok for r in results) else 1


async def _round(prober: Prober) -> list[Result]:
    async with prober:
        return await prober.round()


def _line(result: Result) -> str:
    v = result.verdict
    status = str(v.status) if v.status is not None else "-"
    line = f"{result.target.server:<16} {v.check:<7} {'ok  ' if v.ok else 'FAIL'} {status:>4} "
    line += f"{result.duration:6.3f}s  {v.detail}"
    if not v.ok and v.evidence:
        line += f"  [{v.evidence}]"
    return visible(line)
