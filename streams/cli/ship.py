"""``mpwatch ship``: the shipper's command line.

Tails the SMS and IIS logs matched by --path and delivers every record at least once to --output.
Flags win over the TOML config file. SIGTERM or Ctrl-C stops gracefully (exit 0): what was read is sent
and checkpointed. ``--once`` reads everything present, ships it, checkpoints and exits: 0 when all of it
was confirmed and checkpointed, 1 when the output never confirmed a batch within
``retry.once_timeout_s`` (or refused it for good) or the checkpoint could not be written, 2 for a
configuration error (including a state folder that is not writable). Live mode retries forever and says
why in one line per outage (unknown topic, not authorised, broker unreachable, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from prometheus_client import CollectorRegistry

from shipper.config import ShipperConfig, load_config
from shipper.limits import raise_fd_limit
from shipper.metrics import ShipperMetrics, serve
from shipper.paths import PathsProvider
from shipper.pipeline import RunSummary, Shipper
from streams.cli.common import stop_on_signals
from streams.cli.help import description

log = logging.getLogger("mpwatch.shipper")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ship",
        help="tail SMS and IIS logs and deliver every record at least once (Kafka or a JSON-lines file)",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="TOML file with the settings (flags win)")
    parser.add_argument(
        "--path",
        metavar="GLOB",
        action="append",
        dest="paths",
        help="file pattern to ship ('**' recurses); a folder means its SMS and IIS logs; repeatable",
    )
    parser.add_argument("--host", help="source host name put in every record (default: this machine)")
    parser.add_argument("--output", metavar="URL", help="kafka://HOST:PORT/TOPIC or file:///PATH.jsonl")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help=f"folder of the checkpoint file (default: {ShipperConfig().state_dir} in the working folder)",
    )
    parser.add_argument(
        "--metrics-port", metavar="N", type=int, help="serve /metrics on 127.0.0.1:N (0 = any free port)"
    )
    parser.add_argument(
        "--once", action="store_true", default=None, help="ship what is there now, checkpoint, exit"
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="default: info"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.log_level != "debug":
        # aiokafka logs every failed connection attempt itself; the shipper reports outages once
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    config = load_config(
        args.config,
        {
            "paths": args.paths,
            "host": args.host,
            "output": args.output,
            "state_dir": args.state_dir,
            "metrics_port": args.metrics_port,
            "once": args.once,
        },
    )
    for pattern in config.paths:  # a typo in a path would otherwise ship nothing without a word
        if not PathsProvider([pattern], config.tail.exclude).paths():
            log.warning("no file matches %s%s", pattern, "" if config.once else " yet; watching for it")
    raise_fd_limit()
    registry = CollectorRegistry()
    metrics = ShipperMetrics(registry)
    server = None
    if config.metrics_port is not None:
        server, _thread = serve(registry, config.metrics_port, config.metrics_host)
        port = getattr(server, "server_port", config.metrics_port)
        log.info("metrics on http://%s:%s/metrics", config.metrics_host, port)
    try:
        summary = asyncio.run(_main(config, metrics))
    finally:
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
    log.info("shipped %d records in %d batches", summary.records, summary.batches)
    if config.once and (not summary.delivered_all or not summary.checkpoint_saved):
        if not summary.delivered_all:
            log.error("--once: the output never confirmed the last batch: %s", summary.failure or "stopped")
        if not summary.checkpoint_saved:
            log.error("--once: the checkpoint could not be saved; the next run would ship everything again")
        return 1
    if not summary.delivered_all:
        # Stopping on request is still a clean stop (exit 0, as Filebeat does): the checkpoint stayed
        # before the unconfirmed records, so the next run sends them again. Say so rather than be silent.
        log.warning("stopped before the output confirmed every record read; the next run resends them")
    return 0


async def _main(config: ShipperConfig, metrics: ShipperMetrics) -> RunSummary:
    stop = asyncio.Event()
    stop_on_signals(stop, log, "stop requested: sending what was read, then saving the checkpoint")
    shipper = Shipper(config, metrics)
    log.info("shipping %s to %s as host %s", ", ".join(config.paths), shipper.output.describe(), config.host)
    return await shipper.run(stop)
