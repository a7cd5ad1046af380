"""Shipper settings: one dataclass tree, loaded from TOML, overridden by command-line flags.

The TOML file mirrors the dataclasses: top-level keys (``paths``, ``host``, ``output``, ``state_dir``,
``metrics_port``, ``metrics_host``) and one table per group (``[tail]``, ``[batch]``, ``[retry]``,
``[kafka]``). Unknown keys and wrong types are errors that name the setting, so a typo never silently
falls back to a default. Flags win over the file; the file wins over the defaults.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import socket
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipper.errors import ConfigError
from streams.errors import ParseError
from streams.formats import FORMATS, LineDecoder

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
COMPRESSIONS = ("lz4", "zstd", "gzip", "snappy", "none")
WIRE_VERSIONS = ("2.0", "1.0")

#: The log folders of a Windows site system, as their products install them by default. A folder stands
#: for its ``*.log`` / ``*.lo_`` files and its ``W3SVC*`` IIS logs (``shipper.paths``). The Windows service
#: installer (deploy/windows/install.ps1) writes these into the shipper's config; a test keeps both equal.
WINDOWS_LOG_FOLDERS: tuple[str, ...] = (
    r"C:\SMS\Logs",  # SMS 2003 site server and MP: SiteComp, MPSetup, MPMSI, MPControl (<drive>:\SMS)
    r"C:\Program Files\Microsoft Configuration Manager\Logs",  # ConfigMgr site server
    r"C:\Program Files\SMS_CCM\Logs",  # ConfigMgr management point: MP_*.log
    r"C:\inetpub\logs\LogFiles",  # IIS 7 and later: W3SVC1\u_exYYMMDD.log
    r"C:\WINDOWS\system32\LogFiles",  # IIS 6 (Windows Server 2003, the SMS 2003 era): W3SVC1\exYYMMDD.log
)
#: where the Windows service keeps its config, checkpoints and log (under %ProgramData%)
WINDOWS_DATA_DIR = r"C:\ProgramData\mpwatch"


#: ``tail.notify``: auto = inotify on the loop on Linux, a watchdog observer elsewhere (shipper.watcher)
NOTIFY_BACKENDS = ("auto", "inotify", "watchdog", "off")


@dataclass(slots=True)
class TailSettings:
    """How files are found and read."""

    max_line_bytes: int = 1 << 20
    read_chunk_bytes: int = 64 * 1024
    multiline_idle_s: float = 5.0  # a held multi-line record is flushed after this long without growth
    rotate_wait_s: float = 5.0  # a rotated or deleted file is closed this long after its last growth
    close_inactive_s: float = 300.0  # an unchanged file's handle is closed (reopened on change)
    identify_wait_s: float = 2.0  # a file too short to fingerprint is identified after this idle time
    rescan_interval_s: float = 10.0  # full glob + stat safety net besides change notifications
    max_open_files: int = 0  # descriptors held at most; 0 = half the soft RLIMIT_NOFILE (<= 4096)
    exclude: list[str] = field(default_factory=list)
    encoding: str = ""  # "" = sniff (BOM / NUL pattern)
    format: str = "auto"  # a parser name, or "auto" = detect per file
    notify: str = "auto"  # change notifications: auto, inotify, watchdog, off (rescans only)


@dataclass(slots=True)
class BatchSettings:
    """Bounds of one in-flight batch: this is the shipper's whole read-ahead (backpressure)."""

    max_records: int = 10_000  # per batch: fewer checkpoint writes and producer requests per record
    max_bytes: int = 8 << 20


@dataclass(slots=True)
class RetrySettings:
    """Exponential backoff (with jitter) while the output refuses a batch."""

    initial_s: float = 0.5
    max_s: float = 30.0
    shutdown_timeout_s: float = 10.0  # on SIGTERM, how long to keep retrying what was already read
    slow_send_s: float = 5.0  # a batch unconfirmed this long already counts as an outage (metrics, log)
    once_timeout_s: float = 60.0  # --once: give up (exit 1) when a batch stays unconfirmed this long


