"""``mpwatch run --logs PATH... [--listen 127.0.0.1:8787] [--state-dir DIR] [--token T] [--probe MP...]``

The embedded default: tails the logs and keeps every management point's install timeline, state and
diagnosis up to date in one process, with no Kafka. PATH is laid out as for ``mpwatch diagnose``: a
folder whose subfolders are host names (SERVER1/SMS/Logs/sitecomp.log, MGTPOINT1/SMS/Logs/MPSetup.log,
MGTPOINT1/W3SVC1/ex041206.log), or one host's folder; ``--host NAME=PATH`` names a folder's host.
What is there is read first, then every host folder is tailed with the shipper's machinery (file
identity, SMS rollover to .lo_, IIS daily files, UTF-16 logs, checkpoints).

Serves, on --listen (loopback by default):
  /                          the timeline page (servers, states, diagnoses; a server's install steps)
  /api/servers               every server with state and active diagnosis codes (JSON)
  /api/servers/SERVER        one server as one entry of mpwatch diagnose --json (?now=ISO to re-judge)
  /api/openapi.json          the API's OpenAPI 3 description
  /metrics                   Prometheus metrics (the names the Faust workers serve)

With --probe MP... the seed's checks (http://MP/sms_mp/.sms_aut?mplist and ?mpcert) are asked every
--probe-interval seconds: the answers join the MP's timeline (source host "probe") and are judged by the
same rules as MPControl's verifications, with mpwatch_probe_success and mpwatch_probe_duration_seconds
on /metrics (see mpwatch probe --help).

A host folder that appears later (a new management point) is tailed within 10 s. State survives a
restart: the shipper checkpoints and the engine snapshot live in --state-dir, the
checkpoint never ahead of the snapshot, so nothing is counted twice or missed. Binding beyond loopback
needs a token (--token or MPWATCH_TOKEN) that every page and API request must carry (Authorization:
Bearer T; a browser opens /?token=T once). Ctrl-C or SIGTERM stops cleanly.

Try: mpwatch timeline MGTPOINT1 --api http://127.0.0.1:8787
Exit status 0 after a clean stop, 2 for unusable input or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from shipper.config import ShipperConfig
from shipper.limits import raise_fd_limit
from shipper.metrics import ShipperMetrics
from shipper.pipeline import Shipper
from shipper.watcher import ChangeWatcher, open_watcher
from streams import http
from streams.cli.common import add_layout_options, parse_tz_option, stop_on_signals
from streams.cli.help import description
from streams.cli.probe import add_probe_options, add_target_argument, build_prober
from streams.core.servers import canonical_server
from streams.embedded import EngineOutput, LiveEngine
from streams.errors import InputError
from streams.hostlabel import LabelledRegistries
from streams.loader import discover, parse_host_option
from streams.metrics import PipelineMetrics, ProbeMetrics, register_state_metrics
from streams.probe import DEFAULT_INTERVAL, Prober, probe_loop
from streams.sanitize import visible

log = logging.getLogger("mpwatch.run")

DEFAULT_LISTEN = "127.0.0.1:8787"
DEFAULT_STATE_DIR = "mpwatch-run-state"
NEW_HOST_SCAN_S = 10.0  # how often the PATHs are listed again for host folders that appeared
#: least seconds between a host's checkpoint writes: records a crash makes the shipper read again are
#: dropped by the engine's replay guard, so a longer interval costs nothing but re-reading (and each
#: write is two fsyncs: at 200 hosts every 30 s they were a tenth of the process's CPU)
CHECKPOINT_INTERVAL_S = 300.0
#: change notifications are read at most this often: 200 hosts' logs growing a line at a time cost one
#: loop callback per interval instead of one per line (a line still shows within ~0.1 s)
NOTIFY_COALESCE_S = 0.05
#: one recursive watch covers every host, so a host's full rescan is only the safety net: every 30 s
#: (at the shipper's 10 s, 200 hosts made 20 scans a second); without notifications the default 10 s
NOTIFIED_RESCAN_S = 30.0
DEFAULT_HOLD_SECONDS = 10.0  # the logs already there are read within it; later zones rarely come


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the embedded default: tail the logs, keep timelines and states live, serve page, API, metrics",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--logs",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="folder of host folders, or one host's folder (repeatable)",
    )
    add_layout_options(parser)
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"default: {DEFAULT_LISTEN} (port 0: any)",
    )
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help=f"checkpoints and engine snapshot (default: {DEFAULT_STATE_DIR} in the working folder)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("MPWATCH_TOKEN") or None,
        metavar="T",
        help="required on every page/API request (default: $MPWATCH_TOKEN); needed beyond loopback",
    )
    parser.add_argument(
        "--hold-seconds",
        type=float,
        default=DEFAULT_HOLD_SECONDS,
        metavar="S",
        help="how long local-time records (MPSetup, MSI) of a host whose logs state no UTC offset wait "
        f"for one before the site's offset is used (default: {DEFAULT_HOLD_SECONDS:g})",
    )
    add_target_argument(parser, positional=False)
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="S",
        help=f"seconds between probe rounds (default: {DEFAULT_INTERVAL:g}, as MP Control Manager)",
    )
    add_probe_options(parser, prefix="probe-")
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="default: info"
    )
    parser.set_defaults(func=run_cli)


def host_roots(paths: list[str], hosts: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Host -> the folders (or single files) to tail for it, laid out as ``mpwatch diagnose`` does."""
    given = [*paths, *(p for _, p in hosts)]
    files: set[Path] = set()
    for item in given:
        path = Path(item)
        if path.is_file() and zipfile.is_zipfile(path):
            raise InputError(f"{item}: mpwatch run tails folders; unpack the zip (or use mpwatch diagnose)")
        if path.is_file():
            files.add(path.resolve())
    notes: list[str] = []
    roots: dict[str, set[str]] = {}
    for source in discover(paths, hosts, notes):
        origin = Path(source.origin)
        if origin.resolve() in files:  # a single file given by name: tail just that file
            roots.setdefault(source.host, set()).add(str(origin))
            continue
        root = origin
        for _ in Path(source.file_id).parts:  # file_id is the path below the host folder
            root = root.parent
        roots.setdefault(source.host, set()).add(str(root))
    for note in notes:
        log.info("%s", visible(note))  # file and member names are untrusted
    return {host: sorted(found) for host, found in sorted(roots.items())}


