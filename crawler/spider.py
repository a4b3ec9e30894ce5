"""One spider for the whole network: seeds, links, page requisites and sitemaps of every site,
each request carrying why it was made and its hop path from the seed.

Recording is not the spider's business (the recorder middleware does it); the spider decides
what to follow, through the Frontier, and reports what it refused and why.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler import signals as our_signals
from crawler.frontier import Frontier
from crawler.links import Outlink, css_outlinks, html_outlinks
from crawler.resume import ResumePlan
from index.config import Site

_HTML = ("text/html", "application/xhtml+xml")
_REASONS = {"E": "requisite", "R": "redirect", "L": "link"}


class NetworkSpider(Spider):
    name = "palimpsest"

    def __init__(self, sites: tuple[Site, ...], frontier: Frontier, robots: dict[str, bool],
                 resume: ResumePlan | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.network_sites = sites
        self.frontier = frontier
        self.robots = robots
        self.resume = resume
        self.seen: set[str] = set(resume.done) if resume else set()
        self._sitemaps_from_robots: set[str] = set()
        hosts = {h for s in sites for h in s.hosts}
        self.allowed_domains = sorted(hosts)  # OffsiteMiddleware keeps redirects in scope

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NetworkSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._robots_received, signals.response_received)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for site in self.network_sites:
            for seed in site.seeds:
                if seed not in self.seen:
                    self.seen.add(seed)
                    self.frontier.admit(seed, "L", "")
                    yield self._request(seed, site, reason="seed", hops="", via="")
            if not self.robots[site.name]:
                # robots.txt is not fetched by Scrapy for this site; we still want its sitemaps
                robots = f"{urlsplit(site.seeds[0]).scheme}://{site.hosts[0]}/robots.txt"
                yield self._request(robots, site, reason="robots", hops="P", via="",
                                    callback=self.parse_robots)
        if self.resume:
            for url in self.resume.pages:
                self.frontier.mark_done(url)
            for parent in self.resume.parsed:
                for request in self._follow_all(parent.outlinks, parent.url, parent.hops):
                    yield request

    def parse(self, response: Response) -> Iterator[Request]:
        mime = _mime(response)
        if mime in _HTML:
            outlinks = html_outlinks(response.body, response.url, _charset(response))
        elif mime == "text/css":
            outlinks = css_outlinks(response.body, response.url)
        else:
            return
        self.crawler.signals.send_catch_log(our_signals.document_parsed, response=response,
                                            outlinks=outlinks)
        yield from self._follow_all(outlinks, response.url, response.meta["hops"])

    def parse_robots(self, response: Response) -> Iterator[Request]:
        site = self.frontier.site_of(response.url)
        text = response.body if response.status == 200 else b""
        urls = list(sitemap_urls_from_robots(text, base_url=response.url))
        if not urls:
            urls = [response.urljoin("/sitemap.xml")]
        for url in urls:
            if url not in self.seen and site is not None:
                self.seen.add(url)
                yield self._request(url, site, reason="sitemap", hops="P", via=response.url,
                                    callback=self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        try:
            sitemap = Sitemap(body)
        except (etree.LxmlError, ValueError):  # not XML, or not a sitemap
            self._event(response.url, "error", why="unparsable sitemap")
            return
        locs = [entry["loc"] for entry in sitemap if entry.get("loc")]
        if sitemap.type == "sitemapindex":
            outlinks = [Outlink(u, "P", "sitemap/loc") for u in locs]
        else:
            outlinks = [Outlink(u, "L", "sitemap/loc") for u in locs]
        self.crawler.signals.send_catch_log(our_signals.document_parsed, response=response,
                                            outlinks=outlinks)
        yield from self._follow_all(outlinks, response.url, response.meta["hops"],
                                    reason="sitemap")

    def errback(self, failure: Failure) -> None:
        request = failure.request
        if failure.check(HttpError):
            return  # recorded with its status by the recorder
        if failure.check(IgnoreRequest):
            message = str(failure.value)
            why = "robots" if "robots.txt" in message else "scope"
            self._event(request.url, "excluded", why=why)
        else:
            self._event(request.url, "error", why=failure.getErrorMessage() or
                        type(failure.value).__name__)

    def _follow_all(self, outlinks: list[Outlink] | tuple[Outlink, ...], parent: str, hops: str,
                    reason: str | None = None) -> Iterator[Request]:
        for link in outlinks:
            if link.url in self.seen:
                continue
            self.seen.add(link.url)
            hop = link.hop if link.hop in ("E", "R") else "L"
            why = self.frontier.admit(link.url, "E" if hop == "E" else "L", hops)
            if why:
                self._event(link.url, "excluded", why=why, via=parent)
                continue
            site = self.frontier.site_of(link.url)
            assert site is not None
            if link.hop == "P":  # a sitemap named in a sitemap index
                yield self._request(link.url, site, reason="sitemap", hops=hops + "P",
                                    via=parent, callback=self.parse_sitemap)
                continue
            yield self._request(link.url, site,
                                reason=reason or _REASONS[hop],
                                hops=hops + hop, via=parent)

    def _request(self, url: str, site: Site, *, reason: str, hops: str, via: str,
                 callback: Any = None) -> Request:
        meta = {"site": site.name, "reason": reason, "hops": hops, "via": via}
        if not self.robots[site.name]:
            meta["dont_obey_robotstxt"] = True
        return Request(url, callback=callback or self.parse, errback=self.errback, meta=meta,
                       priority=-len(hops))

    def _robots_received(self, response: Response, request: Request, spider: Any) -> None:
        """Sitemaps named in a robots.txt that Scrapy's RobotsTxtMiddleware fetched."""
        if not (request.meta.get("dont_obey_robotstxt") and "reason" not in request.meta
                and urlsplit(response.url).path == "/robots.txt"):
            return
        site = self.frontier.site_of(response.url)
        if site is None or response.url in self._sitemaps_from_robots:
            return
        self._sitemaps_from_robots.add(response.url)
        for sitemap_request in self.parse_robots(response):
            self.crawler.engine.crawl(sitemap_request)

    def _event(self, url: str, outcome: str, **fields: Any) -> None:
        entry = {"time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "url": url,
                 "outcome": outcome, **fields}
        self.crawler.signals.send_catch_log(our_signals.crawl_event, entry=entry)


def _mime(response: Response) -> str:
    value = response.headers.get("Content-Type") or b""
    return value.split(b";")[0].strip().decode("latin-1").lower()


def _charset(response: Response) -> str | None:
    """The charset the Content-Type header declares, if any. Scrapy's `response.encoding`
    decodes the whole body to guess; lxml reads a <meta charset> by itself."""
    value = (response.headers.get("Content-Type") or b"").decode("latin-1")
    for param in value.split(";")[1:]:
        name, _, charset = param.strip().partition("=")
        if name.lower() == "charset" and charset:
            return charset.strip("\"' ")
    return None
