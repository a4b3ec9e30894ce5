"""The recording proxy: an HTTP forward proxy on 127.0.0.1 that the browser fetches through,
writing every exchange it forwards as WARC request and response (or revisit) records.

One proxy serves one tab of the browser (crawler/browser.py), for the whole crawl, and is told
which page the tab is on (`begin`), so that each recorded request knows the page it was made
for (the crawl log's `via` and hop path). It forwards to the network's upstream proxy (the
sample network is one) or straight to the origin, and records what it sent and what came
back: the request line and headers as forwarded, the server's status line (its reason phrase
included), its header names and values as received, and its body as received: still
content-encoded. Chunked bodies are stored de-chunked and the Transfer-Encoding header is left
out of the record (readers then see a body whose length is the record's); header lines are
written back as "Name: value". The dedup rule, the WARC files and the crawl log are the plain
crawler's (`recorder.dedup_of`, the `warc_records` and `crawl_event` signals).

https:// is intercepted: on CONNECT the proxy answers 200, ends the browser's TLS itself with
a leaf certificate for the host signed by the crawl's own CA (crawler/crawl_ca.py), reads the
request inside, and sends it to the origin over TLS of its own (through the upstream proxy's
CONNECT if there is one), origin certificates verified as the plain crawler verifies them
(Scrapy's DOWNLOAD_VERIFY_CERTIFICATES). The exchange is recorded exactly as an http one is,
target URI https://..., the request line as sent inside the tunnel (origin-form).

Before anything is sent, each request is asked of `allow` (the site's robots.txt policy, as
the plain crawler applies it: crawler/browser_capture.py), then counted against the page's
resource limit; a refused request is answered by the proxy itself (403, 503), never fetched,
and logged as the plain crawler logs its refusals ("excluded", with why).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import signals as our_signals
from crawler.browser import Document, NetworkWatch
from crawler.crawl_ca import CrawlCA, origin_context
from crawler.dedup import PayloadHistory, PayloadRef
from crawler.recorder import Dedup, dedup_of, response_or_revisit
from crawler.warc_writer import WARC_VERSION, new_record_id, warc_date
from index.extract import media_type

Headers = list[tuple[str, str]]
# why a request may not be fetched ("robots", "robots:unavailable"), or None: it may
Allow = Callable[[str], Awaitable[str | None]]

# what the browser says to its proxy, not to the server
_HOP_BY_HOP = {"proxy-connection", "connection", "keep-alive", "proxy-authorization", "te",
               "upgrade", "trailer"}
_HEAD_LIMIT = 1 << 20
# added to every answer to the browser (never to the records): the browser keeps nothing, so
# every page asks the proxy for all it needs and each capture is whole (the HTTP cache off by
# CDP instead would need the Network domain on, each of its events sent over to Python)
_NO_STORE = ("Cache-Control", "no-store")


@dataclass(frozen=True)
class PageOfRequests:
    """The page a browser context was opened for: who its requests are made for."""

    url: str
    site: str
    hops: str


@dataclass
class Exchange:
    """One request the proxy forwarded, and the response as the server sent it."""

    url: str
    method: str
    request_line: str  # as forwarded: "GET http://host/path HTTP/1.1"
    request_headers: Headers
    request_body: bytes
    protocol: str  # of the response: "HTTP/1.1"
    status_line: str  # "200 OK", the server's own reason phrase
    response_headers: Headers
    body: bytes  # de-chunked, still content-encoded
    truncated: str | None
    started: datetime

    @property
    def status(self) -> int:
        return int(self.status_line.split(" ", 1)[0])

    def header(self, name: str) -> str:
        return next((v for k, v in self.response_headers if k.lower() == name), "")


class WireRecorder:
    """Turns forwarded exchanges into records and crawl-log lines, as the plain recorder
    does for Scrapy's fetches; one per crawl, shared by every page's proxy."""

    def __init__(self, signals, history: PayloadHistory, proxied: bool) -> None:
        self.signals = signals
        self.history = history
        self.proxied = proxied
        self.builder = WARCWriter(BytesIO(), gzip=True, warc_version=WARC_VERSION)

    def record(self, exchange: Exchange, page: PageOfRequests) -> None:
        date = warc_date(exchange.started)
        dedup = dedup_of(self.history, exchange.url, exchange.status, exchange.body,
                         exchange.truncated)
        response_id = new_record_id()
        records = [self._request_record(exchange, date, response_id),
                   self._response_record(exchange, date, response_id, dedup)]
        self.signals.send_catch_log(our_signals.warc_records, records=records)
        if 200 <= exchange.status < 300 and not exchange.truncated:
            self.history.remember(exchange.url, dedup.digest,
                                  dedup.original or PayloadRef(exchange.url, date))
        self.signals.send_catch_log(our_signals.crawl_event, entry={
            "time": exchange.started.isoformat().replace("+00:00", "Z"), "url": exchange.url,
            "status": exchange.status, "bytes": len(exchange.body), "digest": dedup.digest,
            "outcome": dedup.outcome, "record": "revisit" if dedup.original else "response",
            "truncated": bool(exchange.truncated), "reason": "browser",
            "hops": page.hops + "E", "via": page.url,
            "mime": media_type(exchange.header("content-type")), "site": page.site,
        })

    def event(self, url: str, page: PageOfRequests, outcome: str, why: str) -> None:
        """A crawl-log line for a browser request that was not recorded, and why."""
        self.signals.send_catch_log(our_signals.crawl_event, entry={
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "url": url,
            "outcome": outcome, "why": why, "via": page.url, "site": page.site})

    def _request_record(self, exchange: Exchange, date: str, concurrent_to: str
                        ) -> ArcWarcRecord:
        http = StatusAndHeaders(exchange.request_line, exchange.request_headers,
                                is_http_request=True)
        body = exchange.request_body
        return self.builder.create_warc_record(
            exchange.url, "request", payload=BytesIO(body), length=len(body),
            http_headers=http,
            warc_headers_dict={"WARC-Record-ID": new_record_id(), "WARC-Date": date,
                               "WARC-Concurrent-To": concurrent_to})

    def _response_record(self, exchange: Exchange, date: str, response_id: str,
                         dedup: Dedup) -> ArcWarcRecord:
        headers = [(k, v) for k, v in exchange.response_headers
                   if k.lower() != "transfer-encoding"]
        http = StatusAndHeaders(exchange.status_line, headers, protocol=exchange.protocol)
        warc_headers = {"WARC-Record-ID": response_id, "WARC-Date": date,
                        "WARC-Payload-Digest": dedup.digest}
        if exchange.truncated:
            warc_headers["WARC-Truncated"] = exchange.truncated
        return response_or_revisit(self.builder, exchange.url, exchange.body, http,
                                   warc_headers, dedup)


@dataclass
class RecordingProxy:
    """The proxy of one browser tab: listens on an ephemeral loopback port from `start` to
    `close`, records through `recorder` for the page named by `begin`, answers 503 past
    `max_resources` requests of a page and 403 to what `allow` refuses."""

    recorder: WireRecorder
    page: PageOfRequests
    upstream: str | None  # "http://host:port" of the network's proxy, or None: direct
    timeout: float
    max_resources: int
    max_bytes: int
    ca: CrawlCA | None = None  # without one, https is refused (not tunnelled unrecorded)
    allow: Allow | None = None
    verify_origins: bool = False
    fetched: list[str] = field(default_factory=list)  # URLs recorded, in order
    refused: int = 0
    watch: NetworkWatch = field(default_factory=NetworkWatch)  # what the browser asked for
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _origin_tls: ssl.SSLContext | None = None
    _document: Document | None = None

    async def start(self) -> str:
        """Start listening; returns the proxy's URL for the browser."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0,
                                                  limit=_HEAD_LIMIT)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def begin(self, page: PageOfRequests, document: Document | None = None) -> None:
        """From now on, requests are the ones of `page`, counted afresh; the first request
        for `document`'s URL is answered with it (the page as the crawler fetched and
        recorded it: not fetched again, not recorded twice)."""
        self.page, self.fetched, self.refused = page, [], 0
        self._document = document

    async def end(self) -> None:
        """Drop every exchange still under way (not recorded): the page is done."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def close(self) -> None:
        """Stop listening, and drop every exchange still under way."""
        if self._server is not None:
            self._server.close()
        await self.end()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the browser hung up or spoke nonsense: nothing was forwarded to record
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                     ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, headers = _parse_head(head)
        method, target, _version = request_line.split(" ", 2)
        # in flight from the request's head (or its tunnel's) to the answer's last byte
        self.watch.began(f"https://{target}/" if method == "CONNECT" else target)
        try:
            if method == "CONNECT":
                await self._intercept(target, reader, writer)
            elif target.startswith("http://"):
                await self._exchange(method, target, headers, reader, writer)
            else:
                writer.write(_answer(400, "the proxy takes absolute http:// URLs and CONNECT"))
        finally:
            self.watch.ended()

    async def _intercept(self, authority: str, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """CONNECT: the browser's TLS ended here with a certificate of the crawl's CA, the
        request inside read and handled as an http one is, to https://`authority`."""
        host, port = _host_port(authority, 443)
        origin = f"https://{authority.removesuffix(':443')}"
        if self.ca is None:
            self.recorder.event(origin + "/", self.page, "error",
                                "https: no CA to intercept it with, not fetched")
            writer.write(_answer(501, "https is not intercepted by this proxy"))
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await writer.start_tls(self.ca.server_context(host))
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, headers = _parse_head(head)
        method, target, _version = request_line.split(" ", 2)
        if not target.startswith("/"):
            writer.write(_answer(400, "origin-form request expected inside the tunnel"))
            return
        await self._exchange(method, origin + target, headers, reader, writer)

    async def _exchange(self, method: str, url: str, headers: Headers,
                        reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request of the browser: refused, or forwarded, recorded and answered."""
        length = int(_header(headers, "content-length") or 0)
        body = await reader.readexactly(length) if length else b""
        document = self._document
        if document is not None and url == document.url and method == "GET":
            self._document = None
            writer.write(_document_answer(document))
            await writer.drain()
            return
        refusal = await self._refusal(url)
        if refusal:
            self.refused += 1
            status, why = refusal
            self.recorder.event(url, self.page, "excluded", why)
            writer.write(_answer(status, f"refused by the recording proxy: {why}"))
            return
        try:
            exchange, raw = await asyncio.wait_for(
                self._forward(method, url, headers, body), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            why = f"timeout after {self.timeout:g} s" if isinstance(exc, TimeoutError) \
                else f"{type(exc).__name__}: {exc}"
            self.refused += 1
            self.recorder.event(url, self.page, "error", why)
            writer.write(_answer(502, why))
            return
        self.fetched.append(exchange.url)
        self.recorder.record(exchange, self.page)
        writer.write(raw)
        await writer.drain()

    async def _refusal(self, url: str) -> tuple[int, str] | None:
        """(the proxy's status, the crawl log's why) for a request not to fetch, or None."""
        if self.allow is not None:
            why = await self.allow(url)
            if why:
                return 403, why
        if len(self.fetched) + self.refused >= self.max_resources:
            return 503, "limit:browser-resources"
        return None

    async def _forward(self, method: str, url: str, headers: Headers, body: bytes
                       ) -> tuple[Exchange, bytes]:
        """Send the request on, read the whole response; the exchange, and the response's
        bytes for the browser (its Connection header set to close)."""
        sent = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        # the plain crawler asks for what archives replay; brotli and zstd are not read by
        # warcio and pywb (for http:// Chromium asks for gzip and deflate anyway)
        sent = [(k, "gzip, deflate") if k.lower() == "accept-encoding" else (k, v)
                for k, v in sent]
        sent.append(("Connection", "close"))
        started = datetime.now(UTC)
        upstream_reader, upstream_writer, target = await self._connect(url)
        line = f"{method} {target} HTTP/1.1"
        try:
            upstream_writer.write(_serialize(line, sent) + body)
            await upstream_writer.drain()
            head = await upstream_reader.readuntil(b"\r\n\r\n")
            status_line, response_headers = _parse_head(head)
            protocol, _, status = status_line.partition(" ")
            code = int(status.split(" ", 1)[0])
            raw_body, payload, truncated = await _read_body(
                upstream_reader, response_headers, code, method, self.max_bytes)
        finally:
            upstream_writer.close()
        exchange = Exchange(url, method, line, sent, body, protocol, status,
                            response_headers, payload, truncated, started)
        to_browser = [(k, v) for k, v in response_headers if k.lower() != "connection"]
        to_browser += [_NO_STORE, ("Connection", "close")]
        return exchange, _serialize(status_line, to_browser) + raw_body

    async def _connect(self, url: str
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
        """A connection on which to send the request for `url`, and the request target to
        send on it: absolute to the upstream proxy for http, origin-form to the origin (or
        inside the upstream proxy's CONNECT tunnel, over TLS) for https."""
        parts = urlsplit(url)
        origin_form = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        secure = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if secure else 80)
        if self.upstream:
            proxy = urlsplit(self.upstream)
            reader, writer = await asyncio.open_connection(
                proxy.hostname, proxy.port or 80, limit=_HEAD_LIMIT)
            if not secure:
                return reader, writer, url
            await _tunnel_through(reader, writer, parts.netloc if parts.port
                                  else f"{parts.netloc}:443")
        else:
            reader, writer = await asyncio.open_connection(host, port, limit=_HEAD_LIMIT)
        if secure:
            if self._origin_tls is None:
                self._origin_tls = origin_context(self.verify_origins)
            await writer.start_tls(self._origin_tls, server_hostname=host)
        return reader, writer, origin_form


async def _tunnel_through(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          authority: str) -> None:
    """Ask the upstream proxy for a tunnel to `authority`; OSError if it does not give one."""
    writer.write(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    await writer.drain()
    status_line, _headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
    if status_line.split(" ", 2)[1:2] != ["200"]:
        writer.close()
        raise OSError(f"the upstream proxy refused the tunnel: {status_line[:80]}")


def _host_port(authority: str, default: int) -> tuple[str, int]:
    """("127.0.0.1", 8443) of "127.0.0.1:8443"; IPv6 brackets dropped."""
    host, sep, port = authority.rpartition(":")
    if not sep or "]" in port:
        host, port = authority, ""
    return host.strip("[]"), int(port) if port.isdigit() else default


async def _read_body(reader: asyncio.StreamReader, headers: Headers, status: int, method: str,
                     limit: int) -> tuple[bytes, bytes, str | None]:
    """(the body's bytes as sent, the payload de-chunked, WARC-Truncated reason or None)."""
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b"", b"", None
    limit = limit or (1 << 62)
    if "chunked" in _header(headers, "transfer-encoding").lower():
        raw, payload = bytearray(), bytearray()
        try:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                raw += size_line
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                        raw += trailer
                    raw += b"\r\n"
                    return bytes(raw), bytes(payload), None
                chunk = await reader.readexactly(size + 2)
                raw += chunk
                payload += chunk[:-2]
                if len(payload) > limit:
                    return bytes(raw), bytes(payload[:limit]), "length"
        except asyncio.IncompleteReadError as exc:
            raw += exc.partial
            return bytes(raw), bytes(payload), "disconnect"
    length = _header(headers, "content-length")
    if length.strip().isdigit():
        want = int(length)
        try:
            body = await reader.readexactly(min(want, limit))
        except asyncio.IncompleteReadError as exc:
            return exc.partial, exc.partial, "disconnect"
        return body, body, "length" if want > limit else None
    body = await reader.read(limit)  # the body ends where the connection does
    cut = "length" if len(body) == limit and await reader.read(1) else None
    return body, body, cut


def _parse_head(head: bytes) -> tuple[str, Headers]:
    """The first line and the header lines of an HTTP message head, as received."""
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line[:60]!r}")
        headers.append((name, value.strip()))
    return lines[0], headers


def _serialize(first_line: str, headers: Headers) -> bytes:
    lines = [first_line] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _header(headers: Headers, name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def _document_answer(document: Document) -> bytes:
    """The page's response for the browser, body whole and decoded (never recorded)."""
    headers = [(k, line) for k, v in document.headers.items() for line in v.split("\n")]
    headers += [("Content-Length", str(len(document.body))), _NO_STORE,
                ("Connection", "close")]
    try:
        reason = HTTPStatus(document.status).phrase
    except ValueError:
        reason = "Status"
    return _serialize(f"HTTP/1.1 {document.status} {reason}", headers) + document.body


def _answer(status: int, why: str) -> bytes:
    """The proxy's own answer to the browser (never recorded)."""
    body = why.encode()
    return _serialize(f"HTTP/1.1 {status} Proxy", [
        ("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
        ("Connection", "close")]) + body