def shipper_config(host: str, roots: list[str], state_dir: str, *, notified: bool = True) -> ShipperConfig:
    """The shipper settings for one host folder (defaults, the embedded engine as output); with change
    notifications working (``notified``) each host's safety-net rescan runs every ``NOTIFIED_RESCAN_S``."""
    patterns = [str(Path(root) / "**" / "*") if Path(root).is_dir() else root for root in roots]
    config = ShipperConfig(
        paths=patterns,
        host=host,
        output="embedded://",
        state_dir=os.path.join(state_dir, "checkpoints", host),
        checkpoint_interval_s=CHECKPOINT_INTERVAL_S,
    )
    if notified:
        config.tail.rescan_interval_s = NOTIFIED_RESCAN_S
    return config


def _watch(paths: list[str], on_hint: Callable[[str], None]) -> ChangeWatcher | None:
    """One recursive watch per given PATH for every host's shipper, instead of a watcher per host;
    None (periodic rescans only) when notifications are unavailable."""
    roots = [(os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or "."), True) for p in paths]
    try:
        return open_watcher(
            sorted(set(roots)), on_hint, asyncio.get_running_loop(), coalesce_s=NOTIFY_COALESCE_S
        )
    except OSError as exc:
        log.warning("no change notifications (%s); relying on rescans every 10 s", exc)
        return None


def _top_level(paths: list[str], hosts: Iterable[str] = ()) -> set[str]:
    """The entries right inside each PATH, and inside each of its folders that is not a known host
    folder (cheap; a change means a host folder may have appeared, also in a wrapper folder beside a
    README, which the loader looks into)."""
    known = {os.path.abspath(h) for h in hosts}
    names: set[str] = set()
    for path in paths:
        with contextlib.suppress(OSError):
            for name in os.listdir(path):
                full = os.path.join(path, name)
                names.add(full)
                if os.path.abspath(full) not in known and os.path.isdir(full):
                    with contextlib.suppress(OSError):
                        names.update(os.path.join(full, inner) for inner in os.listdir(full))
    return names


