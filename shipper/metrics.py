"""Shipper metrics, created once per ``ShipperMetrics`` on the registry it is handed.

Tests pass a fresh ``CollectorRegistry`` so runs never share counters; the CLI serves its registry on
``/metrics`` (loopback by default). Names are prefixed ``mpwatch_shipper_``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from shipper.errors import ConfigError
from shipper.paths import KINDS

PREFIX = "mpwatch_shipper_"


class ShipperMetrics:
    """Every metric the shipper exports."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        counter, gauge = self._counter, self._gauge
        kind = ("kind",)
        self.records_shipped = counter("records_shipped_total", "Records confirmed by the output", kind)
        self.bytes_shipped = counter(
            "bytes_shipped_total", "Source-file bytes covered by records confirmed by the output", kind
        )
        self.files_watched = gauge("files_watched", "Files currently tracked")
        self.files_open = gauge("files_open", "Files currently held open")
        self.lag_bytes = gauge(
            "lag_bytes",
            "Bytes behind: file size minus the confirmed (checkpointed) offset, summed per log kind",
            kind,
        )
        self.truncated_lines = counter("truncated_lines_total", "Lines cut at tail.max_line_bytes")
        self.encoding_switches = counter(
            "encoding_switches_total",
            "Blocks of another encoding found inside a file (UTF-16 appended to UTF-8, or the reverse)",
        )
        self.parse_fallbacks = counter(
            "parse_fallback_total",
            "Lines framed as raw text because the file's format parser did not understand them",
        )
        self.output_errors = counter("output_errors_total", "Failed attempts to deliver a batch")
        self.output_failures = counter(
            "output_failures_total",
            "Failed delivery attempts by cause (unreachable, timeout, unknown_topic, not_authorized, "
            "message_too_large, io, other)",
            ("reason",),
        )
        self.backpressure_seconds = counter(
            "backpressure_seconds_total",
            "Seconds reading was paused because the output did not accept a batch",
        )
        self.output_up = gauge("output_up", "1 when the last delivery attempt succeeded, else 0")
        self.checkpoint_writes = counter("checkpoint_writes_total", "Checkpoint files written")
        self.checkpoint_errors = counter("checkpoint_errors_total", "Checkpoint writes that failed (retried)")
        self.rotations = counter("rotations_total", "Files seen renamed or removed while tracked")
        self.truncations = counter(
            "truncations_total", "Files found truncated or rewritten (read again from 0)"
        )
        self.read_errors = counter("read_errors_total", "Files that could not be opened or read")
        # every series exists from the start (dashboards see 0, not 'no data'); the children are kept,
        # since ``labels()`` costs more than the increment on the per-batch path
        self.records_by_kind = {name: self.records_shipped.labels(name) for name in KINDS}
        self.bytes_by_kind = {name: self.bytes_shipped.labels(name) for name in KINDS}
        self.lag_by_kind = {name: self.lag_bytes.labels(name) for name in KINDS}
        for child in self.lag_by_kind.values():
            child.set(0)
        self.output_up.set(1)

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(PREFIX + name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(PREFIX + name, doc, labels, registry=self.registry)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> tuple[object, object]:
    """Start the /metrics HTTP server in a daemon thread; returns (server, thread).

    ConfigError (one line naming the setting) when the port cannot be bound, e.g. already in use."""
    try:
        return start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"metrics_port: cannot serve /metrics on {host}:{port}: {exc.strerror or exc}"
        ) from exc
