"""The embedded service's HTTP side (aiohttp): the timeline page, the query API and ``/metrics``.

Routes (the answers themselves are ``streams.api``'s, shared with the Faust workers):

* ``GET /`` and ``GET /static/{app.js,app.css}`` -- the timeline page (``streams/web``: plain HTML, CSS
  and JavaScript, no build step, nothing from a CDN);
* ``GET /api/servers``, ``GET /api/servers/{server}`` (``?now=ISO``), ``GET /api/meta``,
  ``GET /api/openapi.json`` -- JSON;
* ``GET /metrics`` -- Prometheus text from the process's own registry (always open, like exporters);
* ``GET /-/healthy`` -- ``ok`` (for probes).

**Access.** Without a token the service must listen on loopback only (``check_listen`` refuses
anything else). With a token every page and API request must carry it: ``Authorization: Bearer T``,
or the ``mpwatch_token`` cookie that opening ``/?token=T`` once sets (HttpOnly, SameSite=Strict) so a
browser needs no header. Tokens are compared in constant time (``hmac.compare_digest``).

**Log text is attacker-controlled** (IIS URIs and user agents): the API sends it as JSON only, the page
inserts it with ``textContent`` only, and every response carries a strict Content-Security-Policy
(scripts from this origin only, no inline script, no eval), ``nosniff`` and ``no-referrer``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from streams import api
from streams.errors import ApiError, InputError
from streams.store import StateStore

TOKEN_COOKIE = "mpwatch_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STATIC = {"app.js": "application/javascript", "app.css": "text/css"}
_OPEN_PATHS = ("/metrics", "/-/healthy")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_listen(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token (an InputError that says what to do)."""
    if token:
        return
    if host in ("localhost", ""):
        if host == "":
            raise InputError("--listen with no address binds every interface: give a --token too")
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InputError(
            f"--listen {host}: serving beyond loopback needs a token (--token T or MPWATCH_TOKEN); "
            "every page and API request must then carry it"
        )


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; port 0 = any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8787")
    return host.strip("[]"), int(port)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", charset="utf-8"
    )


def build_app(store: StateStore, registry: CollectorRegistry, *, token: str | None = None) -> web.Application:
    """The aiohttp application over a store (see the module docstring)."""
    app = web.Application(middlewares=[_headers, _access(token)], client_max_size=1024)

    async def servers(request: web.Request) -> web.Response:
        return json_response(api.list_servers(store, api.parse_now(request.query.get("now"))))

    async def server(request: web.Request) -> web.Response:
        name = request.match_info["server"]
        return json_response(api.get_server(store, name, api.parse_now(request.query.get("now"))))

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(api.openapi())

    async def meta(_request: web.Request) -> web.Response:
        return json_response(api.meta())

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthy(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def page(request: web.Request) -> web.StreamResponse:
        if token and request.query.get("token"):  # first visit with ?token=: keep it as a cookie
            response = web.HTTPSeeOther("/")
            response.set_cookie(TOKEN_COOKIE, request.query["token"], httponly=True, samesite="Strict")
            raise response
        return _asset("index.html", "text/html")

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC:
            raise ApiError(404, "no such file")
        return _asset(name, STATIC[name])

    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/servers", servers)
    app.router.add_get("/api/servers/{server}", server)
    app.router.add_get("/api/meta", meta)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    return app


def _asset(name: str, content_type: str) -> web.Response:
    body = resources.files("streams.web").joinpath(name).read_bytes()
    return web.Response(body=body, content_type=content_type, charset="utf-8")


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ApiError as exc:
        response = json_response(exc.body, exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            response = json_response({"error": exc.reason}, exc.status)
        else:
            raise
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _access(token: str | None) -> Middleware:
    expected = token.encode("utf-8") if token else b""

    @web.middleware
    async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not expected or request.path in _OPEN_PATHS:
            return await handler(request)
        if request.path == "/" and request.query.get("token"):
            given = request.query["token"]
        else:
            header = request.headers.get("Authorization", "")
            given = header[7:] if header[:7].lower() == "bearer " else request.cookies.get(TOKEN_COOKIE, "")
        if not hmac.compare_digest(given.encode("utf-8"), expected):
            response = json_response({"error": "a valid token is required (Authorization: Bearer T)"}, 401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="mpwatch"'
            return response
        return await handler(request)

    return access


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Listen on ``host:port``; returns the runner (``await runner.cleanup()`` to stop) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    addresses = runner.addresses  # (host, port, ...) per listening socket
    bound = addresses[0][1] if addresses else port
    return runner, int(bound)
