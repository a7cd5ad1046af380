"""The active MP probe (issue 13, item 5): the pure judge on every answer the seed and later versions
describe, the runner against local imitation MPs (HTTP and HTTPS, time-outs, refused connections), and
the events it gives judged by the same rules as MPControl's verifications."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from streams.core import kinds as K
from streams.core.reducer import Reducer
from streams.core.rules import evaluate
from streams.core.view import build_view
from streams.errors import ProbeError
from streams.metrics import ProbeMetrics
from streams.probe import Prober, Result, Target, failed, judge, parse_target, probe_loop, probe_round
from tests.fake_mp import (
    CERT_HEX,
    IIS_401_3,
    MP_LIST,
    URLSCAN_404,
    FakeMP,
    hanging,
    refused_port,
    self_signed,
)

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------- judge
@pytest.mark.parametrize(
    ("check", "status", "body", "ok", "outcome", "variant"),
    [
        ("mplist", 200, "", True, "ok", "200"),
        ("mplist", 200, "\r\n  \r\n", True, "ok", "200"),
        ("mplist", 200, MP_LIST, True, "ok", "200"),
        ("mplist", 200, '<?xml version="1.0"?>\n' + MP_LIST, True, "ok", "200"),
        ("mplist", 200, "<html><body>Under Construction</body></html>", False, "bad_answer", "bad_answer"),
        ("mpcert", 200, CERT_HEX, True, "ok", "200"),
        ("mpcert", 200, CERT_HEX[:200] + "\r\n" + CERT_HEX[200:], True, "ok", "200"),
        ("mpcert", 200, f"<MPCERT><Certificate>{CERT_HEX}</Certificate></MPCERT>", True, "ok", "200"),
        ("mpcert", 200, "", False, "bad_answer", "bad_answer"),
        ("mpcert", 200, "ABCDEF", False, "bad_answer", "bad_answer"),
        ("mplist", 401, IIS_401_3, False, "unauthorized", "401"),
        ("mplist", 401, "401.3  Unauthorized due to ACL on resource", False, "unauthorized", "401"),
        ("mplist", 401, "", False, "unauthorized", "401"),
        ("mplist", 403, "HTTP Error 403.7 - Forbidden", False, "forbidden", "403"),
        ("mplist", 404, URLSCAN_404, False, "urlscan", "404"),
        ("mplist", 404, "<html>/<Rejected-By-UrlScan>?~/sms_mp/.sms_aut</html>", False, "urlscan", "404"),
        ("mplist", 404, "<h1>The page cannot be found</h1>", False, "not_found", "404"),
        ("mpcert", 500, "<h1>500 Internal Server Error</h1>", False, "server_error", "500"),
        ("mpcert", 503, "<h1>Service Unavailable</h1>", False, "unavailable", "503"),
        ("mplist", 302, "", False, "bad_answer", "302"),
        ("mplist", 418, "", False, "http_error", "418"),
    ],
)
def test_judge_every_answer(check: str, status: int, body: str, ok: bool, outcome: str, variant: str) -> None:
    verdict = judge(check, status, {}, body.encode())
    assert (verdict.ok, verdict.outcome, verdict.kind, verdict.variant) == (
        ok,
        outcome,
        K.HTTP_VERIFY,
        variant,
    )
    assert verdict.status == status and verdict.detail


def test_judge_reads_the_iis_substatus_and_says_what_it_means() -> None:
    verdict = judge("mplist", 401, {"WWW-Authenticate": "Negotiate"}, IIS_401_3)
    assert verdict.substatus == 3 and "ACL" in verdict.detail and "IIS_WPG" in verdict.detail
    other = judge("mplist", 401, {"www-authenticate": "Negotiate"}, "HTTP Error 401.2 - Unauthorized")
    assert other.substatus == 2 and "401.2" in other.detail and "Negotiate" in other.detail
    assert judge("mplist", 403, {}, "HTTP Error 403.16 - Forbidden").substatus == 16
    assert judge("mplist", 401, {}, "see error 403.7").substatus is None  # another status's number
    assert "SMS 2003" in judge("mplist", 200, {}, b"").detail
    assert "1 MP entry" in judge("mplist", 200, {}, MP_LIST).detail
    assert "hex digits" in judge("mpcert", 200, {}, CERT_HEX).detail


def test_judge_keeps_hostile_bodies_short_and_visible() -> None:
    body = "\x1b[2J\x1b]0;owned\x07" + "A" * 5000 + "\u202e"
    verdict = judge("mplist", 500, {"Location": "\x1b[31m"}, body.encode())
    assert "\x1b" not in verdict.evidence and "\\x1b" in verdict.evidence
    assert len(verdict.evidence) <= 160
    redirect = judge("mplist", 301, {"Location": "http://evil.example/\x1b[31m"}, b"")
    assert "\x1b" not in redirect.detail
    assert judge("mplist", 200, {}, b"\xff\xfe\x00garbage").outcome == "bad_answer"  # undecodable: not an MP
    with pytest.raises(ProbeError):
        judge("mpfoo", 200, {}, b"")


@pytest.mark.parametrize(
    ("reason", "kind", "variant"),
    [
        ("timeout", K.HTTP_SEND_FAILED, "12002"),
        ("refused", K.HTTP_SEND_FAILED, "12029"),
        ("unreachable", K.HTTP_SEND_FAILED, "12029"),
        ("dns", K.HTTP_SEND_FAILED, "12007"),
        ("tls", K.HTTP_SEND_FAILED, "12175"),
        ("no_header", K.HTTP_VERIFY, "no_header"),
    ],
)
def test_transport_failures_are_what_mpcontrol_logs(reason: str, kind: str, variant: str) -> None:
    verdict = failed("mplist", reason, "detail \x1b[0m")
    assert (verdict.ok, verdict.outcome, verdict.kind, verdict.variant) == (False, reason, kind, variant)
    assert "\x1b" not in verdict.detail


def test_targets() -> None:
    assert parse_target("mgtpoint1") == Target("MGTPOINT1", "http://mgtpoint1")
    assert parse_target("mgtpoint1.corp.example:8080", https=True) == Target(
        "MGTPOINT1", "https://mgtpoint1.corp.example:8080"
    )
    assert parse_target("MP2=http://127.0.0.1:81/") == Target("MP2", "http://127.0.0.1:81")
    assert parse_target("https://10.0.0.5") == Target("10.0.0.5", "https://10.0.0.5")
    for bad in ("", "http://", "a b", "x:99999", "ftp://x", "mp/sms_mp", "=x"):
        with pytest.raises(ProbeError):
            parse_target(bad)


# ---------------------------------------------------------------------------------------------- events
def judged(results: list[Result]) -> tuple[str, list[str]]:
    """The state and active codes the rules give for the results' events alone."""
    reducer = Reducer()
    prober = Prober([r.target for r in results])
    reducer.apply_all(prober.events(results))
    (state,) = reducer.servers.values()
    events = state.events()
    verdict = evaluate(events, max(e.ts for e in events))
    return verdict.state, sorted(f.code for f in verdict.findings)


