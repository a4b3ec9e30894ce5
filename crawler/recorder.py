"""The WARC recorder: a downloader middleware that turns each fetch into WARC records.

Placed at 950, after every built-in middleware, so `process_response` sees the response as it
came off the wire: body still content-encoded, 3xx not yet followed. It writes nothing itself:
it builds the records and hands them to the WARC files extension through a signal, and reports
each capture to the crawl log.

Fidelity notes (also written into every warcinfo record): Scrapy's HTTP client title-cases
header names and does not keep the connection headers (Connection, Keep-Alive,
Transfer-Encoding) nor the server's reason phrase; bodies arrive de-chunked. We store the
body bytes as received, restore no header we did not see, and write the standard reason phrase.
"""

from __future__ import annotations

import hashlib
from base64 import b32encode
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import signals as our_signals
from crawler.dedup import PayloadHistory, PayloadRef
from crawler.links import Outlink
from crawler.warc_writer import WARC_VERSION, new_record_id, warc_date
from index.extract import media_type

FIDELITY_NOTE = (
    "header names as normalised by Scrapy; connection headers and the reason phrase are not "
    "kept by the HTTP client (the standard phrase is written); bodies stored as received, "
    "de-chunked"
)
# records of the browser's requests, written by the recording proxy (recording_proxy.py)
WIRE_NOTE = (
    "the browser's requests recorded by Palimpsest's recording proxy: the request as "
    "forwarded, the status line, header names and values as received, lines written as "
    "'Name: value'; bodies as received, still content-encoded, de-chunked (Transfer-Encoding "
    "left out); https recorded the same way through TLS interception (a CA made for the crawl, "
    "its certificate in the crawl's tls-ca.pem); the page's own response is the crawler's; the "
    "rendered DOM and screenshots are resource records urn:dom:, urn:fullPage:, "
    "urn:thumbnail: + the page URL, WARC-Concurrent-To the page's response"
)


