"""A small hostile web server for crawl tests: threaded, on 127.0.0.1, on ephemeral ports.

Routes are small handler functions `handler(exchange)` keyed by (port index, path); the
helpers below build the usual ones (a page, a redirect, a hang, a reset mid-body, a lying
Content-Length, a huge header). One server can listen on several ports at once, so that two
sites on one host can differ by port only. Every request is counted per (port index, path),
and handlers can wait for one another (`meet`) to show that two fetches were in flight
together.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from index.collection import Collection
from tests.conftest import CrawledCrawl, crawl, crawl_ids, palimpsest

Handler = Callable[["Exchange"], None]


class Exchange:
    """One request as a handler sees it, with ways to answer it well or badly."""

    def __init__(self, request: BaseHTTPRequestHandler, server: HostileServer, port: int
                 ) -> None:
        self._request = request
        self.server = server
        self.port = port
        self.path = request.path

    def send(self, status: int, body: bytes = b"", content_type: str = "text/html",
             headers: dict[str, str] | None = None, length: int | None = None) -> None:
        """A response with this status and body; `length` overrides the Content-Length."""
        lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}",
                 f"Content-Length: {len(body) if length is None else length}",
                 "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def raw(self, data: bytes) -> None:
        self._request.wfile.write(data)
        self._request.wfile.flush()

    def reset(self) -> None:
        """Abort the connection with a TCP reset (SO_LINGER 0), not a clean close."""
        sock = self._request.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def hang(self) -> None:
        """Answer nothing until the server stops."""
        self.server.stopping.wait(120)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server: HostileServer = self.server.hostile  # type: ignore[attr-defined]
        port = self.server.index  # type: ignore[attr-defined]
        path = self.path
        server.hits[port, path] += 1
        handler = server.routes.get((port, path)) or server.routes.get((None, path))
        exchange = Exchange(self, server, port)
        if handler is None:
            exchange.send(404, b"not here", "text/plain")
        else:
            handler(exchange)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HostileServer:
    """HTTP on 127.0.0.1 on `ports` ephemeral ports; a context manager."""

    def __init__(self, ports: int = 1) -> None:
        self.routes: dict[tuple[int | None, str], Handler] = {}
        self.hits: Counter[tuple[int, str]] = Counter()
        self.stopping = threading.Event()
        self._meetings: dict[str, threading.Barrier] = {}
        self._servers = []
        for index in range(ports):
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
            httpd.daemon_threads = True
            httpd.hostile = self  # type: ignore[attr-defined]
            httpd.index = index  # type: ignore[attr-defined]
            self._servers.append(httpd)

    def url(self, path: str = "/", port: int = 0) -> str:
        return f"http://127.0.0.1:{self._servers[port].server_address[1]}{path}"

    def route(self, path: str, handler: Handler, port: int | None = None) -> None:
        """Answer `path` with `handler`, on the given port index or on every port."""
        self.routes[port, path] = handler

    def meet(self, name: str, parties: int = 2, timeout: float = 5.0) -> bool:
        """Wait until `parties` handlers have called meet(name); False if they never did."""
        barrier = self._meetings.setdefault(name, threading.Barrier(parties))
        try:
            barrier.wait(timeout)
        except threading.BrokenBarrierError:
            return False
        return True

    def __enter__(self) -> HostileServer:
        for httpd in self._servers:
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for httpd in self._servers:
            httpd.shutdown()
            httpd.server_close()


# handlers


def page(body: str, status: int = 200, content_type: str = "text/html",
         headers: dict[str, str] | None = None) -> Handler:
    def handler(exchange: Exchange) -> None:
        exchange.send(status, body.encode(), content_type, headers)
    return handler


def links(*hrefs: str, embeds: tuple[str, ...] = (), title: str = "page") -> Handler:
    """An HTML page linking to `hrefs` and embedding the images `embeds`."""
    anchors = "".join(f'<a href="{h}">{h[:40]}</a>\n' for h in hrefs)
    images = "".join(f'<img src="{e}">\n' for e in embeds)
    return page(f"<html><head><title>{title}</title></head><body>{anchors}{images}"
                "</body></html>")


def redirect(location: str, status: int = 302) -> Handler:
    return page("", status, headers={"Location": location})


def hang(exchange: Exchange) -> None:
    exchange.hang()


def reset(exchange: Exchange) -> None:
    exchange.reset()


def short_body(body: bytes, claimed: int) -> Handler:
    """Claim `claimed` bytes of Content-Length, send `body`, close cleanly."""
    def handler(exchange: Exchange) -> None:
        exchange.send(200, body, "text/plain", length=claimed)
    return handler


def reset_mid_body(body: bytes, claimed: int) -> Handler:
    """Claim `claimed` bytes, send `body`, then reset the connection."""
    def handler(exchange: Exchange) -> None:
        exchange.send(200, body, "text/plain", length=claimed)
        time.sleep(0.3)  # let the client read what was sent before the reset discards it
        exchange.reset()
    return handler


def huge_header(size: int = 200_000) -> Handler:
    """A response with one header line of `size` bytes."""
    return page("<p>big head</p>", headers={"X-Padding": "a" * size})


def meeting(name: str, body: str = "<p>met</p>") -> Handler:
    """A page that answers once another `meeting(name)` handler is running too (or after a
    timeout); says which in its body, so the test can tell."""
    def handler(exchange: Exchange) -> None:
        met = exchange.server.meet(name)
        exchange.send(200, f"<html><body>{body} on port {exchange.port}: "
                      f"{'together' if met else 'alone'}</body></html>".encode())
    return handler


# crawling it


def crawl_sites(root: Path, sites: dict[str, str], *options: str, timeout: float | None = None,
                init: bool = True) -> tuple[CrawledCrawl, str]:
    """`palimpsest init --site NAME=URL ...` a collection at `root` (unless not `init`: crawl
    it again) and crawl it once with `options`; `timeout` sets politeness.timeout. Returns the
    crawl and the command's stderr."""
    args = [arg for name, url in sites.items() for arg in ("--site", f"{name}={url}")]
    if init:
        palimpsest("init", "--collection", str(root), *args)
    if timeout is not None:
        config = root / "palimpsest.toml"
        text = config.read_text()
        config.write_text(text.replace("\ntimeout = 30.0\n", f"\ntimeout = {timeout}\n"))
    collection = Collection(root)
    # a crawl that captured nothing of some site exits 1: here that is often the point
    done = crawl(collection, *options, check=False)
    assert done.returncode in (0, 1), done.stderr
    return crawl_ids(collection)[-1], done.stderr
