"""The active MP probe: the seed's manual checks, asked over HTTP(S) and judged like an administrator would.

The seed verifies a management point by opening two URLs (``docs/probe.md``):

* ``http://MP/sms_mp/.sms_aut?mplist``: a **blank page** on SMS 2003, an **MP list XML** on later
  versions (``<MPList>...``); ``401.3`` means the IIS anonymous accounts are locked out (on a domain
  controller: the IWAM_/IUSR_ domain accounts and IIS_WPG), a URLScan 404 means the SMS Toolkit's
  URLScan template is missing;
* ``http://MP/sms_mp/.sms_aut?mpcert``: a **long string of hex digits** (the MP's certificate).

Two halves:

* ``judge(check, status, headers, body) -> Verdict`` and ``failed(check, reason, detail)`` are pure:
  an answer (or a transport failure: timeout, refused, TLS, name not resolved, no header) becomes a
  verdict with the event kind and variant MPControl would have logged for it (``http_verify`` with the
  status, ``http_send_failed`` with the WinInet error number: 12002 timeout, 12029 cannot connect,
  12007 name not resolved, 12175 security error), so the same rules judge probes and logs;
* ``Prober`` asks every target's checks with bounded concurrency and time-outs (aiohttp; TLS verified by
  default, ``ca`` adds a CA file, redirects are not followed, at most ``MAX_BODY`` bytes are read),
  sets ``mpwatch_probe_success`` / ``mpwatch_probe_duration_seconds`` and turns each result into
  timeline events (source host ``probe``, file ``sms_mp/.sms_aut?CHECK``, ``data.source = "probe"``).

Bodies and headers are the MP's (or anyone's) words: they are never interpreted beyond these patterns,
and what is kept as evidence is a short excerpt made visible with ``streams.sanitize``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from streams.core import kinds as K
from streams.core.events import SUB_BITS, Event, iso
from streams.core.servers import canonical_server
from streams.errors import ProbeError
from streams.metrics import ProbeMetrics
from streams.sanitize import visible

log = logging.getLogger("mpwatch.probe")

CHECKS = ("mplist", "mpcert")
PROBE_HOST = "probe"  # the source host of probe events (no log file: the probe itself)
MAX_BODY = 65536
EVIDENCE_CHARS = 160
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0  # a probe that waits longer than this is not bounded in any useful sense
DEFAULT_INTERVAL = 600.0  # MP Control Manager verifies every ~10 minutes
DEFAULT_CONCURRENCY = 8
MIN_CERT_HEX = 64

_SUBSTATUS = re.compile(r"\b(40[13])\.(\d{1,2})\b")
_HEX_RUN = re.compile(f"[0-9A-Fa-f]{{{MIN_CERT_HEX},}}")
_URLSCAN = re.compile(r"rejected-by-urlscan|urlscan", re.I)
# URLScan's fast-path rejection page (no RejectResponseUrl): IIS's own 404 pages read otherwise
_URLSCAN_PAGE = re.compile(
    r"<title>\s*Error\s*</title>.*The system cannot find the file specified", re.I | re.S
)
_TAGS = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")

#: transport failure -> the WinInet error MPControl logs for it (``Failed to send http request ... Error N``)
WININET = {"timeout": "12002", "refused": "12029", "unreachable": "12029", "dns": "12007", "tls": "12175"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one check's answer says about the MP."""

    check: str
    ok: bool
    outcome: str  # ok, unauthorized, forbidden, urlscan, not_found, server_error, unavailable, bad_answer,
    # http_error, no_header, timeout, refused, unreachable, dns, tls
    kind: str  # the event kind (K.HTTP_VERIFY / K.HTTP_SEND_FAILED)
    variant: str  # HTTP status ("200", "401", ...), "no_header", or a WinInet error number
    detail: str  # one line for people
    status: int | None = None
    substatus: int | None = None
    evidence: str = ""  # a short, sanitized excerpt of what came back


