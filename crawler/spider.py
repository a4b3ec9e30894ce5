"""One spider for the whole network: seeds, links, page requisites and sitemaps of every site,
each request carrying why it was made and its hop path from the seed.

Recording is not the spider's business (the recorder middleware does it); the spider decides
what to follow, through the Frontier, and reports what it refused and why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from lxml import etree
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler import signals as our_signals
from crawler.crawl_log import failure_reason, log_time
from crawler.decompression import CUT, cut_why
from crawler.frontier import Frontier
from crawler.links import Outlink, css_outlinks, html_outlinks
from crawler.resume import ResumePlan
from crawler.robots import RobotsUnavailable
from index.config import Site
from index.extract import HTML_TYPES, charset_of, media_type
from index.inflate import inflate

_REASONS = {"E": "requisite", "R": "redirect", "L": "link"}
# request meta key of what the browser made of a page (crawler.browser_capture.BrowserPage)
BROWSER_PAGE = "browser_page"


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
        self.listed: tuple[str, ...] = ()  # a crawl of these URLs only (from_crawler)
        self._sitemaps_from_robots: set[str] = set()
        self._sites = {s.name: s for s in sites}
        hosts = {h for s in sites for h in s.hosts}
        self.allowed_domains = sorted(hosts)  # OffsiteMiddleware keeps redirects in scope

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NetworkSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._robots_received, signals.response_received)
        spider.listed = tuple(crawler.settings.getlist("PALIMPSEST_ONLY_URLS"))
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if self.listed:
            for request in self._listed_requests():
                yield request
            return
        for site in self.network_sites:
            for seed in site.seeds:
                if seed not in self.seen:
                    self.seen.add(seed)
                    self.frontier.admit(seed, "L", "")
                    yield self._request(seed, site, reason="seed", hops="", via="")
            if not self.robots[site.name]:
                # robots.txt is not fetched by the robots middleware for this site; we still
                # want its sitemaps, from each seed's own scheme://host:port
                for origin in site.origins:
                    robots = origin + "/robots.txt"
                    if robots not in self.seen:
                        self.seen.add(robots)
                        yield self._request(robots, site, reason="robots", hops="P", via="",
                                            callback=self.parse_robots)
        if self.resume:
            for url in self.resume.pages:
                self.frontier.mark_done(url)
            for parent in self.resume.parsed:
                site = self._sites.get(parent.site) or self.network_sites[0]
                for request in self._follow_all(parent.outlinks, parent.url, parent.hops, site):
                    yield request

    def _listed_requests(self) -> Iterator[Request]:
        """A crawl of given URLs only (CrawlOptions.urls): each one in scope, as a seed."""
        for url in dict.fromkeys(self.listed):
            self.seen.add(url)
            site = self.frontier.site_of(url)
            why = self.frontier.admit(url, "L", "") if site else "scope"
            if why:
                self._event(url, "excluded", why=why, site=site.name if site else None)
                continue
            yield self._request(url, site, reason="seed", hops="", via="")

    def parse(self, response: Response) -> Iterator[Request]:
        mime = media_type(_content_type(response))
        if mime in HTML_TYPES:
            # the header's charset, not Scrapy's `response.encoding`, which decodes the whole
            # body to guess; lxml reads a <meta charset> by itself
            outlinks = html_outlinks(response.body, response.url,
                                     charset_of(_content_type(response)))
            rendered = response.meta.get(BROWSER_PAGE)
            if rendered is not None:
                outlinks = self._rendered_outlinks(rendered, response.url, outlinks)
        elif mime == "text/css":
            outlinks = css_outlinks(response.body, response.url)
        else:
            return
        self.crawler.signals.send_catch_log(our_signals.document_parsed, response=response,
                                            outlinks=outlinks)
        yield from self._follow_all(outlinks, response.url, response.meta["hops"],
                                    self._site_of(response))

    def _rendered_outlinks(self, rendered: Any, url: str, static: list[Outlink]
                           ) -> list[Outlink]:
        """A page the browser visited: what the browser fetched is not fetched again; its
        links are those of the rendered DOM, then any of the document's own that script
        removed."""
        self.seen.update(rendered.fetched)
        if rendered.dom is None:
            return static
        found = html_outlinks(rendered.dom, url, "utf-8")
        urls = {o.url for o in found}
        return found + [o for o in static if o.url not in urls]

    def parse_robots(self, response: Response) -> Iterator[Request]:
        site = self._site_of(response)
        text = response.body if response.status == 200 else b""
        urls = list(sitemap_urls_from_robots(text, base_url=response.url))
        if not urls:
            urls = [response.urljoin("/sitemap.xml")]
        for url in urls:
            if url not in self.seen:
                self.seen.add(url)
                yield self._request(url, self.frontier.site_of(url) or site, reason="sitemap",
                                    hops="P", via=response.url, callback=self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        body = response.body
        if body[:2] == b"\x1f\x8b":  # a sitemap.xml.gz: gzip as the file's format, not a coding
            limit = self.crawler.settings.getint("PALIMPSEST_MAX_RESPONSE_BYTES")
            inflated = inflate(body, "gzip", limit)
            body = inflated.body
            if inflated.cut:
                self._event(response.url, CUT, why=cut_why(len(body)))
        try:
            outlinks = sitemap_outlinks(body)
        except ValueError as exc:  # not XML, or not a sitemap
            self._event(response.url, "error", why=str(exc))
            return
        if not outlinks:
            self._event(response.url, "skipped", why="empty sitemap")
            return
        self.crawler.signals.send_catch_log(our_signals.document_parsed, response=response,
                                            outlinks=outlinks)
        yield from self._follow_all(outlinks, response.url, response.meta["hops"],
                                    self._site_of(response), reason="sitemap")

    def errback(self, failure: Failure) -> None:
        request = failure.request
        site = request.meta.get("site")
        if failure.check(HttpError):  # recorded with its status by the recorder
            self._unfollowed_redirect(failure.value.response, site)
            return
        if failure.check(IgnoreRequest):
            self._event(request.url, "excluded", why=_ignored_why(failure.value), site=site)
        else:
            self._event(request.url, "error", why=failure_reason(failure.value), site=site)

    def _unfollowed_redirect(self, response: Response, site: str | None) -> None:
        """Log the target of a redirect that RedirectMiddleware passed on unfollowed (a
        Location that is not http(s), or a 3xx status it does not follow)."""
        location = response.headers.get("Location")
        if not (300 <= response.status < 400 and location):
            return
        target = response.urljoin(location.decode("latin-1"))
        why = ("redirect:unsupported-scheme" if not target.startswith(("http://", "https://"))
               else f"redirect:not-followed-{response.status}")
        self._event(target, "excluded", why=why, via=response.url, site=site)

    def _follow_all(self, outlinks: list[Outlink] | tuple[Outlink, ...], parent: str, hops: str,
                    parent_site: Site, reason: str | None = None) -> Iterator[Request]:
        if self.listed:  # the listed URLs only: their links wait for the next crawl
            return
        for link in outlinks:
            if link.url in self.seen:
                continue
            self.seen.add(link.url)
            hop = link.hop if link.hop in ("E", "R", "P") else "L"
            why = self.frontier.admit(link.url, "L" if hop == "R" else hop, hops)
            if why:
                self._event(link.url, "excluded", why=why, via=parent, site=parent_site.name)
                continue
            # a requisite from outside every site is fetched for the page that needs it
            site = self.frontier.site_of(link.url) or parent_site
            if link.hop == "P":  # a sitemap named in a sitemap index
                yield self._request(link.url, site, reason="sitemap", hops=hops + "P",
                                    via=parent, callback=self.parse_sitemap)
                continue
            yield self._request(link.url, site,
                                reason=reason or _REASONS[hop],
                                hops=hops + hop, via=parent)

    def _request(self, url: str, site: Site, *, reason: str, hops: str, via: str,
                 callback: Any = None) -> Request:
        meta = {"site": site.name, "reason": reason, "hops": hops, "via": via,
                # one download slot per site, whatever host and port it is on
                "download_slot": site.name}
        if not self.robots[site.name]:
            meta["dont_obey_robotstxt"] = True
        if reason == "robots":  # one download timeout bounds a hanging robots.txt
            meta["dont_retry"] = True
        if hops.endswith("E"):  # requisites come from anywhere; OffsiteMiddleware is for links
            meta["allow_offsite"] = True
        return Request(url, callback=callback or self.parse, errback=self.errback, meta=meta,
                       priority=-len(hops))

    def _robots_received(self, response: Response, request: Request, spider: Any) -> None:
        """Sitemaps named in a robots.txt that the robots middleware fetched."""
        if not request.meta.get("robots_policy") or "site" not in request.meta:
            return
        if self.listed:  # a crawl of given URLs fetches no sitemap either
            return
        if response.status >= 500:  # the origin is closed to us (robots.py)
            return
        if response.url in self._sitemaps_from_robots:
            return
        self._sitemaps_from_robots.add(response.url)
        for sitemap_request in self.parse_robots(response):
            self.crawler.engine.crawl(sitemap_request)

    def _site_of(self, response: Response) -> Site:
        """The site a response was fetched for."""
        return self._sites[response.meta["site"]]

    def _event(self, url: str, outcome: str, **fields: Any) -> None:
        entry = {"time": log_time(), "url": url, "outcome": outcome, **fields}
        self.crawler.signals.send_catch_log(our_signals.crawl_event, entry=entry)


def _ignored_why(exc: BaseException) -> str:
    """The crawl log's reason for a request a middleware refused with IgnoreRequest."""
    message = str(exc)
    if isinstance(exc, RobotsUnavailable):
        return "robots:unavailable"
    if "robots.txt" in message:
        return "robots"
    if "max redirections" in message:
        return "limit:redirects"
    if "offsite" in message:
        return "scope"
    return message or "ignored"


