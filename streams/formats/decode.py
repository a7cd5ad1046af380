"""Bytes -> physical lines, with exact byte offsets (the first stage of every format).

``LineDecoder`` is incremental: feed it chunks of any size (as a tailer reads them) and it returns only
complete lines; ``flush`` returns the partial last line at end of input. Guarantees:

* **No byte is lost.** Every input byte belongs to exactly one emitted ``Line``: ``Line.offset`` is the
  file offset of the line's first byte and ``Line.size`` counts its bytes including the terminator, so
  the sizes of all lines add up to the number of bytes fed (after ``flush``).
* **Byte order mark.** With ``encoding=None`` and ``start_offset == 0`` the first bytes are sniffed: a
  UTF-8 / UTF-16LE / UTF-16BE BOM selects the encoding; without a BOM, NUL bytes at odd (even) positions
  select UTF-16LE (BE), anything else is UTF-8. A BOM is not part of any line's text, but it is counted
  in the *first* line: that line has ``offset == 0`` and its ``size`` includes the BOM, so seeking to any
  ``Line.offset`` and feeding from there (with ``encoding=decoder.encoding``) resumes exactly.
* **Line terminators.** CRLF, LF and a lone CR all end a line, mixed freely in one file. A CR that is the
  last byte of a chunk is held until the next chunk shows whether an LF follows.
* **Undecodable text.** In UTF-8 input a line that is not valid UTF-8 is decoded as cp1252, per line; the
  five bytes cp1252 leaves undefined map to the code points of the same value (as latin-1 does), so the
  text is a reversible image of the bytes. Broken UTF-16 code units become U+FFFD (sizes stay exact).
* **Encoding switches.** A block of another encoding appended to a file (UTF-16 written after UTF-8, as
  a tool that logs "Unicode" may do, or the reverse) is detected at the first line start where the bytes
  clearly change form: in UTF-8, a UTF-16 byte order mark or the NUL pattern of UTF-16 text; in UTF-16, a
  NUL-free run up to a bare one-byte LF. From there the decoder continues in the new encoding (offsets
  stay exact; ``encoding`` tells the current one, so a checkpoint resumes in it), and every switch is
  kept in ``switches`` (offset, from, to) for the caller to count and report. A NUL run (a file padded
  after a crash) is not a switch.
* **Bounded memory.** A line longer than ``max_line_bytes`` is cut: its first ``max_line_bytes`` bytes
  are kept, the rest of that line is counted and discarded as it arrives (never buffered), and the line
  is emitted with ``truncated=True`` once its terminator (or ``flush``) comes. Its ``size`` still counts
  every byte of the line, so offsets stay exact.

``feed_blocks`` is ``feed`` for the shipper's hot path: a run of lines that the fast path decodes at once
(fixed-width text, one kind of terminator, no line near ``max_line_bytes``, no byte order mark owed)
comes out as one ``Block`` (the decoded text with its terminators, no object per line) instead of a
``Line`` each; everything else comes out as ``Line`` objects, exactly as ``feed`` gives them.
``Block.lines()`` of such a block equals what ``feed`` would have returned for those bytes.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from typing import cast

from streams.errors import ParseError
from streams.formats.record import Block, Line

UTF8 = "utf-8"
UTF16LE = "utf-16-le"
UTF16BE = "utf-16-be"

_BOMS = ((codecs.BOM_UTF8, UTF8), (codecs.BOM_UTF16_LE, UTF16LE), (codecs.BOM_UTF16_BE, UTF16BE))
_EOL = re.compile(r"(\r\n|\r|\n)")
_EOL_B = re.compile(rb"(\r\n|\r|\n)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_EOL_BYTES = bytes(b for b in range(256) if b not in b"\r\n")  # translate: keep CR and LF only
_SNIFF_BYTES = 4  # enough for every BOM and a first NUL-pattern guess
_SNIFF_SAMPLE = 64


def _cp1252_table() -> dict[int, str]:
    # 0x81 0x8D 0x8F 0x90 0x9D are undefined in cp1252: they keep latin-1's U+0081... (reversible)
    table: dict[int, str] = {}
    for byte in range(0x80, 0xA0):
        with contextlib.suppress(UnicodeDecodeError):
            table[byte] = bytes([byte]).decode("cp1252")
    return table


_CP1252 = _cp1252_table()


def decode_cp1252(data: bytes) -> str:
    """cp1252 without holes: every byte maps to one distinct code point (undefined bytes as latin-1)."""
    return data.decode("latin-1").translate(_CP1252)


def decode_utf8_line(data: bytes) -> str:
    """UTF-8 if the bytes are valid UTF-8, else the lossless cp1252 reading of them."""
    try:
        return data.decode(UTF8)
    except UnicodeDecodeError:
        return decode_cp1252(data)


def _normalize(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ParseError(f"unknown encoding {encoding!r}") from exc
    if name in ("utf-8", "utf-8-sig"):
        return UTF8
    if name in ("utf-16-le", "utf-16-be"):
        return name
    if name == "utf-16":
        return "utf-16"  # BOM decides at offset 0, little-endian otherwise
    if name.startswith("utf-32") or name.startswith("utf_32"):
        raise ParseError(f"unsupported encoding {encoding!r} (UTF-32)")
    return name


def _has_bom(head: bytes) -> bool:
    return any(head.startswith(bom) for bom, _ in _BOMS)


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """Guess the encoding from a file's first bytes; returns (encoding, BOM length)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    return _guess_from_nuls(head), 0