def result(status: int | None, body: str = "", reason: str = "", at: int = 1_800_000_000_000_000) -> Result:
    target = Target("MGTPOINT1", "http://mgtpoint1")
    verdict = judge("mplist", status, {}, body) if status is not None else failed("mplist", reason)
    return Result(target, verdict, at, 0.01)


@pytest.mark.parametrize(
    ("status", "body", "reason", "state", "codes"),
    [
        (200, "", "", "healthy", []),
        (401, IIS_401_3, "", "degraded", ["DC_IIS_ACCOUNT_RESTRICTED"]),
        (404, URLSCAN_404, "", "degraded", ["MP_NOT_RESPONDING", "URLSCAN_REJECTED"]),
        (500, "", "", "degraded", ["MP_NOT_RESPONDING"]),
        (503, "", "", "degraded", ["MP_NOT_RESPONDING"]),
        (None, "", "refused", "degraded", ["WEB_SITE_PORT_CHANGED"]),
        (None, "", "timeout", "degraded", ["MP_NOT_RESPONDING"]),
    ],
)
def test_probe_events_are_judged_like_mpcontrol_verifications(
    status: int | None, body: str, reason: str, state: str, codes: list[str]
) -> None:
    assert judged([result(status, body, reason)]) == (state, codes)


def test_probe_events_are_idempotent_bounded_and_show_their_source() -> None:
    prober = Prober([Target("MGTPOINT1", "http://mgtpoint1")])
    results = [result(200, at=1_800_000_000_000_000 + i * 60_000_000) for i in range(200)]
    events = prober.events(results)
    reducer = Reducer()
    assert reducer.apply_all(events) == 200
    assert reducer.apply_all(events) == 0  # replays change nothing
    state = reducer.servers["MGTPOINT1"]
    assert len(state.events()) <= 8 and len(state.seen[("probe", "sms_mp/.sms_aut?mplist")][2]) == 2
    view = build_view(reducer, events[-1].ts)
    (server,) = view["servers"]
    assert server["state"] == "healthy"
    row = server["timeline"][-1]
    assert row["host"] == "probe" and row["file"] == "sms_mp/.sms_aut?mplist" and row["kind"] == K.HTTP_VERIFY
    assert row["message"].startswith("probe mplist: ok")
    assert events[0].data is not None and events[0].data["source"] == "probe"


# ---------------------------------------------------------------------------------------------- runner
def by_check(results: list[Result]) -> dict[tuple[str, str], Result]:
    return {(r.target.server, r.verdict.check): r for r in results}