def payload_digest(body: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode()


def hop_info(request: Request) -> tuple[str, str, str]:
    """(reason fetched, hop path from the seed, the URL it was found on) for a request,
    following a redirect back to the request that led to it."""
    meta = request.meta
    redirects = meta.get("redirect_urls")
    hops = meta.get("hops", "")
    if redirects:
        return "redirect", hops + "R" * len(redirects), redirects[-1]
    return meta.get("reason", "robots"), hops, meta.get("via", "")


def truncation(request: Request, response: Response) -> str | None:
    """The WARC-Truncated reason of a response cut short, or None if it came whole: "length"
    when we stopped it at the size limit (size_limit.py), "disconnect" when the server ended
    the connection before the body it announced (Scrapy's "dataloss" flag, as
    DOWNLOAD_FAIL_ON_DATALOSS = False gives it)."""
    if request.meta.get("palimpsest_truncated"):
        return "length"
    if "dataloss" in response.flags:
        return "disconnect"
    return None


@dataclass(frozen=True, slots=True)
class Dedup:
    """What the payload history says of one response."""

    digest: str  # its payload digest
    original: PayloadRef | None  # the record a revisit refers to; None: write the payload
    outcome: str  # against the URL's last capture: new, changed, unchanged(-revisit), error


def dedup_of(history: PayloadHistory, url: str, status: int, body: bytes,
             truncated: str | None) -> Dedup:
    """Whether a response is written as a revisit, and how it compares with the URL's last
    capture (the recorder's and the browser's recording proxy's one rule)."""
    digest = payload_digest(body)
    previous = history.previous_digest(url)
    original = None
    if 200 <= status < 300 and body and not truncated:
        original = history.original(digest)
    if status >= 500:
        outcome = "error"
    elif previous is None:
        outcome = "new"
    elif previous != digest:
        outcome = "changed"
    else:
        outcome = "unchanged-revisit" if original else "unchanged"
    return Dedup(digest, original, outcome)


def response_or_revisit(builder: WARCWriter, url: str, body: bytes, http: StatusAndHeaders,
                        warc_headers: dict[str, str], dedup: Dedup) -> ArcWarcRecord:
    """The response record of a fetch, or the revisit record that stands for it when the
    collection already holds its payload (`dedup.original`): the plain crawler's and the
    recording proxy's alike."""
    if dedup.original:
        return builder.create_revisit_record(
            url, dedup.digest, dedup.original.url, dedup.original.warc_date,
            http_headers=http, warc_headers_dict=warc_headers)
    return builder.create_warc_record(url, "response", payload=BytesIO(body),
                                      length=len(body), http_headers=http,
                                      warc_headers_dict=warc_headers)


class WarcRecorder:
    def __init__(self, crawler: Crawler, history: PayloadHistory, proxied: bool) -> None:
        self.crawler = crawler
        self.history = history
        self.proxied = proxied
        self.builder = WARCWriter(BytesIO(), gzip=True, warc_version=WARC_VERSION)
        crawler.signals.connect(self.document_parsed, our_signals.document_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcRecorder:
        settings = crawler.settings
        if not settings.get("PALIMPSEST_CRAWL_DIR"):
            raise NotConfigured("no crawl folder to write WARCs into")
        history = settings.get("PALIMPSEST_PAYLOAD_HISTORY")
        if not isinstance(history, PayloadHistory):
            # without one every payload would be written again, with no sign of why
            raise ValueError("PALIMPSEST_PAYLOAD_HISTORY is not a PayloadHistory")
        return cls(crawler, history, proxied=bool(settings.get("PALIMPSEST_PROXY")))

    def process_response(self, request: Request, response: Response) -> Response:
        now = datetime.now(UTC)
        date = warc_date(now)
        truncated = truncation(request, response)
        dedup = self._dedup(response, truncated)
        response_id = new_record_id()
        records = self._records(request, response, date, response_id, dedup, truncated)
        self.crawler.signals.send_catch_log(our_signals.warc_records, records=records)
        if 200 <= response.status < 300 and not truncated:
            self.history.remember(response.url, dedup.digest,
                                  dedup.original or PayloadRef(response.url, date))
        request.meta["warc_record"] = (response_id, date)
        self._log(request, response, now, dedup, truncated)
        return response

    def _dedup(self, response: Response, truncated: str | None) -> Dedup:
        return dedup_of(self.history, response.url, response.status, response.body, truncated)

    def _records(self, request: Request, response: Response, date: str, response_id: str,
                 dedup: Dedup, truncated: str | None) -> list[ArcWarcRecord]:
        """The records of one fetch: request, response (or revisit), and for a redirect a
        metadata record naming its target."""
        url = response.url
        records = [self._request_record(request, url, date, response_id),
                   self._response_record(response, date, response_id, dedup, truncated)]
        if 300 <= response.status < 400 and "Location" in response.headers:
            location = response.urljoin(response.headers["Location"].decode("latin-1"))
            records.append(self._metadata(request, url, date, response_id,
                                          [Outlink(location, "R", "http/Location")]))
        return records

    def _response_record(self, response: Response, date: str, response_id: str,
                         dedup: Dedup, truncated: str | None) -> ArcWarcRecord:
        http = self._response_headers(response)
        warc_headers = {"WARC-Record-ID": response_id, "WARC-Date": date,
                        "WARC-Payload-Digest": dedup.digest}
        if response.ip_address and not self.proxied:
            warc_headers["WARC-IP-Address"] = str(response.ip_address)
        if truncated:
            warc_headers["WARC-Truncated"] = truncated
        return response_or_revisit(self.builder, response.url, response.body, http,
                                   warc_headers, dedup)

    def _log(self, request: Request, response: Response, now: datetime, dedup: Dedup,
             truncated: str | None) -> None:
        """Report the capture to the crawl log."""
        reason, hops, via = hop_info(request)
        self.crawler.signals.send_catch_log(our_signals.crawl_event, entry={
            "time": now.isoformat().replace("+00:00", "Z"), "url": response.url,
            "status": response.status, "bytes": len(response.body), "digest": dedup.digest,
            "outcome": dedup.outcome, "record": "revisit" if dedup.original else "response",
            "truncated": bool(truncated), "reason": reason, "hops": hops, "via": via,
            "mime": _mime(response), "site": request.meta.get("site"),
        })

    def document_parsed(self, response: Response, outlinks: list[Outlink]) -> None:
        """Write the metadata record of a parsed document: why it was fetched, its hop path
        and every outlink found in it."""
        record_id, date = response.meta.get("warc_record", (None, None))
        if record_id is None:  # never recorded (e.g. replayed on resume)
            return
        record = self._metadata(response.request, response.url, date, record_id, outlinks)
        self.crawler.signals.send_catch_log(our_signals.warc_records, records=[record])

    def _metadata(self, request: Request | None, url: str, date: str, concurrent_to: str,
                  outlinks: list[Outlink]) -> ArcWarcRecord:
        reason, hops, via = hop_info(request) if request else ("", "", "")
        lines = [("fetchReason", reason), ("hopsFromSeed", hops or "-"), ("via", via),
                 ("site", request.meta.get("site", "") if request else "")]
        lines += [("outlink", f"{o.url} {o.hop} {o.context}") for o in outlinks]
        body = "".join(f"{k}: {v}\r\n" for k, v in lines if v).encode()
        return self.builder.create_warc_record(
            url, "metadata", payload=BytesIO(body), length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Record-ID": new_record_id(), "WARC-Date": date,
                               "WARC-Concurrent-To": concurrent_to})

    def _response_headers(self, response: Response) -> StatusAndHeaders:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, values in response.headers.items() for v in values]
        status = f"{response.status} {reason}".rstrip()
        return StatusAndHeaders(status, headers, protocol=response.protocol or "HTTP/1.1")

    def _request_record(self, request: Request, url: str, date: str,
                        concurrent_to: str) -> ArcWarcRecord:
        parts = urlsplit(url)
        # through a proxy the request line carries the absolute URI, as it went on the wire
        target = url if self.proxied else (parts.path or "/") + (
            "?" + parts.query if parts.query else "")
        headers = [("Host", parts.netloc)] + [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, values in request.headers.items() for v in values
            if k.lower() != b"proxy-authorization"]
        # the request line is "METHOD target HTTP/1.1" whole: warcio splits the verb off
        http = StatusAndHeaders(f"{request.method} {target} HTTP/1.1", headers,
                                is_http_request=True)
        body = request.body or b""
        return self.builder.create_warc_record(
            url, "request", payload=BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Record-ID": new_record_id(), "WARC-Date": date,
                               "WARC-Concurrent-To": concurrent_to})


def _mime(response: Response) -> str:
    return media_type((response.headers.get("Content-Type") or b"").decode("latin-1"))