def _guess_from_nuls(head: bytes) -> str:
    if b"\x00" not in head[:_SNIFF_BYTES]:
        # UTF-16 text starts with NULs in its first code units; deciding on the first bytes alone keeps a
        # streamed file (decided as soon as 4 bytes arrived) and a one-shot read in agreement
        return UTF8
    sample = head[: _SNIFF_SAMPLE - (min(len(head), _SNIFF_SAMPLE) % 2)]
    units = len(sample) // 2
    if units == 0:
        return UTF8
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    if odd * 4 >= units and even * 8 <= odd:
        return UTF16LE
    if even * 4 >= units and odd * 8 <= even:
        return UTF16BE
    return UTF8


_LF_BARE_LE = re.compile(rb"\n(?:[^\x00]|\Z)")
_LF_BARE_BE = re.compile(rb"[^\x00]\n")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _plain_utf8(line: bytes) -> bool:
    """Valid UTF-8 with no control bytes but tab/CR/LF: what a UTF-8 log line is and what UTF-16 text
    (whose ASCII has NULs, and whose CJK units give invalid or control bytes) almost never is."""
    if _CONTROL.search(line):
        return False
    try:
        line.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_line(line: bytes) -> str | None:
    """The UTF-16 form a line read as UTF-8 is really in (a BOM, or a NUL in every other byte), or None.
    A NUL or two (padding, a stray byte) are not enough."""
    if line.startswith(codecs.BOM_UTF16_LE):
        return UTF16LE
    if line.startswith(codecs.BOM_UTF16_BE):
        return UTF16BE
    units = len(line) // 2
    if units < 4:
        return None
    even = line[0 : 2 * units : 2].count(0)
    odd = line[1 : 2 * units : 2].count(0)
    if odd * 2 >= units and even * 8 <= odd:
        return UTF16LE
    if even * 2 >= units and odd * 8 <= even:
        return UTF16BE
    return None


