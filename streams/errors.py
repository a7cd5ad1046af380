"""Every exception the ``streams`` package raises on purpose lives here."""


class MpwatchError(Exception):
    """Base class of all mpwatch errors; the CLI turns these into one-line messages."""


class ParseError(MpwatchError):
    """Input bytes could not be turned into records (only raised for unusable input, never per line)."""


class UnknownFormatError(ParseError):
    """A format name was requested that no parser implements."""


class InputError(MpwatchError):
    """A path, archive or option given on the command line cannot be used."""


class WireFormatError(MpwatchError):
    """A message is not a shipped batch (not JSON, or missing / mistyped fields)."""


class WireVersionError(WireFormatError):
    """A shipped batch has a major wire version this consumer does not read."""


class WorkerError(MpwatchError):
    """A Faust worker cannot start as configured (settings, topics the broker refuses, ...)."""


class ApiError(MpwatchError):
    """A read-side request that cannot be answered: carries the HTTP status and a JSON-ready body."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, object] = {"error": message, **extra}


class ProbeError(InputError):
    """A probe target, check or TLS setting cannot be used (``mpwatch probe``, the probe loops)."""