async def _either(first: asyncio.Event, second: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _shipper_ended(host: str, task: asyncio.Future[Any], stop: asyncio.Event) -> None:
    """A shipper only ends on stop; one that failed stops the whole process (with the reason)."""
    if task.cancelled() or stop.is_set():
        return
    error = task.exception()
    log.error("tailing %s stopped: %s; stopping", host, error or "ended early")
    stop.set()


def _prober(args: argparse.Namespace) -> Prober | None:
    """The probe of ``--probe MP...`` (None without targets); bad values are exit 2 before anything runs."""
    if not args.probe_targets:
        return None
    if not args.probe_interval > 0:
        raise InputError("--probe-interval must be > 0")
    return build_prober(
        args.probe_targets, args.probe_https, args.probe_ca, args.probe_timeout, args.probe_concurrency
    )


def run_cli(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    listen_host, port = http.parse_listen(args.listen)
    http.check_listen(listen_host, args.token)
    hosts = [parse_host_option(text) for text in args.host]
    prober = _prober(args)
    if not args.logs and not hosts and prober is None:
        raise InputError(
            "give the logs to watch: --logs PATH (a folder of host folders) or --host NAME=PATH "
            "(or MPs to probe: --probe MP)"
        )
    tz = {canonical_server(h): m for h, m in (parse_tz_option(t) for t in args.tz)}
    if args.hold_seconds < 0:
        raise InputError("--hold-seconds must be >= 0")
    roots = host_roots(args.logs, hosts) if args.logs or hosts else {}
    try:
        os.makedirs(args.state_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--state-dir {args.state_dir}: {exc.strerror or exc}") from exc
    if not os.path.isdir(args.state_dir) or not os.access(args.state_dir, os.W_OK):
        raise InputError(f"--state-dir {args.state_dir}: not a writable folder")
    raise_fd_limit()
    return asyncio.run(_main(args, roots, hosts, tz, listen_host, port, prober))


async def _main(
    args: argparse.Namespace,
    roots: dict[str, list[str]],
    hosts: list[tuple[str, str]],
    tz: dict[str, int],
    listen_host: str,
    port: int,
    prober: Prober | None = None,
) -> int:
    registry = CollectorRegistry()
    pipeline = PipelineMetrics(registry)
    live = LiveEngine(args.state_dir, pipeline, tz=tz, hold_seconds=args.hold_seconds)
    register_state_metrics(registry, live.store)
    shipper_registries: dict[str, CollectorRegistry] = {}
    registry.register(LabelledRegistries(shipper_registries))
    stop, engine_stop = asyncio.Event(), asyncio.Event()
    shipping: dict[str, asyncio.Future[Any]] = {}
    shippers: dict[str, Shipper] = {}
    by_folder: dict[str, Shipper] = {}  # host folder (absolute) -> its shipper
    look_for_hosts = asyncio.Event()

    def on_hint(path: str) -> None:
        """One watch over every PATH: hand each change to the shipper whose folder holds it."""
        full = folder = os.path.abspath(path)
        while True:  # the innermost host folder holding the path (the path itself, or a parent)
            shipper = by_folder.get(folder)
            if shipper is not None:
                shipper.hint(full)
                return
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        look_for_hosts.set()  # something outside every known host folder: maybe a new host

    def start_shipper(host: str, folders: list[str]) -> None:
        shipper_registries[host] = CollectorRegistry()
        config = shipper_config(host, folders, args.state_dir, notified=watcher is not None)
        metrics = ShipperMetrics(shipper_registries[host])
        shipper = Shipper(config, metrics, output=EngineOutput(live, host), external_hints=True)
        shippers[host] = shipper
        for folder in folders:
            by_folder[os.path.abspath(folder)] = shipper
        task = shipping[host] = asyncio.ensure_future(shipper.run(stop))
        task.add_done_callback(lambda done: _shipper_ended(host, done, stop))

    known_top = _top_level(args.logs, (f for folders in roots.values() for f in folders))

    async def watch_for_new_hosts() -> None:
        """A host folder that appears later (a new management point) is tailed from then on."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_either(stop, look_for_hosts), NEW_HOST_SCAN_S)
            if stop.is_set():
                return
            await asyncio.sleep(0.5)  # a folder being copied in: let its first files land
            look_for_hosts.clear()
            listing = _top_level(args.logs, by_folder)
            if listing == known_top:  # nothing new at the top: no walk of every host folder
                continue
            known_top.clear()
            known_top.update(listing)
            try:
                found = host_roots(args.logs, hosts)
            except InputError:
                continue
            for host, folders in found.items():
                if host not in shipping:
                    log.info("new host %s (%s): tailing it", host, ", ".join(folders))
                    start_shipper(host, folders)

    app = http.build_app(live.store, registry, token=args.token)
    runner, bound = await http.start(app, listen_host, port)
    shown = f"[{listen_host}]" if ":" in listen_host else listen_host
    url = f"http://{shown}:{bound}"
    log.info(
        "watching %d host(s): %s", len(roots), ", ".join(f"{h} ({', '.join(r)})" for h, r in roots.items())
    )
    print(
        f"mpwatch run: page {url}/  API {url}/api/servers  metrics {url}/metrics", file=sys.stderr, flush=True
    )
    print(f"mpwatch run: try: mpwatch timeline SERVER --api {url}", file=sys.stderr, flush=True)

    stop_on_signals(stop, log, "stop requested: confirming what was read, then saving state")
    engine_task = asyncio.ensure_future(live.run(engine_stop))
    watched = [*args.logs, *(path for _, path in hosts)]
    watcher = _watch(watched, on_hint) if watched else None
    for host, folders in roots.items():
        start_shipper(host, folders)
    scanner = asyncio.ensure_future(watch_for_new_hosts())
    probing = None
    if prober is not None:

        async def deliver(events: list[Any]) -> None:
            live.apply_events(events)

        metrics = ProbeMetrics(registry)
        probing = asyncio.ensure_future(probe_loop(prober, args.probe_interval, deliver, metrics, stop))
        log.info("probing %s every %g s", ", ".join(t.server for t in prober.targets), args.probe_interval)
    try:
        await stop.wait()
        await scanner
        if probing is not None:  # a round in flight may wait for its time-outs: not worth waiting for
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing
        await asyncio.gather(*shipping.values())
    finally:
        scanner.cancel()
        if probing is not None:
            probing.cancel()
        if watcher is not None:
            watcher.stop()
        engine_stop.set()  # only now: a shipper's last checkpoint waits for the snapshot that holds it
        await engine_task
        await runner.cleanup()
    log.info(
        "stopped: %d records, %d events, %d snapshots",
        live.engine.stats.records,
        live.engine.stats.events,
        live.snapshots,
    )
    return 0