def _excerpt(body: str) -> str:
    """At most ``EVIDENCE_CHARS`` characters of a body, tags dropped, spaces collapsed, made visible."""
    text = visible(_SPACE.sub(" ", _TAGS.sub(" ", body[: EVIDENCE_CHARS * 8])).strip())
    if len(text) > EVIDENCE_CHARS:
        text = text[: EVIDENCE_CHARS - 3] + "..."
    return text


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def judge(check: str, status: int, headers: Mapping[str, str], body: bytes | str) -> Verdict:
    """Judge one HTTP answer to ``/sms_mp/.sms_aut?CHECK`` (pure; ``check`` is one of ``CHECKS``)."""
    if check not in CHECKS:
        raise ProbeError(f"unknown check {check!r} (expected one of {', '.join(CHECKS)})")
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    evidence = _excerpt(text)
    variant = str(status)

    def verdict(ok: bool, outcome: str, detail: str, substatus: int | None = None) -> Verdict:
        return Verdict(check, ok, outcome, K.HTTP_VERIFY, variant, detail, status, substatus, evidence)

    sub = _SUBSTATUS.search(text)
    substatus = int(sub.group(2)) if sub and sub.group(1) == variant else None
    if status == 200:
        stripped = text.strip()
        if check == "mplist":
            if not stripped:
                return verdict(True, "ok", "blank page: an SMS 2003 MP answers the MP list so")
            if re.match(r"(<\?xml[^>]*>\s*)?<MPList[\s>]", stripped, re.I):
                count = len(re.findall(r"<MP[\s>]", stripped, re.I))
                return verdict(True, "ok", f"MP list XML ({count} MP entr{'y' if count == 1 else 'ies'})")
            variant = "bad_answer"
            return verdict(
                False, "bad_answer", "200 but neither a blank page nor an MP list: not the MP answering"
            )
        runs = _HEX_RUN.findall(_SPACE.sub("", _TAGS.sub(" ", stripped)))  # bare, wrapped or in XML
        if runs:
            return verdict(True, "ok", f"certificate: {max(map(len, runs))} hex digits")
        variant = "bad_answer"
        return verdict(False, "bad_answer", "200 but no long hex string: not the MP's certificate")
    if status == 401:
        if substatus == 3:
            return verdict(
                False,
                "unauthorized",
                "401.3 unauthorized due to an ACL: the IIS anonymous accounts are refused "
                "(on a domain controller: IWAM_/IUSR_ logon restrictions, IWAM_ not in IIS_WPG)",
                3,
            )
        scheme = _header(headers, "www-authenticate").split(" ", 1)[0]
        how = f" (asks for {visible(scheme[:20])})" if scheme else ""
        shown = f"401.{substatus}" if substatus is not None else "401"
        return verdict(
            False, "unauthorized", f"{shown} unauthorized{how}: anonymous access to SMS_MP refused", substatus
        )
    if status == 403:
        shown = f"403.{substatus}" if substatus is not None else "403"
        why = {7: ": a client certificate is required", 16: ": the client certificate is not trusted"}
        return verdict(False, "forbidden", f"{shown} forbidden{why.get(substatus or 0, '')}", substatus)
    if status == 404:
        if _URLSCAN.search(text) or _URLSCAN_PAGE.search(text):
            return verdict(
                False,
                "urlscan",
                "404 from URLScan: the request was rejected (SMS Toolkit URLScan template missing)",
            )
        return verdict(False, "not_found", "404 not found: no SMS_MP virtual directory or .sms_aut mapping")
    if status == 500:
        return verdict(
            False, "server_error", "500 internal server error: the MP's ISAPI or application failed"
        )
    if status == 503:
        return verdict(False, "unavailable", "503 service unavailable: the MP's application pool is stopped")
    if 300 <= status < 400:
        where = _excerpt(_header(headers, "location"))[:80]
        return verdict(
            False, "bad_answer", f"{status} redirect{' to ' + where if where else ''}: not the MP answering"
        )
    return verdict(False, "http_error", f"HTTP {status}")


def failed(check: str, reason: str, detail: str = "") -> Verdict:
    """A check that got no HTTP answer: ``reason`` is timeout, refused, unreachable, dns, tls or no_header."""
    texts = {
        "timeout": "no answer in time (timed out)",
        "refused": "connection refused: nothing listens there (site stopped or on another port)",
        "unreachable": "cannot connect",
        "dns": "the name does not resolve",
        "tls": "TLS failed",
        "no_header": "the connection closed with no header received",
    }
    if reason not in texts:
        raise ProbeError(f"unknown probe failure {reason!r}")
    line = texts[reason] + (f": {visible(detail[:120])}" if detail else "")
    if reason == "no_header":
        return Verdict(check, False, reason, K.HTTP_VERIFY, "no_header", line)
    return Verdict(check, False, reason, K.HTTP_SEND_FAILED, WININET[reason], line)


