"""Worker settings: defaults <- TOML file <- MPWATCH_* environment <- command-line flags.

The TOML file mirrors ``WorkerSettings``: top-level keys (``broker``, ``app_id``, ``store``, ``data_dir``,
``web_host``, ``web_port``, ``partitions``, ``replication``, ``hold_seconds``, ``tick_seconds``,
``max_poll_records``, ``batch_messages``, ``batch_seconds``, ``log_level``), a ``[topics]`` table
(``records``, ``events``, ``health``), a ``[probe]`` table (``ProbeSettings``: the MPs the leader probes
and how often) and the shipper's own ``[kafka]`` table (``shipper.config.KafkaSettings``:
security_protocol, SASL/SCRAM user and password or password_file, TLS files) so one file can describe
both ends of the pipe. Unknown keys and wrong types are errors naming the setting (the shipper's loader
does the checking).

``batch_messages`` / ``batch_seconds``: each stage takes up to ``batch_messages`` Kafka messages at a time
(Faust ``take_events``), waiting at most ``batch_seconds`` for the batch to fill; stage 1 sends one events
message per target server per batch and writes each host's correlator state once per batch, stage 2
loads, saves and publishes each server once per batch. Larger batches cost less CPU per record under
load; ``batch_seconds`` is the most a quiet pipeline adds to each stage's latency.
"""

from __future__ import annotations

import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipper.config import SASL_MECHANISMS, SECURITY_PROTOCOLS, KafkaSettings
from shipper.config import _build as build_settings  # the shipper's TOML -> dataclass loader
from shipper.errors import ConfigError
from streams.errors import ProbeError, WorkerError
from streams.probe import DEFAULT_CONCURRENCY, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, MAX_TIMEOUT, parse_target

STORES = ("rocksdb://", "memory://")

#: environment variable -> setting (dotted), as the interface spec names them
ENVIRONMENT = {
    "MPWATCH_BROKER": "broker",
    "MPWATCH_WEB_HOST": "web_host",
    "MPWATCH_WEB_PORT": "web_port",
    "MPWATCH_DATA_DIR": "data_dir",
    "MPWATCH_STORE": "store",
    "MPWATCH_TOPIC_RECORDS": "topics.records",
    "MPWATCH_TOPIC_EVENTS": "topics.events",
    "MPWATCH_TOPIC_HEALTH": "topics.health",
    "MPWATCH_PARTITIONS": "partitions",
    "MPWATCH_PROBE": "probe.servers",
    "MPWATCH_PROBE_INTERVAL": "probe.interval_seconds",
    "MPWATCH_PROBE_TIMEOUT": "probe.timeout_seconds",
    "MPWATCH_PROBE_HTTPS": "probe.https",
    "MPWATCH_PROBE_CA": "probe.ca_file",
}
_INTEGERS = {"web_port", "partitions"}
_FLOATS = {"probe.interval_seconds", "probe.timeout_seconds"}
_LISTS = {"probe.servers"}  # comma-separated in the environment
_BOOLEANS = {"probe.https"}  # 1/true/yes or 0/false/no


@dataclass(slots=True)
class TopicSettings:
    records: str = "mpwatch-records"  # shipped batches, keyed by source host (the shipper's default)
    events: str = "mpwatch-events"  # events, keyed by target server
    health: str = "mpwatch-health"  # one JSON object per health change, keyed by server


@dataclass(slots=True)
class ProbeSettings:
    """The active MP probe (``streams.probe``): the elected leader asks ``servers`` every
    ``interval_seconds``; its answers go to the events topic like any other event."""

    servers: list[str] = field(default_factory=list)  # [NAME=]HOST[:PORT] or [NAME=]URL
    interval_seconds: float = DEFAULT_INTERVAL
    timeout_seconds: float = DEFAULT_TIMEOUT
    https: bool = False  # https:// for servers given without a URL
    ca_file: str = ""  # a PEM CA trusted besides the system's (verification is always on)
    concurrency: int = DEFAULT_CONCURRENCY


