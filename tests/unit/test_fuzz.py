"""Fuzzing harness: every parser, the decoder, the wire codec, the loader and the whole offline run
are fed generated hostile input and must never raise, hang or lose bytes.

Inputs are built from log-like pieces (real trailers, CMTrace tags, MSI and IIS lines, BOMs, CR/LF,
NUL bytes, escape sequences, cut UTF-16) mixed with random bytes. ``make test`` runs a short round
(``MPWATCH_FUZZ_EXAMPLES``, default 150 per target); ``make fuzz`` runs 5,000 per target and prints
hypothesis' statistics (how many inputs ran).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.errors import InputError, WireFormatError
from streams.formats.api import StreamParser, make_parser, parse_bytes
from streams.formats.decode import LineDecoder
from streams.formats.record import FORMATS
from streams.loader import discover
from streams.offline import run
from streams.wire import decode

EXAMPLES = int(os.environ.get("MPWATCH_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

PIECES = [
    b"Installing component SMS_MP_CONTROL_MANAGER  $$<SMS_SITE_COMPONENT_MANAGER>"
    b"<12-06-2004 13:21:35.693+480><thread=1700 (0x6A4)>",
    b'STATMSG: ID=1013 SEV=I LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" SYS=MGTPOINT1 ',
    b'<![LOG[Failed to connect]LOG]!><time="13:21:35.693+480" date="12-06-2004" component="ccmsetup" '
    b'context="" type="3" thread="1700" file="x.cpp:1">',
    b"MSI (s) (A0:18) [13:21:35:693]: Product: SMS Management Point -- Installation failed.",
    b"=== Verbose logging started: 12/6/2004  13:21:35  Build type: SHIP UNICODE 3.01.4000.1823 ===",
    b"MainEngineThread is returning 1603",
    b"<12-06-2004 13:21:35> Installing C:\\SMS\\bin\\i386\\mp.msi",
    b"#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status",
    b"2004-12-06 13:21:35 GET /SMS_MP/.sms_aut MPLIST 401",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"~",
    b"$$<",
    b"<![LOG[",
    b"\x1b]0;owned\x07",
    b"\x1b[2J",
    b"\xe9\x80",
    "é€".encode("utf-16-le"),
    b"\t",
    b"    ",
]
chunks = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=40)), max_size=60).map(b"".join)


@FUZZ
@given(data=chunks, fmt=st.sampled_from(FORMATS), cuts=st.lists(st.integers(1, 64), max_size=8))
def test_every_parser_survives_and_accounts_for_every_byte(data: bytes, fmt: str, cuts: list[int]) -> None:
    decoder = LineDecoder()
    parser = make_parser(fmt, "fuzz.log")
    lines = []
    rest = data
    for cut in cuts:
        lines += decoder.feed(rest[:cut])
        rest = rest[cut:]
    lines += decoder.feed(rest) + decoder.flush()
    assert sum(line.size for line in lines) == len(data)  # the decoder loses no byte
    records = parser.feed_lines(lines) + parser.flush()
    framed = make_parser(fmt, "fuzz.log").frame_lines(lines)
    assert all(r.offset + r.size <= len(data) for r in records)
    assert len(framed) <= len(lines) + 1


@FUZZ
@given(data=chunks)
def test_detection_and_stream_parsing_survive_any_chunking(data: bytes) -> None:
    """Fed whole or in 7-byte slices, the same records come out (detection included)."""
    whole = [(r.offset, r.size, r.format) for r in parse_bytes(data, "fuzz.log")]
    parser = StreamParser("fuzz.log")
    records = []
    for start in range(0, len(data), 7):
        records += parser.feed(data[start : start + 7])
    records += parser.flush()
    assert [(r.offset, r.size, r.format) for r in records] == whole


@FUZZ
@given(
    data=st.one_of(
        chunks, st.binary(max_size=200), st.sampled_from([b'{"v":"1.0"}', b'{"v":"1.0","h":[],"r":{}}'])
    )
)
def test_the_wire_decoder_rejects_garbage_with_its_own_error(data: bytes) -> None:
    with contextlib.suppress(WireFormatError):  # anything else escaping is a bug
        decode(data)


@FUZZ
@given(
    members=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(
                    ["H/SMS/Logs/sitecomp.log", "..\\x.log", "/abs.log", "C:\\w\\mpsetup.log", "a/../b.log"]
                ),
                st.text(alphabet="ab/\\.:_-Hlog", min_size=1, max_size=20),
            ),
            chunks,
        ),
        max_size=8,
    )
)
def test_the_loader_and_the_offline_run_survive_hostile_zips(
    tmp_path_factory: pytest.TempPathFactory, members
) -> None:
    folder = tmp_path_factory.mktemp("zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names are part of the hostility
        for name, data in members:
            archive.writestr(name, data)
    path = Path(folder) / "collected.zip"
    path.write_bytes(buffer.getvalue())
    try:
        sources = discover([str(path)], notes=[])
    except InputError:
        return
    result = run(sources)
    assert isinstance(result.view["servers"], list)
