"""``mpwatch worker``: one Faust worker of the distributed shell.

Reads shipped batches from the records topic (keyed by source host), correlates them (stage 1), applies
the events to per-server states (stage 2), publishes health changes and serves the query API and
/metrics on its web port. Settings: defaults <- --config TOML <- MPWATCH_* environment <- flags. Every
topic and changelog is created (or checked) before the app starts; a broker that cannot be reached or
refuses to create them is one error line and exit 2. SIGTERM or Ctrl-C stops the worker cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from streams.cli.help import description
from streams.errors import WorkerError

log = logging.getLogger("mpwatch.worker")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a stream-processing worker (Faust) over the shipped records topic",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="TOML file with the settings (flags win)")
    parser.add_argument("--broker", metavar="HOST:PORT", help="Kafka bootstrap server(s), comma-separated")
    parser.add_argument("--web-port", metavar="N", type=int, help="port of the query API and /metrics")
    parser.add_argument("--data-dir", metavar="DIR", help="folder of the worker's local table data")
    parser.add_argument("--store", metavar="URL", help="table store: rocksdb:// (default) or memory://")
    parser.add_argument(
        "--probe",
        nargs="+",
        metavar="MP",
        help="MPs the leader probes ([NAME=]HOST[:PORT] or URL; replaces [probe] servers and $MPWATCH_PROBE)",
    )
    parser.add_argument("--probe-interval", metavar="S", type=float, help="seconds between probe rounds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import faust

    from streams.worker.app import TABLES, build_app
    from streams.worker.settings import load_settings
    from streams.worker.topics import TopicSpec, ensure_topics, worker_topics

    settings = load_settings(
        args.config,
        {
            "broker": args.broker,
            "web_port": args.web_port,
            "data_dir": args.data_dir,
            "store": args.store,
            "probe.servers": args.probe,
            "probe.interval_seconds": args.probe_interval,
        },
    )
    try:
        # Faust's leader-election topic too: with topic_allow_declare off it would never exist
        leader = TopicSpec(f"{settings.app_id}-__assignor-__leader", 1)
        created = asyncio.run(ensure_topics(settings, [*worker_topics(settings, TABLES), leader]))
    except WorkerError:
        raise
    except Exception as exc:  # anything else the admin client raises: still one line
        raise WorkerError(f"cannot prepare the topics on {settings.broker}: {exc!r}") from exc
    if created:
        logging.basicConfig(level=logging.INFO)
        log.info("created topics: %s", ", ".join(created))
    app = build_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.upper())
    worker.execute_from_commandline()  # handles SIGTERM/SIGINT: stops the app and exits
    return 0
