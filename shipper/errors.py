"""Every exception the ``shipper`` package raises on purpose lives here."""

from streams.errors import MpwatchError


class ShipperError(MpwatchError):
    """Base class of shipper errors."""


class ConfigError(ShipperError):
    """The shipper configuration (file or flags) is invalid; the message names the setting."""


class OutputError(ShipperError):
    """The output could not accept records (broker down, disk full...); delivery will be retried.

    ``reason`` is a short bounded label for metrics (unreachable, timeout, unknown_topic, not_authorized,
    message_too_large, io, other); ``permanent`` marks errors that no retry can fix without an operator
    (a file output path that is a folder): ``--once`` gives up on them at once."""

    def __init__(self, message: str, *, reason: str = "other", permanent: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.permanent = permanent


class CheckpointError(ShipperError):
    """The checkpoint file is unreadable or of an unknown version."""
