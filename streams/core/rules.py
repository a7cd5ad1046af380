"""Rules: a server's kept events + "now" -> health state and active diagnoses.

Pure function of the *set* of kept events (sorted by time, ties in source order) and ``now``; no
state of its own, so evaluation is order-independent and can run as often as a view is needed.

Install problems
    Each error event maps to a catalogue code (``install_code``). A failure is cleared by a later
    success (1015 / SiteComp "Installation successful." / MPSetup "Installation was successful." /
    mp.msi exit 0) only if a *new attempt* started between them: 1013 or "Installing server..." for
    site-server-side failures (SQL access group, unreachable), and also "MP Setup Started" for MP-side
    setup failures. So a 4908 during an install that still ends with 1015 stays active, while a 1618 of
    the 10:00 attempt is cleared by the 11:00 attempt that succeeded.
    A specific cause suppresses the generic MSI_FATAL (its evidence joins the mp.msi-level cause).
Stuck installs
    INSTALL_RETRYING: at least two 1013 since the last 1015 (or SiteComp "Installation successful."),
    or, when the 1013 lines were not collected, at least two SiteComp "Installation failed and will be
    retried in the next polling cycle." since then (its evidence: those lines).
    INSTALL_NOT_CONFIRMED: otherwise one such 1013, at least 15 minutes before ``now``, and no active
    install failure. RETRYING supersedes NOT_CONFIRMED; specific failures do not hide RETRYING (it is
    the paging signal).
Runtime problems
    If the latest HTTP verification failed, the failures since the last 200 give the cause: 401 ->
    DC_IIS_ACCOUNT_RESTRICTED, 12029 / no header -> WEB_SITE_PORT_CHANGED, others -> MP_NOT_RESPONDING.
    A later-version verification (``Call to HttpSendRequestSync``, ConfigMgr 2007 and later, IIS 7+ where
    IWAM_ accounts no longer exist) is judged with that generation's causes: 401 and 500 ->
    ASPNET_NOT_REGISTERED, 503 -> MP_APP_POOL_STOPPED, 403 (403.x) or WinHTTP 12175 ->
    HTTPS_CLIENT_CERTIFICATE, 12029 -> WEB_SITE_PORT_CHANGED; IIS lines for /SMS_MP/ after the last 200
    support them (500.21, 403.7/13/16/17). SQL trusted-connection failures explain a 500 better than
    ASP.NET: when both are active the ASP.NET evidence joins SQL_TRUSTED_CONNECTION.
    A specific cause that explains failing verifications (those two, or SQL_TRUSTED_CONNECTION: the MP
    cannot reach its database) suppresses the generic MP_NOT_RESPONDING, whose evidence joins it.
    If it succeeded but more than 30 minutes before ``now`` (and no reinstall started since),
    MP_NOT_RESPONDING. IIS 401 (not 401.2) on /SMS_MP/ after the last 200 supports
    DC_IIS_ACCOUNT_RESTRICTED. SQL trusted-connection failures and URLScan rejections are active while
    their latest occurrence is within 24 hours of ``now``.
States
    failed > stuck > degraded > healthy (200 within 30 minutes) > installed > installing > pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core import kinds as K
from streams.core.catalogue import SPECIFIC, lookup
from streams.core.events import Event

MINUTE = 60_000_000
NOT_CONFIRMED_AFTER = 15 * MINUTE
HEALTHY_WINDOW = 30 * MINUTE
RUNTIME_WINDOW = 24 * 60 * MINUTE
SITE_LEVEL = frozenset({"SQL_ACCESS_GROUP", "SITE_SYSTEM_UNREACHABLE"})
MSI_LEVEL = frozenset(
    {"TASK_SCHEDULER_DISABLED", "DTC_DISABLED", "BITS_NOT_INSTALLED", "WEBDAV_NOT_INSTALLED"}
)
# Specific runtime causes that explain failing verifications (URLScan only concerns client requests).
_EXPLAINS_VERIFY = frozenset(
    {
        "DC_IIS_ACCOUNT_RESTRICTED",
        "WEB_SITE_PORT_CHANGED",
        "SQL_TRUSTED_CONNECTION",
        "ASPNET_NOT_REGISTERED",
        "MP_APP_POOL_STOPPED",
        "HTTPS_CLIENT_CERTIFICATE",
    }
)
LATER_FORM = "httpsendrequest"  # Hit.data["form"] of ConfigMgr 2007+ verification lines
_LATER_CODES = {
    "401": "ASPNET_NOT_REGISTERED",
    "500": "ASPNET_NOT_REGISTERED",
    "503": "MP_APP_POOL_STOPPED",
    "403": "HTTPS_CLIENT_CERTIFICATE",
    "12175": "HTTPS_CLIENT_CERTIFICATE",
    "12029": "WEB_SITE_PORT_CHANGED",
}
_IIS_CODES = {(500, 21): "ASPNET_NOT_REGISTERED"} | {
    (403, sub): "HTTPS_CLIENT_CERTIFICATE" for sub in (7, 13, 16, 17)
}
_EXIT_KINDS = frozenset({K.MSI_EXIT, K.MSI_ENGINE_RETURN})
_FIXED_CODES = {
    K.MSI_MUTEX_BUSY: "MSI_MUTEX_BUSY",
    K.IIS_MISSING: "IIS_NOT_INSTALLED",
    K.BITS_MISSING: "BITS_NOT_INSTALLED",
    K.WEBDAV_MISSING: "WEBDAV_NOT_INSTALLED",
    K.SQL_ACCESS_GROUP_FAILED: "SQL_ACCESS_GROUP",
    K.NAL_UNREACHABLE: "SITE_SYSTEM_UNREACHABLE",
    K.MSI_FATAL: "MSI_FATAL",
    K.MSI_ACTION_FAILED: "MSI_FATAL",
    K.MSI_PRODUCT_FAILED: "MSI_FATAL",
}
_HRESULT_CODES = {"80041315": "TASK_SCHEDULER_DISABLED", "80020009": "DTC_DISABLED"}


@dataclass(slots=True)
class Finding:
    """An active diagnosis with every event that supports it (sorted)."""

    code: str
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class Verdict:
    state: str
    findings: list[Finding]


def install_code(ev: Event) -> str | None:
    """The install-phase catalogue code an event is a symptom of, if any."""
    kind, variant = ev.kind, ev.variant
    if kind in _FIXED_CODES:
        return _FIXED_CODES[kind]
    if kind in _EXIT_KINDS:
        if variant in K.SUCCESS_EXIT_CODES:
            return None
        return "MSI_MUTEX_BUSY" if variant == "1618" else "MSI_FATAL"
    if kind == K.MSI_CUSTOM_ACTION_FAILED:
        return None if variant in K.SUCCESS_EXIT_CODES else "MSI_FATAL"
    if kind in (K.VDIR_FAILED, K.SETUP_ERROR_CODE):
        code = _HRESULT_CODES.get(variant)
        return code or ("MSI_FATAL" if kind == K.VDIR_FAILED else None)
    return None


def is_success(ev: Event) -> bool:
    if ev.kind in K.CONFIRMED or ev.kind in K.SETUP_OK:
        return True
    return ev.kind in _EXIT_KINDS and ev.variant in K.SUCCESS_EXIT_CODES


def evaluate(events: list[Event], now: int) -> Verdict:
    """State and findings for one server from its kept events (sorted by key)."""
    install = _install_failures(events)
    stuck = _stuck(events, now, failing=bool(install))
    runtime, last_ok = _runtime(events, now)
    findings = {**install, **stuck, **runtime}
    ordered = sorted(findings.values(), key=lambda f: (min(e.key for e in f.events), f.code))
    if install:
        state = "failed"
    elif stuck:
        state = "stuck"
    else:
        phase, phase_key = _phase(events)
        reinstalling = phase in ("pending", "installing") and (
            last_ok is None or (phase_key is not None and phase_key > last_ok.key)
        )
        if reinstalling:
            state = phase or "installing"
        elif runtime:
            state = "degraded"
        elif last_ok is not None and now - last_ok.ts <= HEALTHY_WINDOW:
            state = "healthy"
        else:
            state = phase if phase is not None else ("installed" if last_ok is not None else "unknown")
    return Verdict(state, ordered)


def _install_failures(events: list[Event]) -> dict[str, Finding]:
    active: list[tuple[str, Event, bool]] = []  # (code, event, new attempt seen since)
    for ev in events:
        kind = ev.kind
        code = install_code(ev)
        if code is not None:
            active.append((code, ev, False))
        elif kind in K.ATTEMPT_MP and active:
            site = kind in K.ATTEMPT_SITE
            active = [(c, e, seen or site or c not in SITE_LEVEL) for c, e, seen in active]
        elif active and is_success(ev):
            active = [item for item in active if not item[2]]
    found = _group((code, ev) for code, ev, _ in active)
    if any(lookup(code).specificity >= SPECIFIC for code in found):
        generic = found.pop("MSI_FATAL", None)
        if generic is not None:
            for code in MSI_LEVEL & found.keys():
                found[code].events = found[code].events + generic.events  # own symptoms first
    return found


def _stuck(events: list[Event], now: int, failing: bool) -> dict[str, Finding]:
    pending: list[Event] = []
    retries: list[Event] = []
    for ev in events:
        if ev.kind in K.CONFIRMED:
            pending, retries = [], []
        elif ev.kind == K.INSTALL_PENDING:
            pending.append(ev)
        elif ev.kind == K.INSTALL_RETRY_SCHEDULED:
            retries.append(ev)
    if len(pending) >= 2:
        return {"INSTALL_RETRYING": Finding("INSTALL_RETRYING", pending)}
    if len(retries) >= 2:
        return {"INSTALL_RETRYING": Finding("INSTALL_RETRYING", retries)}
    if pending and not failing and now - pending[-1].ts >= NOT_CONFIRMED_AFTER:
        return {"INSTALL_NOT_CONFIRMED": Finding("INSTALL_NOT_CONFIRMED", pending)}
    return {}


def _runtime(events: list[Event], now: int) -> tuple[dict[str, Finding], Event | None]:
    verifies = [e for e in events if e.kind in K.VERIFY]
    last_ok = next((e for e in reversed(verifies) if _ok(e)), None)
    pairs: list[tuple[str, Event]] = []
    if verifies and not _ok(verifies[-1]):
        pairs = [(_verify_code(e), e) for e in verifies if last_ok is None or e.key > last_ok.key]
    elif last_ok is not None and now - last_ok.ts > HEALTHY_WINDOW:
        latest_install = max((e.key for e in events if e.kind in K.PENDING | K.PROGRESS), default=None)
        if latest_install is None or latest_install < last_ok.key:
            pairs = [("MP_NOT_RESPONDING", last_ok)]
    for ev in events:
        kind = ev.kind
        if kind == K.IIS_MP_ERROR and (last_ok is None or ev.key > last_ok.key):
            data = ev.data or {}
            iis_code = _IIS_CODES.get((data.get("status", 0), data.get("substatus", 0)))
            if iis_code is not None:
                pairs.append((iis_code, ev))
            elif ev.variant == "401" and data.get("substatus") != 2:
                pairs.append(("DC_IIS_ACCOUNT_RESTRICTED", ev))
        elif kind == K.SQL_LOGIN_FAILED:
            pairs.append(("SQL_TRUSTED_CONNECTION", ev))
        elif kind == K.URLSCAN_REJECTED:
            pairs.append(("URLSCAN_REJECTED", ev))
    found = _group(pairs)
    for code in ("SQL_TRUSTED_CONNECTION", "URLSCAN_REJECTED"):
        if code in found and now - found[code].events[-1].ts > RUNTIME_WINDOW:
            del found[code]
    if "SQL_TRUSTED_CONNECTION" in found and "ASPNET_NOT_REGISTERED" in found:
        behind = found.pop("ASPNET_NOT_REGISTERED")
        found["SQL_TRUSTED_CONNECTION"].events = found["SQL_TRUSTED_CONNECTION"].events + behind.events
    causes = _EXPLAINS_VERIFY & found.keys()
    generic = found.pop("MP_NOT_RESPONDING", None) if causes else None
    if generic is not None:
        for code in causes:
            found[code].events = found[code].events + generic.events  # own symptoms first
    return found, last_ok


def _ok(ev: Event) -> bool:
    return ev.kind == K.HTTP_VERIFY and ev.variant == "200"


def _verify_code(ev: Event) -> str:
    if ev.data and ev.data.get("form") == LATER_FORM:
        return _LATER_CODES.get(ev.variant, "MP_NOT_RESPONDING")
    if ev.variant == "401":
        return "DC_IIS_ACCOUNT_RESTRICTED"
    if ev.variant in ("12029", "no_header"):
        return "WEB_SITE_PORT_CHANGED"
    return "MP_NOT_RESPONDING"


def _phase(events: list[Event]) -> tuple[str | None, tuple[int, str, str, int] | None]:
    phase: str | None = None
    key = None
    for ev in events:
        kind = ev.kind
        if kind in K.PENDING:
            phase, key = "pending", ev.key
        elif kind == K.INSTALL_STARTED or (kind in K.PROGRESS and phase != "installed"):
            phase, key = "installing", ev.key
        elif is_success(ev):
            phase, key = "installed", ev.key
    return phase, key


def _group(pairs: Iterable[tuple[str, Event]]) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for code, ev in pairs:
        found.setdefault(code, Finding(code)).events.append(ev)
    for finding in found.values():
        finding.events.sort(key=lambda e: e.key)
    return found
