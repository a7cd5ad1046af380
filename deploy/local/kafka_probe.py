"""Readiness probes for deploy/local/kafka, using only the Python standard library.

The broker script runs before any virtualenv exists (for example `make kafka-up` on a fresh clone), so it
cannot rely on aiokafka. These probes speak just enough of the Kafka wire protocol to answer three
questions:

* ``metadata HOST:PORT``: does the broker answer a Metadata request and list at least one live (unfenced)
  broker? That is the point at which clients can create topics and produce.
* ``tls HOST:PORT --cafile CA``: does the SASL_SSL listener complete a TLS handshake whose certificate
  chains to CA and matches HOST, and then answer an ApiVersions request (allowed before SASL auth)?
* ``port-free HOST PORT...``: can each port be bound on HOST right now?

Exit status 0 means yes; 1 means no, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import struct
import sys

METADATA_API_KEY = 3
METADATA_VERSION = 4  # oldest Metadata version Kafka 4.x still serves with a non-flexible layout
API_VERSIONS_API_KEY = 18
CLIENT_ID = b"mpwatch-probe"


class ProbeError(Exception):
    """The broker did not give the expected answer."""


def _request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProbeError("connection closed by the broker before the answer was complete")
        chunks.extend(chunk)
    return bytes(chunks)


def _exchange(sock: socket.socket, request: bytes, correlation_id: int) -> bytes:
    sock.sendall(request)
    (size,) = struct.unpack(">i", _read_exact(sock, 4))
    response = _read_exact(sock, size)
    (answered_id,) = struct.unpack_from(">i", response, 0)
    if answered_id != correlation_id:
        raise ProbeError(f"answer carries correlation id {answered_id}, expected {correlation_id}")
    return response[4:]


class _Reader:
    """Sequential reader of the non-flexible (pre-compact) Kafka encodings."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str | None:
        size = self.int16()
        if size < 0:
            return None
        value = self.data[self.pos : self.pos + size].decode("utf-8")
        self.pos += size
        return value


def probe_metadata(host: str, port: int, timeout: float) -> str:
    """Send Metadata v4 for no topic; return a one-line summary, or raise ProbeError."""
    body = struct.pack(">ib", 0, 0)  # empty topic list, allow_auto_topic_creation=false
    with socket.create_connection((host, port), timeout=timeout) as sock:
        answer = _Reader(_exchange(sock, _request(METADATA_API_KEY, METADATA_VERSION, 1, body), 1))
    answer.int32()  # throttle_time_ms
    brokers = []
    for _ in range(answer.int32()):
        node_id = answer.int32()
        broker_host = answer.string()
        broker_port = answer.int32()
        answer.string()  # rack
        brokers.append(f"{node_id}@{broker_host}:{broker_port}")
    cluster_id = answer.string()
    controller_id = answer.int32()
    if not brokers:
        raise ProbeError("the broker answers but lists no live broker yet (still fenced)")
    return f"cluster={cluster_id} controller={controller_id} brokers={','.join(brokers)}"


def probe_tls(host: str, port: int, cafile: str, timeout: float) -> str:
    """Handshake with certificate and host name checks, then ApiVersions v0; return a summary."""
    context = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as sock,
    ):
        answer = _Reader(_exchange(sock, _request(API_VERSIONS_API_KEY, 0, 2, b""), 2))
        version = sock.version()
    error_code = answer.int16()
    if error_code != 0:
        raise ProbeError(f"ApiVersions over TLS answered error code {error_code}")
    return f"tls={version} verified against {cafile}"


def ports_free(host: str, ports: list[int]) -> list[int]:
    """Return the ports of `ports` that cannot be bound on host now."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As a listening server would: connections of a stopped broker lingering in TIME_WAIT must not
            # count as "in use", only another listener does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                busy.append(port)
    return busy


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {address!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    meta = sub.add_parser("metadata", help="broker answers Metadata with a live broker")
    meta.add_argument("address", type=_split_address)
    tls = sub.add_parser("tls", help="TLS listener verifies against the CA and answers ApiVersions")
    tls.add_argument("address", type=_split_address)
    tls.add_argument("--cafile", required=True)
    free = sub.add_parser("port-free", help="every port can be bound")
    free.add_argument("host")
    free.add_argument("ports", nargs="+", type=int)
    for command in (meta, tls):
        command.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args(argv)

    try:
        if args.command == "port-free":
            busy = ports_free(args.host, args.ports)
            if busy:
                print(f"port(s) already in use on {args.host}: {' '.join(map(str, busy))}", file=sys.stderr)
                return 1
            return 0
        host, port = args.address
        if args.command == "metadata":
            print(probe_metadata(host, port, args.timeout))
        else:
            print(probe_tls(host, port, args.cafile, args.timeout))
    except (OSError, ProbeError, struct.error, UnicodeDecodeError) as exc:
        print(f"{args.command} probe of {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