@dataclass(frozen=True, slots=True)
class Target:
    """One MP to probe: the server name its events carry and the base URL to ask."""

    server: str
    base: str  # scheme://host[:port]

    def url(self, check: str) -> str:
        return f"{self.base}/sms_mp/.sms_aut?{check}"


def parse_target(text: str, https: bool = False) -> Target:
    """``[NAME=]HOST[:PORT]`` or ``[NAME=]http(s)://HOST[:PORT]``; NAME defaults to HOST."""
    name, sep, rest = text.partition("=")
    if not sep:
        name, rest = "", text
    elif not name.strip():
        raise ProbeError(f"bad probe target {text!r}: empty NAME before '='")
    rest = rest.strip().rstrip("/")
    match = re.fullmatch(r"(?:(https?)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?", rest)
    if not match or (match.group(3) and not 0 < int(match.group(3)) < 65536):
        raise ProbeError(
            f"bad probe target {text!r} (expected [NAME=]HOST[:PORT] or [NAME=]http(s)://HOST[:PORT])"
        )
    scheme = match.group(1) or ("https" if https else "http")
    host, port = match.group(2), match.group(3)
    server = canonical_server(name or host.strip("[]"))
    if not server:
        raise ProbeError(f"bad probe target {text!r}: no server name")
    return Target(server, f"{scheme}://{host}" + (f":{port}" if port else ""))


def tls_context(ca: str | None = None) -> ssl.SSLContext:
    """Certificate and host name verification on; ``ca`` (a PEM file) is trusted besides the system's."""
    context = ssl.create_default_context()
    if ca:
        try:
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(f"--ca {ca}: cannot load it as PEM certificates ({exc})") from exc
    return context


@dataclass(frozen=True, slots=True)
class Result:
    """One check of one target: when, how long, what was asked and the verdict."""

    target: Target
    verdict: Verdict
    started_us: int
    duration: float

    @property
    def url(self) -> str:
        return self.target.url(self.verdict.check)

    def to_dict(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "server": self.target.server,
            "check": v.check,
            "url": self.url,
            "time": iso(self.started_us),
            "ok": v.ok,
            "outcome": v.outcome,
            "status": v.status,
            "substatus": v.substatus,
            "detail": v.detail,
            "evidence": v.evidence,
            "duration_seconds": round(self.duration, 6),
        }


