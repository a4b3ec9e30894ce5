"""The recording proxy: an HTTP forward proxy on 127.0.0.1 that the browser fetches through,
writing every exchange it forwards as WARC request and response (or revisit) records.

One proxy serves one page's browser context, so that each recorded request knows the page it
was made for (the crawl log's `via` and hop path). It forwards to the network's upstream proxy
(the sample network is one) or straight to the origin, and records what it sent and what came
back: the request line and headers as forwarded, the server's status line (its reason phrase
included), its header names and values as received, and its body as received: still
content-encoded. Chunked bodies are stored de-chunked and the Transfer-Encoding header is left
out of the record (readers then see a body whose length is the record's); header lines are
written back as "Name: value". The dedup rule, the WARC files and the crawl log are the plain
crawler's (`recorder.dedup_of`, the `warc_records` and `crawl_event` signals).

https:// is tunnelled (CONNECT) and not recorded: recording it would need TLS interception,
which we do not do. The tunnel is logged as such.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import signals as our_signals
from crawler.dedup import PayloadHistory
from crawler.recorder import Dedup, dedup_of, response_or_revisit
from crawler.warc_writer import WARC_VERSION, new_record_id, warc_date
from index.extract import media_type

Headers = list[tuple[str, str]]

# what the browser says to its proxy, not to the server
_HOP_BY_HOP = {"proxy-connection", "connection", "keep-alive", "proxy-authorization", "te",
               "upgrade", "trailer"}
_HEAD_LIMIT = 1 << 20


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
            first = dedup.original.warc_date if dedup.original else date
            self.history.remember(exchange.url, dedup.digest, first)
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
    """The proxy of one page: listens on an ephemeral loopback port from `start` to `close`,
    records through `recorder`, answers 503 past `max_resources` requests."""

    recorder: WireRecorder
    page: PageOfRequests
    upstream: str | None  # "http://host:port" of the network's proxy, or None: direct
    timeout: float
    max_resources: int
    max_bytes: int
    fetched: list[str] = field(default_factory=list)  # URLs recorded, in order
    refused: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def start(self) -> str:
        """Start listening; returns the proxy's URL for the browser."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0,
                                                  limit=_HEAD_LIMIT)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Stop listening and drop every exchange still under way (not recorded)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

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
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
            return
        if not target.startswith("http://"):
            writer.write(_answer(400, "the proxy takes absolute http:// URLs"))
            return
        length = int(_header(headers, "content-length") or 0)
        body = await reader.readexactly(length) if length else b""
        if len(self.fetched) + self.refused >= self.max_resources:
            self.refused += 1
            self.recorder.event(target, self.page, "excluded", "limit:browser-resources")
            writer.write(_answer(503, "resource limit of the page reached"))
            return
        try:
            exchange, raw = await asyncio.wait_for(
                self._forward(method, target, headers, body), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            why = f"timeout after {self.timeout:g} s" if isinstance(exc, TimeoutError) \
                else f"{type(exc).__name__}: {exc}"
            self.refused += 1
            self.recorder.event(target, self.page, "error", why)
            writer.write(_answer(502, why))
            return
        self.fetched.append(exchange.url)
        self.recorder.record(exchange, self.page)
        writer.write(raw)
        await writer.drain()

    async def _forward(self, method: str, url: str, headers: Headers, body: bytes
                       ) -> tuple[Exchange, bytes]:
        """Send the request on, read the whole response; the exchange, and the response's
        bytes for the browser (its Connection header set to close)."""
        parts = urlsplit(url)
        if self.upstream:
            proxy = urlsplit(self.upstream)
            host, port, target = proxy.hostname, proxy.port or 80, url
        else:
            host, port = parts.hostname, parts.port or 80
            target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        sent = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        # the plain crawler asks for what archives replay; brotli and zstd are not read by
        # warcio and pywb (for http:// Chromium asks for gzip and deflate anyway)
        sent = [(k, "gzip, deflate") if k.lower() == "accept-encoding" else (k, v)
                for k, v in sent]
        sent.append(("Connection", "close"))
        started = datetime.now(UTC)
        line = f"{method} {target} HTTP/1.1"
        upstream_reader, upstream_writer = await asyncio.open_connection(
            host, port, limit=_HEAD_LIMIT)
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
        to_browser.append(("Connection", "close"))
        return exchange, _serialize(status_line, to_browser) + raw_body

    async def _tunnel(self, target: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """CONNECT: bytes relayed both ways, unrecorded (TLS we do not intercept)."""
        self.recorder.event("https://" + target + "/", self.page, "tunnelled",
                            "https: tunnelled, not recorded (no TLS interception)")
        if self.upstream:
            proxy = urlsplit(self.upstream)
            up_reader, up_writer = await asyncio.open_connection(proxy.hostname,
                                                                 proxy.port or 80)
            up_writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        else:
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"),
                                                                 int(port or 443))
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


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


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


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


def _answer(status: int, why: str) -> bytes:
    """The proxy's own answer to the browser (never recorded)."""
    body = why.encode()
    return _serialize(f"HTTP/1.1 {status} Proxy", [
        ("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
        ("Connection", "close")]) + body
