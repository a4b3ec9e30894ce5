"""Small-page sites for the crawl bench: five sites of 150 pages, each page 4 KB of HTML with six
links, served on loopback as an HTTP proxy (the sites are `.test` names), with an optional
latency per response.

A page is cheap to serve and to parse, so a crawl of them measures the crawler's cost per
fetch (the engine, the recorder, the WARC writer, the crawl log) rather than parsing.

    .venv/bin/python bench/small_sites.py --port 8766 [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SITES = tuple((f"small{i}", f"http://small{i}.test/p/0.html") for i in range(5))
PAGES = 150
LINKS = 6
PAGE_BYTES = 4096


def page(n: int) -> bytes:
    """Page `n`: links to pages 6n+1..6n+6 (modulo the site), so that all are reached from
    page 0 in a few hops, padded with text to PAGE_BYTES."""
    links = "".join(f'<li><a href="/p/{(LINKS * n + k) % PAGES}.html">page {k}</a></li>'
                    for k in range(1, LINKS + 1))
    head = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Page {n}</title>"
            f"</head><body><h1>Page {n}</h1><ul>{links}</ul><p>")
    tail = "</p></body></html>\n"
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 80)
    text = filler[:PAGE_BYTES - len(head) - len(tail)]
    return (head + text + tail).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # head and body in one write: two small writes would meet the client's delayed ACK
    wbufsize = 1 << 16
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        body, status = b"not found\n", 404
        host = parts.hostname or (self.headers.get("Host") or "").split(":")[0]
        if host in self.server.hosts and parts.path.startswith("/p/"):
            name = parts.path[3:].removesuffix(".html")
            if name.isdigit() and int(name) < PAGES:
                body, status = self.server.pages[int(name)], 200
        if self.server.latency:
            time.sleep(self.server.latency)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200
                         else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, latency: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency = latency
        self.hosts = {urlsplit(url).hostname for _, url in SITES}
        self.pages = [page(n) for n in range(PAGES)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    _Server(args.port, args.latency_ms / 1000).serve_forever()


if __name__ == "__main__":
    main()