def _reason(exc: BaseException) -> tuple[str, str]:
    """A transport exception -> (failure reason, short detail)."""
    if isinstance(exc, TimeoutError):
        return "timeout", ""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
        return "tls", str(getattr(exc, "certificate_error", "") or exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns", ""
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return "refused", ""
        return "unreachable", os_error.strerror or str(os_error) if os_error else ""
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "no_header", ""
    return "unreachable", type(exc).__name__


@dataclass
class Prober:
    """Asks every target's checks; one aiohttp session (``start``/``close``), bounded concurrency."""

    targets: Sequence[Target]
    timeout: float = DEFAULT_TIMEOUT
    ca: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    checks: Sequence[str] = CHECKS
    _session: aiohttp.ClientSession | None = None
    _chains: dict[tuple[str, str], int] = field(default_factory=dict)  # (server, check) -> last pos

    def __post_init__(self) -> None:
        if not 0 < self.timeout <= MAX_TIMEOUT:  # NaN fails this too
            raise ProbeError(f"probe timeout must be > 0 and <= {MAX_TIMEOUT:g} s, got {self.timeout}")
        if self.concurrency < 1:
            raise ProbeError(f"probe concurrency must be >= 1, got {self.concurrency}")
        self._tls = tls_context(self.ca)
        self._gate = asyncio.Semaphore(self.concurrency)

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=self.concurrency, force_close=True)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Prober:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def check(self, target: Target, check: str) -> Result:
        """One check: never raises for anything the network or the server does."""
        await self.start()
        assert self._session is not None
        async with self._gate:
            started_us = time.time_ns() // 1000
            clock = time.perf_counter()
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            try:
                async with self._session.get(
                    target.url(check),
                    timeout=timeout,
                    allow_redirects=False,
                    headers={"User-Agent": "mpwatch-probe"},
                ) as response:
                    body = await response.content.read(MAX_BODY)
                    verdict = judge(check, response.status, dict(response.headers), body)
            except (aiohttp.ClientError, OSError, TimeoutError, ssl.SSLError) as exc:
                verdict = failed(check, *_reason(exc))
            return Result(target, verdict, started_us, time.perf_counter() - clock)

    async def round(self) -> list[Result]:
        """Every check of every target, concurrently (at most ``concurrency`` at once)."""
        jobs = [self.check(t, c) for t in self.targets for c in self.checks]
        return list(await asyncio.gather(*jobs))

    def events(self, results: Iterable[Result]) -> list[Event]:
        """Timeline events of results: one per check (a URLScan rejection adds ``urlscan_rejected``)."""
        out: list[Event] = []
        for result in results:
            out.extend(self._events_of(result))
        return out

    def _events_of(self, result: Result) -> list[Event]:
        v, server = result.verdict, result.target.server
        file_id = f"sms_mp/.sms_aut?{v.check}"
        chain = (server, v.check)
        shown = f"{result.duration:.3f}"
        data: dict[str, Any] = {
            "source": "probe",
            "check": v.check,
            "url": result.url,
            "outcome": v.outcome,
            "duration_seconds": round(result.duration, 6),
        }
        if v.status is not None:
            data["status"] = v.status
        if v.substatus is not None:
            data["substatus"] = v.substatus
        kinds = [(v.kind, v.variant)]
        if v.outcome == "urlscan":
            kinds.append((K.URLSCAN_REJECTED, "404"))
        out = []
        for sub, (kind, variant) in enumerate(kinds):
            pos = result.started_us * SUB_BITS + sub
            prev = self._chains.get(chain, -1)
            text = f"GET {result.url} -> {v.status if v.status is not None else v.outcome} in {shown} s"
            if v.evidence:
                text += f": {v.evidence}"
            out.append(
                Event(
                    kind,
                    server,
                    result.started_us,
                    PROBE_HOST,
                    file_id,
                    pos,
                    variant=variant,
                    prev=prev,
                    file=file_id,
                    text=text,
                    message=f"probe {v.check}: {'ok, ' if v.ok else ''}{v.detail}",
                    mp=True,
                    data=data,
                )
            )
            self._chains[chain] = pos
        return out


def observe(metrics: ProbeMetrics, results: Iterable[Result]) -> None:
    """Set ``mpwatch_probe_success`` / ``mpwatch_probe_duration_seconds`` from results."""
    for result in results:
        metrics.observe(result.target.server, result.verdict.check, result.verdict.ok, result.duration)


Deliver = Callable[[list[Event]], Awaitable[None]]


async def probe_round(prober: Prober, deliver: Deliver, metrics: ProbeMetrics | None = None) -> list[Result]:
    """One round: probe, set the metrics, hand the events to ``deliver`` (the shell's engine or topic)."""
    results = await prober.round()
    if metrics is not None:
        observe(metrics, results)
    await deliver(prober.events(results))
    for result in results:
        v = result.verdict
        level = logging.DEBUG if v.ok else logging.WARNING
        log.log(level, "probe %s %s: %s", result.target.server, v.check, v.detail)
    return results


async def probe_loop(
    prober: Prober, interval: float, deliver: Deliver, metrics: ProbeMetrics | None, stop: asyncio.Event
) -> None:
    """A round now and every ``interval`` seconds until ``stop``; a failing delivery is logged and the
    loop goes on (the next round probes again)."""
    if not interval > 0:
        raise ProbeError(f"probe interval must be > 0, got {interval}")
    try:
        while not stop.is_set():
            try:
                await probe_round(prober, deliver, metrics)
            except Exception as exc:  # a loop that dies silently would look like a healthy MP
                log.error("probe round failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await prober.close()
