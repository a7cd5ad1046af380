"""Every exception the ``shipper`` package raises on purpose lives here."""

from streams.errors import MpwatchError


class ShipperError(MpwatchError):
    """Base class of shipper errors."""


class ConfigError(ShipperError):
    """The shipper configuration (file or flags) is invalid; the message names the setting."""


class OutputError(ShipperError):
    """The output could not accept records (broker down, disk full...); delivery will be retried."""


class CheckpointError(ShipperError):
    """The checkpoint file is unreadable or of an unknown version."""