@dataclass(slots=True)
class KafkaSettings:
    """Producer settings for ``kafka://`` outputs (acks=all and idempotence are not optional)."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = ""
    password_file: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    ssl_check_hostname: bool = True
    compression: str = "lz4"
    #: LZ4 level: 0-2 the fast compressor (the LZ4 default, and what librdkafka and the Java client use
    #: by default), 3-12 LZ4 HC (aiokafka alone would use HC level 9: ten times the CPU for ~10% less)
    lz4_level: int = 0
    linger_ms: int = 20
    max_batch_size: int = 1_000_000  # under the broker's default message.max.bytes (1048588)
    request_timeout_ms: int = 30000
    client_id: str = "mpwatch-shipper"

    def resolved_password(self) -> str:
        """The password, read from ``password_file`` when one is given (first line, stripped)."""
        if not self.password_file:
            return self.password
        try:
            with open(self.password_file, encoding="utf-8") as handle:
                return handle.readline().strip()
        except OSError as exc:
            raise ConfigError(f"kafka.password_file: cannot read {self.password_file}: {exc}") from exc


@dataclass(slots=True)
class ShipperConfig:
    """Everything ``mpwatch ship`` needs."""

    paths: list[str] = field(default_factory=list)
    host: str = ""
    output: str = ""
    state_dir: str = "mpwatch-state"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    once: bool = False
    #: least seconds between two checkpoint writes (0: after every confirmed batch). A crash then
    #: repeats at most this much more; ``mpwatch run`` uses 1 s (200 folders x fsync per line otherwise)
    checkpoint_interval_s: float = 0.0
    #: wire format version written (``streams.wire``): "2.0" (record blocks) or "1.0" (rows only, for
    #: workers not yet upgraded: a 1.x worker skips 2.0 messages)
    wire_version: str = "2.0"
    tail: TailSettings = field(default_factory=TailSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)


def default_host() -> str:
    """The short host name, upper-case (how SMS names site systems)."""
    return socket.gethostname().split(".")[0].upper() or "UNKNOWN"


def config_text(raw: bytes, path: str) -> str:
    """The config file's text: UTF-8 (with or without the BOM Notepad writes) or UTF-16 with a BOM
    (Notepad's "Unicode"); anything else is refused with what to do."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path}: damaged UTF-16 text ({exc.reason})") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from exc


def load_config(path: str | None = None, overrides: dict[str, Any] | None = None) -> ShipperConfig:
    """Defaults <- TOML file (if any) <- ``overrides`` (flags; None values are ignored), then validate."""
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        try:
            data = tomllib.loads(config_text(raw, path))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    for key, value in (overrides or {}).items():
        if value is None or value == []:
            continue
        target = data
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    config = _build(ShipperConfig, data, "")
    if not config.host:
        config.host = default_host()
    validate(config)
    return config


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown setting")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{prefix}{name}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type, hint), value, f"{name}.")
    if isinstance(hint, types.UnionType):  # "X | None"
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
        return list(value)
    if hint not in _SCALARS:
        raise ConfigError(f"{name}: unsupported setting type")  # pragma: no cover - a programming error
    accepts, expected = _SCALARS[hint]
    if not accepts(value):
        raise ConfigError(f"{name}: expected {expected}, got {value!r}")
    return float(value) if hint is float else value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)  # TOML booleans are not numbers


#: scalar setting type -> (does a TOML value fit it, what the error message says was expected)
_SCALARS: dict[Any, tuple[Callable[[Any], bool], str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: _number(v) and isinstance(v, int), "an integer"),
    float: (_number, "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
}


def validate(config: ShipperConfig) -> None:
    """Reject settings that cannot work, naming the setting and the rule it breaks."""
    if not config.paths:
        raise ConfigError("paths: no log paths given (use --path GLOB or 'paths' in the config file)")
    if not config.output:
        raise ConfigError("output: no output given (use --output URL or 'output' in the config file)")
    if not config.output.startswith(("kafka://", "file://")):
        raise ConfigError(f"output: {config.output!r} is not a kafka://HOST:PORT/TOPIC or file:///PATH URL")
    if config.metrics_port is not None and not 0 <= config.metrics_port <= 65535:
        raise ConfigError(f"metrics_port: {config.metrics_port} is not a TCP port (0-65535)")
    if not config.state_dir:
        raise ConfigError("state_dir: must not be empty")
    _at_least("checkpoint_interval_s", config.checkpoint_interval_s, 0)
    _choice("wire_version", config.wire_version, WIRE_VERSIONS)
    tail, batch, retry, kafka = config.tail, config.batch, config.retry, config.kafka
    _at_least("tail.max_line_bytes", tail.max_line_bytes, 64)
    _at_least("tail.read_chunk_bytes", tail.read_chunk_bytes, 512)
    for name in ("multiline_idle_s", "rotate_wait_s", "close_inactive_s", "identify_wait_s"):
        _at_least(f"tail.{name}", getattr(tail, name), 0)
    _at_least("tail.max_open_files", tail.max_open_files, 0)  # 0 = automatic
    _above_zero("tail.rescan_interval_s", tail.rescan_interval_s)
    _choice("tail.format", tail.format, ("auto", *FORMATS))
    _choice("tail.notify", tail.notify, NOTIFY_BACKENDS)
    if tail.encoding:
        try:
            LineDecoder(encoding=tail.encoding)  # the tailer's own check, made up front
        except ParseError as exc:
            raise ConfigError(f"tail.encoding: {exc}") from exc
    _at_least("batch.max_records", batch.max_records, 1)
    _at_least("batch.max_bytes", batch.max_bytes, 1024)
    if retry.initial_s <= 0 or retry.max_s < retry.initial_s:
        raise ConfigError("retry: need 0 < initial_s <= max_s")
    _at_least("retry.shutdown_timeout_s", retry.shutdown_timeout_s, 0)
    _above_zero("retry.slow_send_s", retry.slow_send_s)
    _above_zero("retry.once_timeout_s", retry.once_timeout_s)
    _choice("kafka.security_protocol", kafka.security_protocol, SECURITY_PROTOCOLS)
    _choice("kafka.sasl_mechanism", kafka.sasl_mechanism, SASL_MECHANISMS)
    _choice("kafka.compression", kafka.compression, COMPRESSIONS)
    if not 0 <= kafka.lz4_level <= 12:
        raise ConfigError(f"kafka.lz4_level: must be 0-12, got {kafka.lz4_level}")
    if kafka.security_protocol.startswith("SASL") and not kafka.username:
        raise ConfigError(f"kafka.username: required with security_protocol {kafka.security_protocol}")
    if kafka.password and kafka.password_file:
        raise ConfigError("kafka.password_file: give either password or password_file, not both")
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "password_file"):
        value = getattr(kafka, name)
        if value and not os.path.isfile(value):
            raise ConfigError(f"kafka.{name}: no such file {value}")
    _at_least("kafka.max_batch_size", kafka.max_batch_size, 1024)
    _at_least("kafka.linger_ms", kafka.linger_ms, 0)
    _at_least("kafka.request_timeout_ms", kafka.request_timeout_ms, 1)


def _at_least(name: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}")


def _above_zero(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name}: must be > 0, got {value}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
