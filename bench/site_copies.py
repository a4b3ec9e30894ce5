"""Copies of the script-rendered sample site under other host names, for a longer browser
crawl than its 13 pages: a forward proxy in front of the sample network that answers for
civiscope2.test, civiscope3.test... with civiscope.test's own responses, the host name
replaced in every body (its links, its JSON's links) and in redirects, so N copies are N
times the pages, of the same shapes and sizes. Any other host goes to the sample network as
it is. gzip-encoded bodies are decoded, rewritten and encoded again, so the crawl receives
what it would from the site itself.

Runs in a thread of the bench process: its CPU is not the crawl's.
"""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ORIGINAL = "civiscope.test"
_HOP_BY_HOP = {"connection", "keep-alive", "content-length", "transfer-encoding"}


def copy_host(n: int) -> str:
    """The host name of copy `n` (1 is the site itself)."""
    return ORIGINAL if n == 1 else ORIGINAL.replace(".", f"{n}.", 1)


@contextmanager
def site_copies(upstream: str) -> Iterator[str]:
    """A proxy for `upstream` (the sample network's URL) that serves the copies; its URL."""
    parts = urlsplit(upstream)
    local = threading.local()

    def _fetch(url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        """`url` from the sample network on this thread's connection, opened again once if
        the network closed it."""
        try:
            return _ask(url, headers)
        except (OSError, http.client.HTTPException):
            local.upstream.close()
            del local.upstream
            return _ask(url, headers)

    def _ask(url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        if not hasattr(local, "upstream"):
            local.upstream = http.client.HTTPConnection(parts.hostname, parts.port)
        local.upstream.request("GET", url, headers=headers)
        return local.upstream.getresponse()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            target = urlsplit(self.path)
            host = target.hostname or ""
            is_copy = host.startswith(ORIGINAL.split(".")[0])  # the site or one of its copies
            asked = urlunsplit(("http", ORIGINAL, target.path, target.query, "")) \
                if is_copy else self.path
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in _HOP_BY_HOP | {"host", "proxy-connection"}}
            headers["Host"] = ORIGINAL if is_copy else host
            answer = _fetch(asked, headers)
            body = answer.read()
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
            if is_copy and host != ORIGINAL:
                body, out = _rewritten(body, out, host)
            self.send_response(answer.status, answer.reason)
            for name, value in out:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _rewritten(body: bytes, headers: list[tuple[str, str]], host: str
               ) -> tuple[bytes, list[tuple[str, str]]]:
    old, new = ORIGINAL.encode(), host.encode()
    encoded = any(k.lower() == "content-encoding" and v.lower() == "gzip" for k, v in headers)
    if encoded:
        body = gzip.compress(gzip.decompress(body).replace(old, new), mtime=0)
    else:
        body = body.replace(old, new)
    return body, [(k, v.replace(ORIGINAL, host) if k.lower() == "location" else v)
                  for k, v in headers]
