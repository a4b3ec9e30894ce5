"""robots.txt as RFC 9309 reads it, in place of Scrapy's RobotsTxtMiddleware.

Scrapy's middleware takes any answer but a parsable file as "allow all", retries a hanging
robots.txt like a page and logs a traceback. RFC 9309 section 2.3.1 says otherwise: a 4xx
answer (or too many redirects) means no rules, so allow all; a 5xx answer or an unreachable
server means complete disallow. Each robots.txt is fetched once per origin, from the seed's
own scheme://host:port, in its site's download slot, not retried (one download timeout bounds
a hanging one), and a "disallow-all" line in the crawl log says why a site was closed.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request, signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from crawler import signals as our_signals
from crawler.crawl_log import failure_reason, log_time

# what a fetch that never got an answer raises (Scrapy wraps Twisted's errors in these)
UNREACHABLE = (CannotResolveHostError, DownloadConnectionRefusedError, DownloadFailedError,
               DownloadTimeoutError, ResponseDataLossError, OSError, TimeoutError)


class RobotsUnavailable(IgnoreRequest):
    """The site's robots.txt answered 5xx or could not be fetched: nothing may be fetched."""


class _DisallowAll:
    def allowed(self, url: str, user_agent: Any) -> bool:
        return False


DISALLOW_ALL = _DisallowAll()


class RobotsPolicy(RobotsTxtMiddleware):
    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            waiting: Deferred = Deferred()
            self._parsers[netloc] = waiting
            parser = None
            try:
                parser = await self._fetch(request)
            finally:  # requests waiting for this origin go on, whatever happened
                self._parsers[netloc] = parser
                waiting.callback(parser)
            return parser
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    def process_request_2(self, rp: Any, request: Request) -> None:
        if rp is DISALLOW_ALL:
            raise RobotsUnavailable("robots.txt unavailable: complete disallow (RFC 9309)")
        super().process_request_2(rp, request)

    async def _fetch(self, request: Request) -> Any:
        """The parser for the robots.txt of `request`'s origin, as RFC 9309 2.3.1 reads the
        answer; DISALLOW_ALL for a 5xx or an unreachable server."""
        parts = urlparse_cached(request)
        url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        meta = {"dont_obey_robotstxt": True, "dont_retry": True, "robots_policy": True,
                "reason": "robots", "hops": "P", "via": ""}
        for key in ("site", "download_slot", "allow_offsite"):
            if key in request.meta:
                meta[key] = request.meta[key]
        robots = Request(url, priority=self.DOWNLOAD_PRIORITY, meta=meta, callback=NO_CALLBACK)
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest:
            return None  # e.g. more than the redirects allowed: "unavailable", allow all
        except UNREACHABLE as exc:
            self._closed(url, request, f"robots.txt unreachable: {failure_reason(exc)}")
            return DISALLOW_ALL
        return await self._parse(response, url, request)

    async def _parse(self, response: Response, url: str, request: Request) -> Any:
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500:
            self._closed(url, request, f"robots.txt answered {response.status}")
            return DISALLOW_ALL
        body = response.body if 200 <= response.status < 300 else b""
        parser = build_from_crawler(self._parserimpl, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request)
        return parser

    def _closed(self, url: str, request: Request, why: str) -> None:
        entry = {"time": log_time(), "url": url, "outcome": "disallow-all",
                 "why": f"{why}: nothing fetched from this origin (RFC 9309 2.3.1.4)",
                 "site": request.meta.get("site")}
        self.crawler.signals.send_catch_log(our_signals.crawl_event, entry=entry)