async def test_the_probe_against_local_imitation_mps() -> None:
    kinds = ("sms2003", "later", "dc401", "urlscan", "error500", "unavailable503")
    servers = [FakeMP(kind).__enter__() for kind in kinds]
    try:
        with hanging() as hung:
            targets = [
                f"{k.upper().replace('2003', 'OLD')}=http://127.0.0.1:{s.port}"
                for k, s in zip(kinds, servers, strict=True)
            ]
            targets += [f"STOPPED=127.0.0.1:{refused_port()}", f"HUNG=127.0.0.1:{hung}"]
            prober = Prober([parse_target(t) for t in targets], timeout=1.0, concurrency=3)
            registry = CollectorRegistry()
            metrics = ProbeMetrics(registry)
            delivered: list[object] = []

            async def deliver(events: list[object]) -> None:
                delivered.extend(events)

            async with prober:
                results = by_check(await probe_round(prober, deliver, metrics))
    finally:
        for server in servers:
            server.__exit__()
    outcome = {key: (r.verdict.ok, r.verdict.outcome) for key, r in results.items()}
    assert outcome == {
        ("SMSOLD", "mplist"): (True, "ok"),
        ("SMSOLD", "mpcert"): (True, "ok"),
        ("LATER", "mplist"): (True, "ok"),
        ("LATER", "mpcert"): (True, "ok"),
        ("DC401", "mplist"): (False, "unauthorized"),
        ("DC401", "mpcert"): (False, "unauthorized"),
        ("URLSCAN", "mplist"): (False, "urlscan"),
        ("URLSCAN", "mpcert"): (False, "urlscan"),
        ("ERROR500", "mplist"): (False, "server_error"),
        ("ERROR500", "mpcert"): (False, "server_error"),
        ("UNAVAILABLE503", "mplist"): (False, "unavailable"),
        ("UNAVAILABLE503", "mpcert"): (False, "unavailable"),
        ("STOPPED", "mplist"): (False, "refused"),
        ("STOPPED", "mpcert"): (False, "refused"),
        ("HUNG", "mplist"): (False, "timeout"),
        ("HUNG", "mpcert"): (False, "timeout"),
    }
    assert results[("DC401", "mplist")].verdict.substatus == 3
    assert 0.9 < results[("HUNG", "mplist")].duration < 3  # bounded by --timeout
    assert len(delivered) == 16 + 2  # one per check, URLScan adds its rejection
    scraped = generate_latest(registry).decode()
    assert 'mpwatch_probe_success{check="mplist",server="SMSOLD"} 1.0' in scraped
    assert 'mpwatch_probe_success{check="mpcert",server="HUNG"} 0.0' in scraped
    assert 'mpwatch_probe_duration_seconds{check="mplist",server="HUNG"}' in scraped


async def test_https_verifies_the_certificate_unless_given_its_ca(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with FakeMP("sms2003", tls=(cert, key)) as mp:
        target = parse_target(f"MGTPOINT1=127.0.0.1:{mp.port}", https=True)
        async with Prober([target], timeout=5) as prober:
            untrusted = by_check(await prober.round())
        async with Prober([target], timeout=5, ca=str(cert)) as prober:
            trusted = by_check(await prober.round())
    bad = untrusted[("MGTPOINT1", "mplist")].verdict
    assert (bad.ok, bad.outcome, bad.variant) == (False, "tls", "12175")
    assert all(r.verdict.ok for r in trusted.values()), trusted
    with pytest.raises(ProbeError):
        Prober([target], ca=str(tmp_path / "missing.pem"))


async def test_the_loop_probes_every_interval_and_stops() -> None:
    with FakeMP("later") as mp:
        prober = Prober([parse_target(f"MGTPOINT1={mp.url}")], timeout=2)
        rounds: list[int] = []
        stop = asyncio.Event()

        async def deliver(events: list[object]) -> None:
            rounds.append(len(events))
            if len(rounds) == 3:
                stop.set()

        await asyncio.wait_for(probe_loop(prober, 0.05, deliver, None, stop), 10)
    assert rounds == [2, 2, 2]
    with pytest.raises(ProbeError):
        await probe_loop(prober, 0, deliver, None, stop)


def test_mpwatch_probe_command(tmp_path: Path) -> None:
    with FakeMP("sms2003") as good, FakeMP("dc401") as dc:
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "probe", f"MGTPOINT1={good.url}", "--json"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = orjson.loads(done.stdout)
        assert answer["ok"] is True and [r["check"] for r in answer["results"]] == ["mplist", "mpcert"]
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "probe", f"MGTPOINT1={good.url}", f"DC1={dc.url}"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 1
        lines = done.stdout.splitlines()
        assert len(lines) == 4 and any("DC1" in line and "401.3" in line and "FAIL" in line for line in lines)
    for args in (["no such host!"], ["A=x", "A=y"], ["x", "--timeout", "0"], ["x", "--timeout", "nan"]):
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "probe", *args],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
