"""Log formats: decoding bytes into lines, and lines into :class:`Record` objects.

Pipeline for one file: ``LineDecoder`` (BOM sniffing, encodings, CR/LF/CRLF, byte offsets) feeds
``Line`` objects to a format ``Parser`` (SMS server trailer, STATMSG, CMTrace, MSI, MPSetup, IIS W3C),
which emits ``Record`` objects. Parsers are incremental so the shipper can frame a growing file with
the same code the offline tools use.
"""

from streams.formats.api import (
    PARSERS,
    ParseStats,
    StreamParser,
    make_parser,
    parse_bytes,
    parse_path,
)
from streams.formats.base import Parser
from streams.formats.decode import LineDecoder
from streams.formats.detect import detect_format
from streams.formats.record import FORMATS, Line, Record
from streams.formats.severity import infer_severity

__all__ = [
    "FORMATS",
    "PARSERS",
    "Line",
    "LineDecoder",
    "ParseStats",
    "Parser",
    "Record",
    "StreamParser",
    "detect_format",
    "infer_severity",
    "make_parser",
    "parse_bytes",
    "parse_path",
]
