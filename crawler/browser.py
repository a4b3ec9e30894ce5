"""Headless Chromium for the crawl, and what it does on each page: load it, wait for the network
to go quiet, scroll to the end for lazy loading, then keep the rendered DOM and screenshots.

Playwright's async API runs on the crawl's own asyncio loop (Scrapy's asyncio reactor). One
browser serves the crawl, launched on first use and launched again after a crash; each page
gets a browser context of its own, whose proxy is that page's recording proxy. The page's own
document is not fetched again: the browser is handed the response Scrapy already fetched and
recorded; everything else it asks for goes through the proxy, on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage",
                 # Chromium's own calls home (autofill, hints, safe browsing) would go through
                 # the page's proxy: not the site's traffic, and never to leave the machine
                 "--disable-features=AutofillServerCommunication,OptimizationHints,"
                 "MediaRouter,Translate,InterestFeedContentSuggestions",
                 "--disable-client-side-phishing-detection", "--disable-domain-reliability",
                 "--disable-default-apps", "--no-default-browser-check",
                 "--password-store=basic"]
VIEWPORT = {"width": 1280, "height": 960}

# scroll one viewport at a time to the end (or `max` times), letting lazy loading start
_SCROLL = """async (max) => {
  let n = 0;
  while (n < max && window.scrollY + window.innerHeight
         < document.documentElement.scrollHeight) {
    window.scrollBy(0, window.innerHeight);
    n++;
    // two frames: lazy loading's intersection checks run, and their requests begin
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  }
  window.scrollTo(0, 0);
  return n;
}"""


class BrowserCrashed(Exception):
    """The browser or the page's renderer died under the page."""


@dataclass(frozen=True)
class PageBounds:
    """How long and how far the browser goes on one page (the time limit is the caller's)."""

    quiet_seconds: float
    quiet_cap_seconds: float
    max_scrolls: int
    thumbnail_width: int


@dataclass(frozen=True)
class Document:
    """The page's response as Scrapy fetched it (body decoded), handed to the browser."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Rendering:
    """What the browser made of one page."""

    dom: bytes  # the rendered DOM serialised, UTF-8
    full_page: bytes  # PNG
    thumbnail: bytes  # PNG, `thumbnail_width` wide
    quiet: bool  # whether the network went quiet before the cap, after load and scrolling
    scrolls: int


class Chromium:
    """One headless Chromium, launched on first use."""

    def __init__(self, executable: str, user_agent: str) -> None:
        self.executable = executable
        self.user_agent = user_agent
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching = asyncio.Lock()

    async def browser(self) -> Browser:
        async with self._launching:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, args=CHROMIUM_ARGS)
            return self._browser

    async def relaunch(self) -> None:
        """Drop the current browser (crashed or stuck); the next page launches another."""
        browser, self._browser = self._browser, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError):
                await asyncio.wait_for(browser.close(), 10)

    async def close(self) -> None:
        await self.relaunch()
        if self._playwright is not None:
            with contextlib.suppress(PlaywrightError):
                await self._playwright.stop()
            self._playwright = None

    async def render(self, document: Document, proxy_url: str, bounds: PageBounds
                     ) -> Rendering:
        """Visit `document` with every other request through `proxy_url`; BrowserCrashed if
        the browser or renderer died, PlaywrightError for anything else the browser refused.
        Not bounded in time itself: the caller cancels it."""
        browser = await self.browser()
        try:
            context = await browser.new_context(
                proxy={"server": proxy_url}, user_agent=self.user_agent, viewport=VIEWPORT,
                service_workers="block", locale="en")
        except PlaywrightError as exc:
            raise _crash_or(exc, browser, None) from exc
        page = None
        try:
            page = await context.new_page()
            return await _visit(page, context, document, bounds)
        except PlaywrightError as exc:
            raise _crash_or(exc, browser, page) from exc
        finally:
            # a renderer stuck in a script loop can hold up even this: then the browser goes
            try:
                await asyncio.wait_for(asyncio.shield(context.close()), 10)
            except (PlaywrightError, TimeoutError):
                await self.relaunch()


def _crash_or(exc: PlaywrightError, browser: Browser, page: Page | None) -> Exception:
    crashed = not browser.is_connected() or (page is not None and page.is_closed()) \
        or "crash" in str(exc).lower()
    return BrowserCrashed(str(exc).splitlines()[0]) if crashed else exc


async def _visit(page: Page, context: Any, document: Document, bounds: PageBounds
                 ) -> Rendering:
    network = _NetworkWatch(page)
    served = False

    async def serve_document(route: Any) -> None:
        nonlocal served
        request = route.request
        if not served and request.is_navigation_request() and request.frame == page.main_frame:
            served = True
            await route.fulfill(status=document.status, headers=document.headers,
                                body=document.body)
        else:  # the same URL asked again (a script's fetch): on the wire, through the proxy
            await route.fallback()

    await page.route(lambda url: url == document.url, serve_document)
    await page.goto(document.url, wait_until="domcontentloaded")
    quiet = await network.quiet(bounds.quiet_seconds, bounds.quiet_cap_seconds)
    scrolls = await page.evaluate(_SCROLL, bounds.max_scrolls)
    if scrolls:
        quiet = await network.quiet(bounds.quiet_seconds, bounds.quiet_cap_seconds)
    dom = (await page.content()).encode("utf-8")
    full_page = await page.screenshot(full_page=True, type="png")
    thumbnail = await _thumbnail(page, context, bounds.thumbnail_width)
    return Rendering(dom, full_page, thumbnail, quiet, scrolls)


async def _thumbnail(page: Page, context: Any, width: int) -> bytes:
    """The top of the page, `width` pixels wide, scaled by Chromium itself."""
    session = await context.new_cdp_session(page)
    try:
        shot = await session.send("Page.captureScreenshot", {
            "format": "png", "clip": {"x": 0, "y": 0, "width": VIEWPORT["width"],
                                      "height": VIEWPORT["height"],
                                      "scale": width / VIEWPORT["width"]}})
    finally:
        await session.detach()
    return base64.b64decode(shot["data"])


class _NetworkWatch:
    """Requests of a page in flight, and when the last one began or ended."""

    def __init__(self, page: Page) -> None:
        self.in_flight = 0
        self.last_change = time.monotonic()
        page.on("request", self._began)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _began(self, _request: Any) -> None:
        self.in_flight += 1
        self.last_change = time.monotonic()

    def _ended(self, _request: Any) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last_change = time.monotonic()

    async def quiet(self, seconds: float, cap: float) -> bool:
        """Wait until no request has been in flight for `seconds`, or `cap` seconds at most;
        whether it went quiet."""
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline:
            if self.in_flight == 0 and time.monotonic() - self.last_change >= seconds:
                return True
            await asyncio.sleep(0.05)
        return False
