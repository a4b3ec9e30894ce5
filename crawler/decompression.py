"""Content-Encoding undone before parsing, in a bounded stream.

Scrapy's HttpCompressionMiddleware inflates a body whole (DOWNLOAD_MAXSIZE 0), or drops the
response that inflates past DOWNLOAD_MAXSIZE: one gzip bomb either takes the crawl's memory or
loses the page. This middleware takes its place (590): the body is inflated to at most the
response size limit, what fits is parsed, and a body cut there is said so in the crawl log.
The recorder (950) has already stored the body as it came off the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.responsetypes import responsetypes

from crawler import signals as our_signals
from index.inflate import DEFAULT_LIMIT, codings, inflate, known

CUT = "cut"  # the crawl-log outcome of a body that inflates past the limit


def cut_why(limit: int) -> str:
    """The crawl log's reason for a body cut while inflating."""
    return f"inflates past {limit} bytes: only the first {limit} were read"


class BoundedDecompression:
    """Downloader middleware: the response's Content-Encoding undone, to at most `limit`
    bytes (PALIMPSEST_MAX_RESPONSE_BYTES; when that is 0, the default limit)."""

    def __init__(self, crawler: Crawler, limit: int) -> None:
        self.crawler = crawler
        self.limit = limit if limit > 0 else DEFAULT_LIMIT

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BoundedDecompression:
        return cls(crawler, crawler.settings.getint("PALIMPSEST_MAX_RESPONSE_BYTES"))

    def process_response(self, request: Request, response: Response) -> Response:
        coding = b", ".join(response.headers.getlist("Content-Encoding")).decode("latin-1")
        names = codings(coding)
        # a coding we cannot undo (zstd, which we do not ask for) leaves the body as received
        if request.method == "HEAD" or not names or not all(map(known, names)):
            return response
        inflated = inflate(response.body, coding, self.limit)
        if inflated.cut:
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            self.crawler.signals.send_catch_log(our_signals.crawl_event, entry={
                "time": now, "url": response.url, "outcome": CUT,
                "why": cut_why(self.limit)})
        kind = responsetypes.from_args(headers=response.headers, url=response.url,
                                       body=inflated.body)
        # TextResponse: guess the encoding from the decoded body, as Scrapy's middleware does
        extra = {"encoding": None} if issubclass(kind, TextResponse) else {}
        decoded = response.replace(cls=kind, body=inflated.body, **extra)
        del decoded.headers["Content-Encoding"]
        return decoded
