"""Browser capture: a downloader middleware that renders each HTML page of a browser-captured
site in headless Chromium (crawler/browser.py) and records what the browser did.

Placed at 580: the recorder (950) has already written the page's response as it came off the
wire, and decompression (590) has undone its Content-Encoding, so the browser is handed the page
as a browser reads it and does not fetch it again. Pages are rendered in a pool of browser tabs,
one per page rendered at once (PALIMPSEST_BROWSER_PAGES), each with a recording proxy of its
own (crawler/recording_proxy.py) kept for the whole crawl: every other request of the page
goes through the tab's proxy, request and response records on the wire, http and https alike
(https intercepted with a CA made for the crawl, crawler/crawl_ca.py, its certificate kept in
the crawl's folder), revisits and crawl log as for the rest of the crawl. The browser's
requests obey robots.txt as the plain crawler's do: when the page's site obeys it, each
request is checked against the robots.txt of its own origin (fetched once per origin by the
crawl's robots middleware, crawler/robots.py, for the page's site, as for the requisites the
plain crawler takes from other hosts), and a disallowed one is refused by the proxy and logged
"excluded" with why "robots" (or "robots:unavailable"). Then the rendered DOM and the
screenshots are written as `resource` records tied to the page's response record:

    urn:dom:<page url>        text/html; charset=utf-8   the DOM as rendered
    urn:fullPage:<page url>   image/png                  the whole page
    urn:thumbnail:<page url>  image/png                  its top, 320 pixels wide

each with WARC-Concurrent-To the page's response (or revisit) record. The spider follows the
links of the rendered DOM (`BROWSER_PAGE` in the request's meta), and does not fetch again what
the browser fetched.

Each page is bounded: a time limit for the whole visit, a cap on its requests, one retry after
a browser crash, then a logged failure. Whatever the outcome, the crawl log says it in one
line (outcome "rendered" or "render-failed"), and what was recorded before stays recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from warcio.warcwriter import WARCWriter

from crawler import signals as our_signals
from crawler.browser import (
    BrowserCrashed,
    Chromium,
    Document,
    PageBounds,
    Rendering,
    Tab,
    thumbnail,
)
from crawler.crawl_ca import CrawlCA
from crawler.crawl_log import log_time
from crawler.recording_proxy import Allow, PageOfRequests, RecordingProxy, WireRecorder
from crawler.robots import RobotsPolicy
from crawler.spider import BROWSER_PAGE, _ignored_why
from crawler.warc_writer import WARC_VERSION, new_record_id, warc_date
from index.extract import HTML_TYPES, media_type

RENDERED, FAILED = "rendered", "render-failed"
LAUNCH_SECONDS = 60.0  # for Chromium to start


@dataclass(frozen=True)
class BrowserPage:
    """What the spider needs of a page the browser visited."""

    dom: bytes | None  # the rendered DOM, UTF-8; None if the visit failed
    fetched: tuple[str, ...]  # every URL the browser fetched (and the proxy recorded)


@dataclass
class _Slot:
    """One page rendered at once: a browser tab and the recording proxy it goes through."""

    tab: Tab
    proxy: RecordingProxy


class BrowserCapture:
    def __init__(self, crawler: Crawler, sites: frozenset[str], chromium: Chromium,
                 wire: WireRecorder, *, upstream: str | None, pages: int,
                 page_seconds: float, request_seconds: float, max_resources: int,
                 max_bytes: int, bounds: PageBounds, ca: CrawlCA, verify_origins: bool
                 ) -> None:
        self.crawler = crawler
        self.sites = sites
        self.chromium = chromium
        self.wire = wire
        self.upstream = upstream
        self.pages = pages
        self.page_seconds = page_seconds
        self.request_seconds = request_seconds
        self.max_resources = max_resources
        self.max_bytes = max_bytes
        self.bounds = bounds
        self.ca = ca
        self.verify_origins = verify_origins
        self.builder = WARCWriter(BytesIO(), gzip=True, warc_version=WARC_VERSION)
        self._free: asyncio.Queue[_Slot] | None = None
        self._slots: list[_Slot] = []
        self._robots: RobotsPolicy | None = None
        self._warming: asyncio.Future | None = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BrowserCapture:
        s = crawler.settings
        sites = frozenset(s.getlist("PALIMPSEST_BROWSER_SITES"))
        if not sites:
            raise NotConfigured("no site is captured in the browser")
        history = s.get("PALIMPSEST_PAYLOAD_HISTORY")
        upstream = s.get("PALIMPSEST_PROXY") or None
        bounds = PageBounds(
            quiet_seconds=s.getfloat("PALIMPSEST_BROWSER_QUIET_SECONDS"),
            quiet_cap_seconds=s.getfloat("PALIMPSEST_BROWSER_QUIET_CAP_SECONDS"),
            max_scrolls=s.getint("PALIMPSEST_BROWSER_MAX_SCROLLS"),
            thumbnail_width=s.getint("PALIMPSEST_BROWSER_THUMBNAIL_WIDTH"))
        ca = CrawlCA()
        if s.get("PALIMPSEST_CRAWL_DIR"):
            ca.save(Path(s.get("PALIMPSEST_CRAWL_DIR")))
        return cls(
            crawler, sites,
            Chromium(s.get("PALIMPSEST_BROWSER_EXECUTABLE"), s.get("USER_AGENT"),
                     trusted_spki=(ca.spki_hash,)),
            WireRecorder(crawler.signals, history, proxied=bool(upstream)),
            upstream=upstream, pages=s.getint("PALIMPSEST_BROWSER_PAGES"),
            page_seconds=s.getfloat("PALIMPSEST_BROWSER_PAGE_SECONDS"),
            request_seconds=s.getfloat("DOWNLOAD_TIMEOUT"),
            max_resources=s.getint("PALIMPSEST_BROWSER_MAX_RESOURCES"),
            max_bytes=s.getint("PALIMPSEST_MAX_RESPONSE_BYTES"), bounds=bounds, ca=ca,
            # origin certificates as the plain crawler treats them (Scrapy: not verified)
            verify_origins=s.getbool("DOWNLOAD_VERIFY_CERTIFICATES"))

    async def process_response(self, request: Request, response: Response) -> Response:
        if (request.meta.get("site") not in self.sites or request.method != "GET"
                or not 200 <= response.status < 300 or "warc_record" not in request.meta
                or media_type(_header(response, b"Content-Type")) not in HTML_TYPES):
            return response
        slot = await self._take()
        try:
            rendering, entry, fetched = await self._capture(request, response, slot)
        finally:
            assert self._free is not None
            self._free.put_nowait(slot)
        # the thumbnail and the records once the tab has gone on to the next page
        if rendering is not None:
            await self._write(request, response, rendering)
        self.crawler.signals.send_catch_log(our_signals.crawl_event, entry=entry)
        request.meta[BROWSER_PAGE] = BrowserPage(rendering.dom if rendering else None, fetched)
        return response

    async def _take(self) -> _Slot:
        """A free tab and its proxy (the pool is made on the first page)."""
        if self._free is None:
            self._free = asyncio.Queue()
            for _ in range(self.pages):
                proxy = RecordingProxy(
                    self.wire, PageOfRequests("", "", ""), self.upstream,
                    self.request_seconds, self.max_resources, self.max_bytes, ca=self.ca,
                    verify_origins=self.verify_origins)
                slot = _Slot(Tab(await proxy.start(), proxy.watch), proxy)
                self._slots.append(slot)
                self._free.put_nowait(slot)
        return await self._free.get()

    async def _capture(self, request: Request, response: Response, slot: _Slot
                       ) -> tuple[Rendering | None, dict[str, Any], tuple[str, ...]]:
        """The page visited in `slot`'s tab (None if it failed), its crawl log line, and
        every URL the browser fetched."""
        page = PageOfRequests(response.url, request.meta["site"], request.meta.get("hops", ""))
        document = Document(response.url, response.status, _headers(response), response.body)
        started = time.monotonic()
        fetched: list[str] = []
        refused = 0
        rendering, why, attempts = None, "", 0
        proxy = slot.proxy
        proxy.allow = self._robots_allow(request)
        for attempt in (1, 2):
            attempts = attempt
            if why := await self._launch():
                break
            proxy.begin(page, document)
            try:
                rendering = await asyncio.wait_for(
                    self.chromium.render(document, slot.tab, self.bounds), self.page_seconds)
                break
            except TimeoutError:
                why = f"timeout: page still busy after {self.page_seconds:g} s"
                break
            except BrowserCrashed as exc:
                why = f"browser crashed: {exc}"
                await self.chromium.relaunch(exc.browser)  # and once more, in a new browser
            except PlaywrightError as exc:
                why = f"browser: {str(exc).splitlines()[0]}"
                break
            finally:
                await proxy.end()
                fetched += proxy.fetched
                refused += proxy.refused
        entry: dict[str, Any] = {
            "time": log_time(), "url": response.url,
            "outcome": RENDERED if rendering else FAILED, "site": page.site,
            "browser": {"resources": len(fetched), "refused": refused, "attempts": attempts,
                        "seconds": round(time.monotonic() - started, 2)}}
        if rendering is not None:
            entry["browser"].update(quiet=rendering.quiet, scrolls=rendering.scrolls)
        else:
            entry["why"] = why
        return rendering, entry, tuple(dict.fromkeys(fetched))

    async def _launch(self) -> str | None:
        """Start the browser if it is not running (outside the page's time limit: a start
        slowed by a busy machine is no fault of the page); why not, if it did not start."""
        try:
            await asyncio.wait_for(self.chromium.browser(), LAUNCH_SECONDS)
        except TimeoutError:
            return f"browser: not started after {LAUNCH_SECONDS:g} s"
        except PlaywrightError as exc:
            return f"browser: {str(exc).splitlines()[0]}"
        return None

    def _robots_allow(self, request: Request) -> Allow | None:
        """The robots.txt check of the browser's requests for the page of `request`, or None
        if its site does not obey robots.txt: the crawl's own robots middleware, asked as
        for a requisite of the page's site."""
        if request.meta.get("dont_obey_robotstxt"):
            return None
        if self._robots is None:
            found = [m for m in self.crawler.engine.downloader.middleware.middlewares
                     if isinstance(m, RobotsPolicy)]
            if not found:  # no site of the crawl obeys robots.txt
                return None
            self._robots = found[0]
        robots, site = self._robots, request.meta["site"]

        async def allow(url: str) -> str | None:
            probe = Request(url, meta={"site": site, "download_slot": site,
                                       "allow_offsite": True})
            try:
                await robots.process_request(probe)
            except IgnoreRequest as exc:
                return _ignored_why(exc)
            return None
        return allow

    async def _write(self, request: Request, response: Response, rendering: Rendering
                     ) -> None:
        """The rendered DOM and the screenshots, as resource records of the page."""
        page_record, _date = request.meta["warc_record"]
        date = warc_date()
        small = await asyncio.to_thread(thumbnail, rendering.full_page,
                                        self.bounds.thumbnail_width)
        records = [self._resource(f"urn:{kind}:{response.url}", body, mime, date, page_record)
                   for kind, body, mime in (
                       ("dom", rendering.dom, "text/html; charset=utf-8"),
                       ("fullPage", rendering.full_page, "image/png"),
                       ("thumbnail", small, "image/png"))]
        self.crawler.signals.send_catch_log(our_signals.warc_records, records=records)

    def _resource(self, uri: str, body: bytes, mime: str, date: str, concurrent_to: str):
        return self.builder.create_warc_record(
            uri, "resource", payload=BytesIO(body), length=len(body), warc_content_type=mime,
            warc_headers_dict={"WARC-Record-ID": new_record_id(), "WARC-Date": date,
                               "WARC-Concurrent-To": concurrent_to})

    def spider_opened(self, spider: Any) -> None:
        self._warming = asyncio.ensure_future(self._warm_up())

    async def _warm_up(self) -> None:
        """Start Chromium and open the tabs while the crawler fetches robots.txt and the first
        pages, not on the first page's clock. What fails here fails again, and is logged, on
        the page that meets it."""
        taken: list[_Slot] = []
        try:
            browser = await asyncio.wait_for(self.chromium.browser(), LAUNCH_SECONDS)
            for _ in range(self.pages):
                taken.append(await self._take())
            await asyncio.gather(*(slot.tab.open(browser, self.chromium.user_agent)
                                   for slot in taken))
        except (PlaywrightError, TimeoutError, OSError):
            pass
        finally:
            for slot in taken:
                assert self._free is not None
                self._free.put_nowait(slot)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
            with contextlib.suppress(BaseException):
                await self._warming
        for slot in self._slots:
            await slot.proxy.close()
        await self.chromium.close()


def _header(response: Response, name: bytes) -> str:
    return (response.headers.get(name) or b"").decode("latin-1")


def _headers(response: Response) -> dict[str, str]:
    """The page's headers for the browser: its body is handed over whole and decoded."""
    skip = {b"content-length", b"content-encoding", b"transfer-encoding", b"connection"}
    return {k.decode("latin-1"): "\n".join(v.decode("latin-1") for v in values)
            if k.lower() == b"set-cookie" else ", ".join(v.decode("latin-1") for v in values)
            for k, values in response.headers.items() if k.lower() not in skip}