class LineDecoder:
    """Incremental bytes -> ``Line`` decoder for one file (see the module docstring for guarantees)."""

    def __init__(
        self,
        *,
        encoding: str | None = None,
        start_offset: int = 0,
        start_line: int = 1,
        max_line_bytes: int = 1 << 20,
    ) -> None:
        if max_line_bytes < 4:
            raise ParseError("max_line_bytes must be at least 4")
        self._encoding: str | None = None
        self._requested = _normalize(encoding) if encoding else None
        self._at_start = start_offset == 0
        self._offset = start_offset  # file offset where the next emitted line starts
        self._number = start_line
        self._max = max_line_bytes
        self._buf = b""  # undecided bytes: a partial line (or, while skipping, at most a CR / odd byte)
        self._extra = 0  # BOM bytes owed to the next emitted line
        self._skipping = False
        self._head = b""  # kept start of an over-long line
        self._skipped = 0  # bytes of that line counted and discarded so far
        self._unit = 1
        self._lf = b"\n"
        self._cr = b"\r"
        self.switches: list[tuple[int, str, str]] = []  # (file offset, old encoding, new encoding)
        self._blocks = False  # inside feed_blocks: uniform runs become Block items
        if self._requested and self._requested != "utf-16" and not self._at_start:
            self._set_encoding(self._requested)

    # ------------------------------------------------------------------ public API
    @property
    def encoding(self) -> str | None:
        """The encoding in use ('utf-8', 'utf-16-le', 'utf-16-be', ...); None until the first bytes came."""
        return self._encoding

    @property
    def initial_encoding(self) -> str | None:
        """The encoding the file starts in (``encoding`` is the one in use now, after any switch)."""
        return self.switches[0][1] if self.switches else self._encoding

    @property
    def pending_bytes(self) -> int:
        """Bytes held in memory, not yet emitted in a line (partial line, BOM, kept head of a long line)."""
        return len(self._buf) + self._extra + len(self._head)

    @property
    def offset(self) -> int:
        """File offset where the next emitted line will start: the place to resume reading after a restart."""
        return self._offset

    @property
    def line_number(self) -> int:
        """Number the next emitted line will get."""
        return self._number

    def feed_blocks(self, data: bytes) -> list[Line | Block]:
        """``feed``, with runs of fast-path lines given as one ``Block`` each (see the module docstring)."""
        self._blocks = True
        try:
            return cast("list[Line | Block]", self.feed(data))
        finally:
            self._blocks = False

    def feed(self, data: bytes) -> list[Line]:
        """Consume a chunk; return the lines it completed (in file order)."""
        out: list[Line] = []
        if not data:
            return out
        if self._encoding is None:
            self._buf += data
            if len(self._buf) < _SNIFF_BYTES:
                return out
            # NULs without a BOM hint at UTF-16: decide on as much as a one-shot read would see
            if len(self._buf) < _SNIFF_SAMPLE and b"\x00" in self._buf and not _has_bom(self._buf):
                return out
            data = self._decide_encoding()
        elif self._buf:
            data = self._buf + data
            self._buf = b""
        if self._skipping:
            rest = self._skip(data, out, final=False)
            if rest is None:
                return out
            data = rest
        self._split(data, out, final=False)
        return out

    def take_cr_line(self) -> list[Line]:
        """The held last line when it ends with a bare CR: normally kept in case an LF follows (a CR-LF
        cut between two reads), but complete for a reader that will not wait (``ship --once``, which
        ships what ``parse`` would). Anything else held (a line with no terminator) stays held."""
        if self._encoding is None or self._skipping or not self._buf.endswith(self._cr):
            return []
        data, self._buf = self._buf, b""
        out: list[Line] = []
        self._split(data, out, final=True)
        return out

    def flush(self) -> list[Line]:
        """End of input: emit everything held, including a last line without terminator."""
        out: list[Line] = []
        if self._encoding is None:
            if not self._buf:
                return out
            data = self._decide_encoding()
        else:
            data = self._buf
            self._buf = b""
        if self._skipping:
            rest = self._skip(data, out, final=True)
            data = rest or b""
        self._split(data, out, final=True)
        if self._extra:  # a file holding nothing but a BOM still accounts for it
            out.append(Line("", self._offset, self._extra, self._number))
            self._offset += self._extra
            self._number += 1
            self._extra = 0
        return out

    # ------------------------------------------------------------------ encoding
    def _decide_encoding(self) -> bytes:
        data = self._buf
        self._buf = b""
        requested = self._requested
        if requested is None or requested == "utf-16":
            if self._at_start:
                name, bom = sniff_encoding(data)
            else:
                name, bom = _guess_from_nuls(data), 0
            if requested == "utf-16" and name not in (UTF16LE, UTF16BE):
                name, bom = UTF16LE, 0
        else:
            name, bom = requested, 0
            if self._at_start:
                for mark, mark_name in _BOMS:
                    if mark_name == requested and data.startswith(mark):
                        bom = len(mark)
        self._set_encoding(name)
        self._extra = bom
        return data[bom:]

    def _set_encoding(self, name: str) -> None:
        self._encoding = name
        if name == UTF16LE:
            self._unit, self._lf, self._cr = 2, b"\n\x00", b"\r\x00"
        elif name == UTF16BE:
            self._unit, self._lf, self._cr = 2, b"\x00\n", b"\x00\r"
        else:
            self._unit, self._lf, self._cr = 1, b"\n", b"\r"

    # ------------------------------------------------------------------ terminators
    def _rfind(self, data: bytes, pat: bytes, end: int) -> int:
        pos = data.rfind(pat, 0, end)
        if self._unit == 2:
            while pos > 0 and pos % 2:
                pos = data.rfind(pat, 0, pos + 1)
        return pos

    def _find(self, data: bytes, pat: bytes) -> int:
        pos = data.find(pat)
        if self._unit == 2:
            while pos >= 0 and pos % 2:
                pos = data.find(pat, pos + 1)
        return pos

    def _complete_end(self, data: bytes, final: bool) -> int:
        """Index just past the last complete line terminator in ``data`` (0 if none)."""
        end = len(data)
        lf = self._rfind(data, self._lf, end)
        cr = self._rfind(data, self._cr, end)
        last = max(lf, cr)
        if last < 0:
            return 0
        if last == cr and last + self._unit == end - end % self._unit and not final:
            # a CR as the last whole unit: an LF may follow in the next chunk, so that line waits
            last = max(self._rfind(data, self._lf, last), self._rfind(data, self._cr, last))
            if last < 0:
                return 0
        return last + self._unit

    # ------------------------------------------------------------------ encoding switches
    def _switch_point(self, data: bytes, final: bool) -> tuple[int, str] | None:
        """Where (at a line start in ``data``) another encoding takes over, and which; None if nowhere.
        Each line is judged on its own bytes once its terminator is there (and, from UTF-16, the byte
        after it), so the answer is the same however the file is cut into chunks. Cheap when nothing
        changes: C-level scans for a NUL or a BOM (UTF-8), or for a bare one-byte LF (UTF-16)."""
        if self._encoding == UTF8:
            if data.isascii():  # both byte order marks have bytes >= 0x80: only a NUL can start UTF-16
                found = [i for i in (data.find(b"\x00"),) if i >= 0]
            else:
                found = [
                    i
                    for i in (
                        data.find(b"\x00"),
                        data.find(codecs.BOM_UTF16_LE),
                        data.find(codecs.BOM_UTF16_BE),
                    )
                    if i >= 0
                ]
            if not found:
                return None
            first = min(found)
            start = max(data.rfind(b"\n", 0, first), data.rfind(b"\r", 0, first)) + 1  # that line's start
            while True:
                end = _EOL_B.search(data, start)
                if end is None:
                    return None  # the line is not complete yet: judged when it is
                name = _utf16_line(data[start : end.start()])
                if name is not None:
                    return start, name
                start = end.end()
        if self._unit == 2:
            # UTF-16 text has a NUL beside every LF of ASCII text; UTF-8 text has none: an LF with a
            # non-NUL after it (LE) or before it (BE) marks where to look
            hit = (_LF_BARE_LE if self._encoding == UTF16LE else _LF_BARE_BE).search(data)
            if hit is None:
                return None
            start = self._line_start(data, hit.start())
            while start < len(data):
                line_end = data.find(b"\n", start)
                if line_end < 0:
                    return None
                if line_end + 1 == len(data) and not final:
                    return None  # the byte after this LF decides: wait for it
                if (
                    line_end - start >= 8
                    and (line_end + 1 == len(data) or data[line_end + 1] != 0)
                    and _plain_utf8(data[start : line_end + 1])
                ):
                    return start, UTF8  # a NUL-free line ended by a one-byte LF: UTF-8 (or ASCII) text
                nxt = self._find(data[start:], self._lf)
                if nxt < 0:
                    return None
                start += nxt + self._unit
            return None
        return None

    def _line_start(self, data: bytes, pos: int) -> int:
        """Start of the UTF-16 line holding byte ``pos`` (just past the previous aligned LF or CR)."""
        lf = self._rfind(data, self._lf, pos - pos % 2)
        cr = self._rfind(data, self._cr, pos - pos % 2)
        last = max(lf, cr)
        return 0 if last < 0 else last + self._unit

    def _switch(self, name: str, at: int) -> None:
        self.switches.append((at, self._encoding or "", name))
        self._set_encoding(name)

    # ------------------------------------------------------------------ splitting
    def _split(self, data: bytes, out: list[Line], final: bool) -> None:
        if not data:
            return
        found = self._switch_point(data, final) if self._encoding in (UTF8, UTF16LE, UTF16BE) else None
        if found is not None:
            at, name = found
            if at:
                self._split_one(data[:at], out, final=True)  # ends at a line start: whole lines only
            bom = 0
            for mark, mark_name in _BOMS:
                if mark_name == name and data.startswith(mark, at):
                    bom = len(mark)
            self._switch(name, self._offset)
            self._extra += bom
            self._split(data[at + bom :], out, final)
            return
        self._split_one(data, out, final)

    def _split_one(self, data: bytes, out: list[Line], final: bool) -> None:
        if not data:
            return
        end = self._complete_end(data, final)
        if end:
            self._emit_block(data[:end] if end < len(data) else data, out)
        rest = data[end:] if end else data
        if not rest:
            return
        if final:
            self._emit_one(rest, b"", out)
        elif len(rest) > self._max:
            keep = self._max - (self._max % self._unit)
            self._head = rest[:keep]
            self._skipping = True
            self._skipped = 0
            remainder = self._skip(rest[keep:], out, final=False)
            if remainder:  # cannot happen: rest holds no complete terminator
                self._buf = remainder
        else:
            self._buf = rest

    def _emit_block(self, block: bytes, out: list[Line]) -> None:
        """Emit every line of ``block``, which ends exactly after a line terminator."""
        if self._unit == 1:
            if self._encoding == UTF8:
                try:
                    text = block.decode(UTF8)
                except UnicodeDecodeError:
                    self._emit_bytewise(block, out)
                    return
                same_width = len(text) == len(block)  # pure ASCII: characters == bytes
            else:
                self._emit_bytewise(block, out)
                return
        else:
            text = block.decode(self._encoding or UTF16LE, "surrogatepass")
            same_width = len(block) == 2 * len(text) and _SURROGATE.search(text) is None
        if self._unit == 1 and same_width:
            # ASCII: the terminator bytes alone, in one pass, tell the kind and the count
            ends = block.translate(None, _NOT_EOL_BYTES)
            n_cr = ends.count(b"\r") if b"\r" in ends else 0
            n_lf = len(ends) - n_cr
            # with both kinds, CR-LF pairs only: the terminator bytes alone cannot tell "\ra\n" from
            # "\r\n" (the translate dropped the "a"), the block itself can
            uniform = n_cr == 0 or n_lf == 0 or (n_cr == n_lf and block.count(b"\r\n") == n_cr)
        else:
            n_lf = text.count("\n")
            n_cr = text.count("\r")
            uniform = n_cr == 0 or n_lf == 0 or text.count("\r\n") == n_cr == n_lf
        if uniform:
            eol = "\n" if n_cr == 0 else ("\r" if n_lf == 0 else "\r\n")
            if same_width and self._blocks and not self._extra and len(block) <= self._max:
                # no line can be over the limit: the whole block at once, no object per line
                count = n_cr if n_lf == 0 else n_lf
                run = Block(text, self._offset, self._number, count, eol, self._unit)
                cast("list[Line | Block]", out).append(run)
                self._offset += len(block)
                self._number += count
                return
            parts = text.split(eol)
            parts.pop()  # block ends with a terminator: the last part is empty
            if same_width:
                self._emit_uniform(parts, len(eol) * self._unit, out)
                return
            pieces = []
            for part in parts:
                pieces.append(part)
                pieces.append(eol)
        else:
            pieces = _EOL.split(text)
            pieces.pop()
        self._emit_pieces(pieces, same_width, out)

    def _emit_uniform(self, parts: list[str], eol_size: int, out: list[Line]) -> None:
        """Fast path: fixed-width text (ASCII or plain UTF-16) with one kind of terminator."""
        offset = self._offset
        number = self._number
        unit = self._unit
        limit = self._max
        append = out.append
        if self._extra:
            first = parts[0]
            size = len(first) * unit + eol_size + self._extra
            self._extra = 0
            append(self._make(first, offset, size, number, len(first) * unit > limit))
            offset += size
            number += 1
            parts = parts[1:]
        for part in parts:
            size = len(part) * unit + eol_size
            if len(part) * unit > limit:
                append(self._make(part, offset, size, number, True))
            else:
                append(Line(part, offset, size, number))
            offset += size
            number += 1
        self._offset = offset
        self._number = number

    def _emit_pieces(self, pieces: list[str], same_width: bool, out: list[Line]) -> None:
        """General path: alternating [text, terminator, text, terminator, ...]."""
        encoding = self._encoding or UTF8
        for i in range(0, len(pieces), 2):
            part = pieces[i]
            eol_size = len(pieces[i + 1]) * self._unit
            if same_width:
                body = len(part) * self._unit
            else:
                body = len(part.encode(encoding, "surrogatepass"))
                if self._unit == 2 and _SURROGATE.search(part):
                    part = part.encode(encoding, "surrogatepass").decode(encoding, "replace")
            self._push(part, body, eol_size, out)

    def _emit_bytewise(self, block: bytes, out: list[Line]) -> None:
        """Per-line decoding (invalid UTF-8 somewhere in the block, or a single-byte codec)."""
        pieces = _EOL_B.split(block)
        pieces.pop()
        for i in range(0, len(pieces), 2):
            raw = pieces[i]
            self._push(self._decode_bytes(raw), len(raw), len(pieces[i + 1]), out)

    def _emit_one(self, raw: bytes, eol: bytes, out: list[Line]) -> None:
        """Emit a single line given as bytes (the unterminated last line at flush)."""
        if self._unit == 2:
            text = raw.decode(self._encoding or UTF16LE, "replace")
        else:
            text = self._decode_bytes(raw)
        self._push(text, len(raw), len(eol), out)

    def _push(self, text: str, body: int, eol_size: int, out: list[Line]) -> None:
        size = body + eol_size + self._extra
        self._extra = 0
        if body > self._max:
            out.append(self._make(text, self._offset, size, self._number, True))
        else:
            out.append(Line(text, self._offset, size, self._number))
        self._offset += size
        self._number += 1

    def _make(self, text: str, offset: int, size: int, number: int, truncated: bool) -> Line:
        if truncated:
            text = self._cut(text)
        return Line(text, offset, size, number, truncated)

    def _cut(self, text: str) -> str:
        """The longest prefix of ``text`` whose encoded form fits in ``max_line_bytes``."""
        encoding = self._encoding or UTF8
        if self._unit == 2:
            return text[: self._max // 2]
        if encoding != UTF8:
            return text[: self._max]
        return text.encode(UTF8, "surrogatepass")[: self._max].decode(UTF8, "ignore")

    def _decode_bytes(self, raw: bytes) -> str:
        encoding = self._encoding or UTF8
        if encoding == UTF8:
            return decode_utf8_line(raw)
        if encoding == "cp1252":
            return decode_cp1252(raw)
        return raw.decode(encoding, "replace")

    # ------------------------------------------------------------------ over-long lines
    def _skip(self, data: bytes, out: list[Line], final: bool) -> bytes | None:
        """Discard the tail of an over-long line; return what follows its terminator, or None."""
        unit = self._unit
        lf = self._find(data, self._lf)
        cr = self._find(data, self._cr)
        hits = [p for p in (lf, cr) if p >= 0]
        if not hits:
            if final:
                self._skipped += len(data)
                self._finish_long(0, out)
                return None
            keep = len(data) % unit  # an odd UTF-16 byte waits for its partner
            self._skipped += len(data) - keep
            self._buf = data[len(data) - keep :]
            return None
        pos = min(hits)
        if pos == cr:
            if pos + unit == len(data) - len(data) % unit and not final:
                self._skipped += pos
                self._buf = data[pos:]
                return None
            eol = 2 * unit if data[pos + unit : pos + 2 * unit] == self._lf else unit
        else:
            eol = unit
        self._skipped += pos
        self._finish_long(eol, out)
        return data[pos + eol :]

    def _finish_long(self, eol_size: int, out: list[Line]) -> None:
        head = self._head
        if self._unit == 2:
            text = head.decode(self._encoding or UTF16LE, "replace")
        elif self._encoding == UTF8:
            try:
                text = head.decode(UTF8)
            except UnicodeDecodeError as exc:
                if exc.start >= len(head) - 3 and exc.end == len(head):
                    text = decode_utf8_line(head[: exc.start])  # a character cut in half at the limit
                else:
                    text = decode_cp1252(head)
        else:
            text = self._decode_bytes(head)
        size = self._extra + len(head) + self._skipped + eol_size
        self._extra = 0
        out.append(Line(text, self._offset, size, self._number, True))
        self._offset += size
        self._number += 1
        self._head = b""
        self._skipped = 0
        self._skipping = False
