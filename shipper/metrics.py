"""Shipper metrics, created once per ``ShipperMetrics`` on the registry it is handed.

Tests pass a fresh ``CollectorRegistry`` so runs never share counters; the CLI serves its registry on
``/metrics`` (loopback by default). Names are prefixed ``mpwatch_shipper_``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from shipper.paths import KINDS

PREFIX = "mpwatch_shipper_"


class ShipperMetrics:
    """Every metric the shipper exports."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.records_shipped = Counter(
            PREFIX + "records_shipped_total", "Records confirmed by the output", ["kind"], registry=registry
        )
        self.bytes_shipped = Counter(
            PREFIX + "bytes_shipped_total",
            "Source-file bytes covered by records confirmed by the output",
            ["kind"],
            registry=registry,
        )
        self.files_watched = Gauge(PREFIX + "files_watched", "Files currently tracked", registry=registry)
        self.files_open = Gauge(PREFIX + "files_open", "Files currently held open", registry=registry)
        self.lag_bytes = Gauge(
            PREFIX + "lag_bytes",
            "Bytes behind: file size minus the confirmed (checkpointed) offset, summed per log kind",
            ["kind"],
            registry=registry,
        )
        self.truncated_lines = Counter(
            PREFIX + "truncated_lines_total", "Lines cut at tail.max_line_bytes", registry=registry
        )
        self.parse_fallbacks = Counter(
            PREFIX + "parse_fallback_total",
            "Records shipped as raw text because no format parser understood them",
            registry=registry,
        )
        self.output_errors = Counter(
            PREFIX + "output_errors_total", "Failed attempts to deliver a batch", registry=registry
        )
        self.backpressure_seconds = Counter(
            PREFIX + "backpressure_seconds_total",
            "Seconds reading was paused because the output did not accept a batch",
            registry=registry,
        )
        self.output_up = Gauge(
            PREFIX + "output_up", "1 when the last delivery attempt succeeded, else 0", registry=registry
        )
        self.checkpoint_writes = Counter(
            PREFIX + "checkpoint_writes_total", "Checkpoint files written", registry=registry
        )
        self.checkpoint_errors = Counter(
            PREFIX + "checkpoint_errors_total", "Checkpoint writes that failed (retried)", registry=registry
        )
        self.rotations = Counter(
            PREFIX + "rotations_total", "Files seen renamed or removed while tracked", registry=registry
        )
        self.truncations = Counter(
            PREFIX + "truncations_total",
            "Files found truncated or rewritten (read again from 0)",
            registry=registry,
        )
        self.read_errors = Counter(
            PREFIX + "read_errors_total", "Files that could not be opened or read", registry=registry
        )
        for kind in KINDS:  # make every series exist from the start (dashboards see 0, not 'no data')
            self.records_shipped.labels(kind)
            self.bytes_shipped.labels(kind)
            self.lag_bytes.labels(kind).set(0)
        self.output_up.set(1)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> tuple[object, object]:
    """Start the /metrics HTTP server in a daemon thread; returns (server, thread)."""
    return start_http_server(port, addr=host, registry=registry)
