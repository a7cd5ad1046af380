"""``mpwatch timeline SERVER [--api URL] [--json] [--since DURATION] [--utc]``

Asks a running ``mpwatch run`` (or a Faust worker) what happened on SERVER and prints its state, the
diagnoses with cause and remedy, and the install timeline: colours on a terminal (errors in red), times
in local time unless --utc, the whole timeline or the part within --since (30m, 2h, 1d; judged from
the service's "now"). SERVER is a short name or FQDN, any case. --json prints the API's answer as is.

Log text never reaches the terminal as it is: control characters and escape sequences in it are shown
as visible \\xNN escapes. The API address comes from --api, else $MPWATCH_API, else
http://127.0.0.1:8787; a token from --token, else $MPWATCH_TOKEN.

Exit status 0 when the server was found, 1 for an unknown server (close matches are listed), 2 when
the API cannot be reached or answers with an error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import orjson

from streams.cli.common import use_colour
from streams.cli.help import description
from streams.core.events import parse_iso
from streams.errors import InputError
from streams.render import render_server
from streams.sanitize import visible

DEFAULT_API = "http://127.0.0.1:8787"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TIMEOUT_S = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "timeline",
        help="ask a running mpwatch run / worker what happened on one server",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("server", metavar="SERVER", help="short name or FQDN of the management point")
    parser.add_argument("--api", metavar="URL", help=f"the service (default: $MPWATCH_API or {DEFAULT_API})")
    parser.add_argument("--token", metavar="T", help="access token (default: $MPWATCH_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    parser.add_argument("--since", metavar="DURATION", help="only timeline entries this recent (30m, 2h, 1d)")
    parser.add_argument("--utc", action="store_true", help="times in UTC instead of local time")
    parser.set_defaults(func=run_cli)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise InputError(f"--since {text!r}: expected a number and a unit, e.g. 30m, 2h, 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def fetch(api: str, path: str, token: str | None) -> tuple[int, Any]:
    """(status, decoded JSON body) of GET ``api + path``; OSError when the service cannot be reached."""
    request = urllib.request.Request(api.rstrip("/") + path, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, orjson.loads(exc.read())
        except orjson.JSONDecodeError:
            return exc.code, {"error": exc.reason}
    except orjson.JSONDecodeError as exc:
        raise OSError(f"the answer is not JSON ({exc})") from exc


def run_cli(args: argparse.Namespace) -> int:
    api = args.api or os.environ.get("MPWATCH_API") or DEFAULT_API
    if not api.startswith(("http://", "https://")):
        raise InputError(f"--api {api!r}: expected http://HOST:PORT")
    token = args.token or os.environ.get("MPWATCH_TOKEN") or None
    since = parse_duration(args.since) if args.since else None
    path = "/api/servers/" + urllib.parse.quote(args.server, safe="")
    try:
        status, body = fetch(api, path, token)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        print(f"mpwatch timeline: error: cannot reach {api}: {visible(str(reason))}", file=sys.stderr)
        return 2
    if status == 404:
        close = [visible(str(n)) for n in body.get("close_matches") or []]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        print(f"mpwatch timeline: {visible(str(body.get('error', 'unknown server')))}{hint}", file=sys.stderr)
        return 1
    if status != 200:
        print(
            f"mpwatch timeline: error: {api} answered {status}: {visible(str(body.get('error')))}",
            file=sys.stderr,
        )
        return 2
    if since is not None:
        cutoff = parse_iso(body["now"]) - int(since.total_seconds() * 1_000_000)
        body["timeline"] = [e for e in body["timeline"] if parse_iso(e["time"]) >= cutoff]
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    when = _utc if args.utc else _local
    colour = use_colour(sys.stdout)
    lines = render_server(body, colour, when=when, timeline_lines=None)
    zone = "UTC" if args.utc else "local time"
    sys.stdout.write(f"now {when(body['now'])} ({zone}); asked {visible(api)}\n" + "\n".join(lines) + "\n")
    return 0


def _utc(iso: str) -> str:
    return iso[:19].replace("T", " ") + "Z"


def _local(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")