def sitemap_outlinks(body: bytes) -> list[Outlink]:
    """The URLs a sitemap lists: an XML urlset or sitemap index (an index's entries as "P"
    hops), or a plain-text sitemap of one URL per line, as sitemaps.org allows. An empty
    or blank sitemap lists nothing; raise ValueError for anything else."""
    text = body.lstrip(b"\xef\xbb\xbf").strip()
    if not text:
        return []
    if not text.startswith(b"<"):
        lines = (line.strip().decode("utf-8", "replace") for line in text.splitlines())
        urls = [u for u in lines if u.startswith(("http://", "https://"))]
        if not urls:
            raise ValueError("unparsable sitemap: neither XML nor a list of URLs")
        return [Outlink(u, "L", "sitemap/text") for u in urls]
    try:
        sitemap = Sitemap(body)
        entries = [entry["loc"] for entry in sitemap if entry.get("loc")]
    except (etree.LxmlError, ValueError, RuntimeError):  # RuntimeError: a generator's
        raise ValueError("unparsable sitemap") from None  # StopIteration on no root
    if sitemap.type not in ("urlset", "sitemapindex"):
        raise ValueError(f"unparsable sitemap: <{sitemap.type}> is not a sitemap")
    hop = "P" if sitemap.type == "sitemapindex" else "L"
    return [Outlink(u, hop, "sitemap/loc") for u in entries]


def _content_type(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"").decode("latin-1")
