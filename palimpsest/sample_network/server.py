"""The sample network served on loopback as an HTTP forward proxy.

A crawler configured with this proxy sends `GET http://paxpoint.test/about/ HTTP/1.1` and gets
the page, so WARC records carry the sites' own URLs. The proxy never connects anywhere: it
answers from the revision's pre-rendered bytes, and any host outside the network gets 502.
"""

from __future__ import annotations

import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from palimpsest.sample_network.revisions import clamp
from palimpsest.sample_network.sites import SERVED_HOSTS
from palimpsest.sample_network.snapshot import Resource, Snapshot, snapshot

_REASONS = {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 431: "Request Header Fields Too Large",
            502: "Bad Gateway"}
_PLAIN = "text/plain; charset=utf-8"
_MAX_HEADERS = 100
_date = (0, "")


def _http_date() -> str:
    """The Date header value, formatted at most once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def _accepts_gzip(header: str | None) -> bool:
    for item in (header or "").lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class _Headers(dict[str, str]):
    """Request headers by lower-cased name, looked up case-insensitively."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "sample-network"
    disable_nagle_algorithm = True  # small keep-alive responses must not wait for ACKs
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a benchmark's thousands of requests must not be thousands of log lines."""

    def parse_request(self) -> bool:
        """Read the request line and headers.

        Replaces the base class's parsing, which runs every header block through the email
        package and so costs more than all the rest of answering a request."""
        line = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        self.requestline = line
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"
            self._fail(400, "bad request line")
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        for _ in range(_MAX_HEADERS):
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = raw.decode("iso-8859-1").partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        else:
            self._fail(431, "too many headers")
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        return True

    def _fail(self, status: int, why: str) -> None:
        self.close_connection = True
        self._send(status, f"sample-network: {why}\n".encode(), _PLAIN, send_body=True)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _refuse(self) -> None:
        # Any request body stays unread, so the connection cannot be reused.
        self.close_connection = True
        self._send(405, b"sample-network: method not allowed\n", _PLAIN,
                   extra="Allow: GET, HEAD\r\n", send_body=True)

    do_CONNECT = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _target(self) -> tuple[str, str, str, int | None]:
        """(host, path, query, port) from an absolute-form target or the Host header."""
        if "://" in self.path:
            parts = urlsplit(self.path)
        else:
            parts = urlsplit(f"http://{self.headers.get('Host', '')}{self.path}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        return (parts.hostname or "").lower(), parts.path or "/", parts.query, port

    def _answer(self, send_body: bool) -> None:
        host, path, query, port = self._target()
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        if host not in SERVED_HOSTS or port not in (None, 80):
            body = f"sample-network: {host or 'no host'} is not a site of the network\n"
            self._send(502, body.encode(), _PLAIN, send_body=send_body)
            return
        current = self.server.current
        resource = current.lookup(host, path, query)
        gzipped = resource.compressible and _accepts_gzip(self.headers.get("Accept-Encoding"))
        body = resource.gzipped() if gzipped else resource.body
        modified = current.edition.last_modified
        head = resource.heads.get((gzipped, modified))
        if head is None:
            head = self._resource_head(resource, gzipped, modified, len(body))
            resource.heads[(gzipped, modified)] = head
        self._write(resource.status, head, body, send_body)

    @staticmethod
    def _resource_head(resource: Resource, gzipped: bool, modified: str, length: int) -> bytes:
        """The headers of `resource` that never change between requests."""
        etag = resource.etag[:-1] + '-gzip"' if gzipped else resource.etag
        lines = [f"Content-Type: {resource.content_type}", f"Content-Length: {length}",
                 f"ETag: {etag}", f"Last-Modified: {modified}"]
        if resource.compressible:
            lines.append("Vary: Accept-Encoding")
        if gzipped:
            lines.append("Content-Encoding: gzip")
        if resource.location:
            lines.append(f"Location: {resource.location}")
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def _send(self, status: int, body: bytes, content_type: str, *, extra: str = "",
              send_body: bool) -> None:
        head = f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}"
        self._write(status, head.encode("latin-1"), body, send_body)

    def _write(self, status: int, head: bytes, body: bytes, send_body: bool) -> None:
        first = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nServer: sample-network\r\n"
            f"Date: {_http_date()}\r\n"
        ).encode("latin-1")
        end = b"Connection: close\r\n\r\n" if self.close_connection else b"\r\n"
        # One write per response: the socket is unbuffered, and one send is fastest.
        self.wfile.write(first + head + end + body if send_body else first + head + end)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open many connections at once

    def __init__(self, port: int, current: Snapshot, latency: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.current = current
        self.latency = latency
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End open keep-alive connections, whose threads would otherwise keep answering."""
        with self._lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class SampleNetwork:
    """The five sites behind a forward proxy on 127.0.0.1, in one revision at a time.

    Use as a context manager (`with SampleNetwork(revision=2) as net: ... net.url ...`) or
    call start() and stop(). Every body of the revision is rendered before start() returns."""

    def __init__(self, revision: int = 1, latency_ms: int = 0, port: int = 0) -> None:
        clamp(revision)  # reject revision 0 and below here, not on start()
        self.revision = revision
        self.latency_ms = latency_ms
        self.port = port
        self.url = ""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving in a daemon thread; return the proxy URL, http://127.0.0.1:PORT."""
        if self._server is not None:
            return self.url
        current = snapshot(self.revision).warm()
        self._server = _Server(self.port, current, self.latency_ms / 1000)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sample-network", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def set_revision(self, revision: int) -> None:
        """Serve `revision` from now on (requests already being answered finish as they were)."""
        current = snapshot(revision).warm()  # render before switching: no request waits
        self.revision = revision
        if self._server is not None:
            self._server.current = current

    def __enter__(self) -> SampleNetwork:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(port: int, revision: int, latency_ms: int) -> None:
    """Serve the sample network until Ctrl-C, printing one line with the proxy URL."""
    network = SampleNetwork(revision=revision, latency_ms=latency_ms, port=port)
    url = network.start()
    print(f"Sample network revision {clamp(revision)} serving as an HTTP proxy at {url} "
          "(Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        network.stop()
