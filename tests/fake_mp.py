"""Local imitations of management points for the probe tests: each ``FakeMP`` is a stdlib HTTP(S)
server on 127.0.0.1 (port 0) in a thread, answering ``/sms_mp/.sms_aut?mplist`` and ``?mpcert`` as one
kind of MP does; ``hanging()`` accepts connections and never answers; ``refused_port()`` is a port with
nothing listening. ``self_signed(folder)`` makes a certificate for 127.0.0.1 with the openssl CLI."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CERT_HEX = "3082" + "0123456789ABCDEF" * 60  # what an MP certificate blob looks like: long hex
MP_LIST = (
    '<MPList><MP Name="MGTPOINT1" FQDN="mgtpoint1.corp.example"><Version>7958</Version>'
    '<Capabilities SchemaVersion="1.0"/></MP></MPList>'
)
IIS_401_3 = (
    "<html><head><title>You are not authorized to view this page</title></head><body>"
    "<h1>You are not authorized to view this page</h1><p>HTTP Error 401.3 - Unauthorized: Access is "
    "denied due to an ACL set on the requested resource.<br>Internet Information Services (IIS)</p>"
    "</body></html>"
)
URLSCAN_404 = (
    "<html><head><title>Error</title></head><body>The system cannot find the file specified. </body></html>"
)

#: kind -> {check: (status, body)}
ANSWERS: dict[str, dict[str, tuple[int, str]]] = {
    "sms2003": {"mplist": (200, ""), "mpcert": (200, CERT_HEX)},
    "later": {
        "mplist": (200, MP_LIST),
        "mpcert": (200, f"<MPCERT><Certificate>{CERT_HEX}</Certificate></MPCERT>"),
    },
    "dc401": {"mplist": (401, IIS_401_3), "mpcert": (401, IIS_401_3)},
    "urlscan": {"mplist": (404, URLSCAN_404), "mpcert": (404, URLSCAN_404)},
    "error500": {"mplist": (500, "<h1>500 Internal Server Error</h1>"), "mpcert": (500, "")},
    "unavailable503": {"mplist": (503, "<h1>Service Unavailable</h1>"), "mpcert": (503, "")},
}


class _Handler(BaseHTTPRequestHandler):
    kind = "sms2003"

    def do_GET(self) -> None:
        path, _, check = self.path.partition("?")
        if path.lower() != "/sms_mp/.sms_aut" or check not in ("mplist", "mpcert"):
            status, body = 404, "<h1>The page cannot be found</h1>"
        else:
            status, body = ANSWERS[self.kind][check]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Negotiate")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None


class FakeMP:
    """One imitation MP of ``kind`` (a key of ``ANSWERS``), optionally over TLS."""

    def __init__(self, kind: str, tls: tuple[Path, Path] | None = None) -> None:
        handler = type(f"Handler_{kind}", (_Handler,), {"kind": kind})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeMP:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@contextmanager
def hanging() -> Iterator[int]:
    """A port whose listener takes connections (the kernel completes them) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def refused_port() -> int:
    """A port nothing listens on (bound, then closed): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1 and localhost, self-signed (its own CA)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = folder / "mp-cert.pem", folder / "mp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=digitalSignature,keyCertSign"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