@dataclass(slots=True)
class WorkerSettings:
    broker: str = "127.0.0.1:9092"  # HOST:PORT[,HOST:PORT...]
    app_id: str = "mpwatch"  # consumer group and prefix of the changelog topics
    store: str = "rocksdb://"
    data_dir: str = "mpwatch-worker"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    partitions: int = 8
    replication: int = 1
    hold_seconds: float = 300.0  # local-time records wait this long for their host's UTC offset
    tick_seconds: float = 5.0  # how often time rules and held records are re-evaluated
    max_poll_records: int = 100  # lower than Faust's default: long polls are behind its stall bugs
    batch_messages: int = 100  # Kafka messages per batch of each stage (see the module docstring)
    batch_seconds: float = 0.02  # longest wait for a batch to fill (added latency when quiet)
    log_level: str = "info"
    topics: TopicSettings = field(default_factory=TopicSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    kafka: KafkaSettings = field(default_factory=lambda: KafkaSettings(client_id="mpwatch-worker"))

    def brokers(self) -> list[str]:
        return [b.strip() for b in self.broker.split(",") if b.strip()]


def load_settings(
    path: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> WorkerSettings:
    """Build and validate the settings; ``overrides`` are flags by dotted name (None = not given)."""
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise WorkerError(f"cannot read config file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise WorkerError(f"config file {path} is not valid TOML: {exc}") from exc
    env = os.environ if environ is None else environ
    for variable, key in ENVIRONMENT.items():
        value: Any = env.get(variable)
        if value:
            _put(data, key, _from_environment(variable, key, value))
    for key, value in (overrides or {}).items():
        if value is not None:
            _put(data, key, value)
    data.setdefault("kafka", {}).setdefault("client_id", "mpwatch-worker")
    try:
        settings: WorkerSettings = build_settings(WorkerSettings, data, "")
    except ConfigError as exc:
        raise WorkerError(str(exc)) from exc
    validate(settings)
    return settings


def _from_environment(variable: str, key: str, value: str) -> Any:
    """An environment variable's text as the setting's type (WorkerError naming the variable)."""
    try:
        if key in _INTEGERS:
            return int(value)
        if key in _FLOATS:
            return float(value)
    except ValueError:
        kind = "an integer" if key in _INTEGERS else "a number"
        raise WorkerError(f"{variable}: expected {kind}, got {value!r}") from None
    if key in _LISTS:
        return [item.strip() for item in value.split(",") if item.strip()]
    if key in _BOOLEANS:
        lowered = value.strip().lower()
        if lowered not in ("1", "true", "yes", "0", "false", "no"):
            raise WorkerError(f"{variable}: expected true or false, got {value!r}")
        return lowered in ("1", "true", "yes")
    return value


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for parent in parents:
        data = data.setdefault(parent, {})
    data[leaf] = value


def validate(s: WorkerSettings) -> None:
    """Reject settings that cannot work, naming the setting."""
    if not s.brokers() or any(":" not in b or not b.rsplit(":", 1)[1].isdigit() for b in s.brokers()):
        raise WorkerError(f"broker: {s.broker!r} is not HOST:PORT[,HOST:PORT...]")
    if s.store not in STORES:
        raise WorkerError(f"store: {s.store!r} is not one of {', '.join(STORES)}")
    if not 0 <= s.web_port <= 65535:
        raise WorkerError(f"web_port: {s.web_port} is not a TCP port")
    for name in ("partitions", "replication", "max_poll_records", "batch_messages"):
        if getattr(s, name) < 1:
            raise WorkerError(f"{name}: must be >= 1, got {getattr(s, name)}")
    for name in ("hold_seconds", "tick_seconds", "batch_seconds"):
        if not getattr(s, name) > 0:  # NaN too
            raise WorkerError(f"{name}: must be > 0, got {getattr(s, name)}")
    names = (s.topics.records, s.topics.events, s.topics.health)
    if not all(names) or len(set(names)) != 3:
        raise WorkerError(f"topics: records, events and health must be three different names, got {names}")
    _validate_probe(s.probe)
    k = s.kafka
    if k.security_protocol not in SECURITY_PROTOCOLS:
        raise WorkerError(
            f"kafka.security_protocol: {k.security_protocol!r} is not one of {SECURITY_PROTOCOLS}"
        )
    if k.sasl_mechanism not in SASL_MECHANISMS:
        raise WorkerError(f"kafka.sasl_mechanism: {k.sasl_mechanism!r} is not one of {SASL_MECHANISMS}")
    if k.security_protocol.startswith("SASL") and not k.username:
        raise WorkerError(f"kafka.username: required with security_protocol {k.security_protocol}")
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "password_file"):
        value = getattr(k, name)
        if value and not os.path.isfile(value):
            raise WorkerError(f"kafka.{name}: no such file {value}")


def _validate_probe(p: ProbeSettings) -> None:
    if not 0 < p.timeout_seconds <= MAX_TIMEOUT:
        raise WorkerError(
            f"probe.timeout_seconds: must be > 0 and <= {MAX_TIMEOUT:g}, got {p.timeout_seconds}"
        )
    for name in ("interval_seconds",):
        if not getattr(p, name) > 0:
            raise WorkerError(f"probe.{name}: must be > 0, got {getattr(p, name)}")
    if p.concurrency < 1:
        raise WorkerError(f"probe.concurrency: must be >= 1, got {p.concurrency}")
    if p.ca_file and not os.path.isfile(p.ca_file):
        raise WorkerError(f"probe.ca_file: no such file {p.ca_file}")
    names = []
    for text in p.servers:
        try:
            names.append(parse_target(text, p.https).server)
        except ProbeError as exc:
            raise WorkerError(f"probe.servers: {exc}") from None
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise WorkerError(f"probe.servers: {', '.join(twice)} named more than once (use NAME=URL)")


def client_kwargs(s: WorkerSettings) -> dict[str, Any]:
    """aiokafka client options (admin client, test producers) for these settings."""
    k = s.kafka
    options: dict[str, Any] = {"bootstrap_servers": s.brokers(), "security_protocol": k.security_protocol}
    if k.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(s)
    if k.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = k.sasl_mechanism
        options["sasl_plain_username"] = k.username
        options["sasl_plain_password"] = _password(k)
    return options


def faust_credentials(s: WorkerSettings) -> Any:
    """The same settings as Faust's ``broker_credentials`` (its consumer, producer and changelog clients
    do not read ``client_kwargs``): SASL with TLS or without, TLS alone, or None for PLAINTEXT."""
    import faust

    k = s.kafka
    if k.security_protocol.startswith("SASL"):
        context = ssl_context(s) if k.security_protocol == "SASL_SSL" else None
        return faust.SASLCredentials(
            username=k.username, password=_password(k), ssl_context=context, mechanism=k.sasl_mechanism
        )
    if k.security_protocol == "SSL":
        return faust.SSLCredentials(ssl_context(s))
    return None


def ssl_context(s: WorkerSettings) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    k = s.kafka
    try:
        context = create_ssl_context(
            cafile=k.ssl_cafile or None, certfile=k.ssl_certfile or None, keyfile=k.ssl_keyfile or None
        )
    except (OSError, ssl.SSLError) as exc:
        raise WorkerError(f"kafka.ssl_cafile/ssl_certfile: cannot load TLS files: {exc}") from exc
    context.check_hostname = k.ssl_check_hostname
    return context


def _password(k: KafkaSettings) -> str:
    try:
        return k.resolved_password()
    except ConfigError as exc:
        raise WorkerError(str(exc)) from exc
