"""Headless Chromium for the crawl, and what it does on each page: load it, wait for the network
to go quiet while scrolling to the end whatever the page has grown to (lazy loading), then
keep the rendered DOM and screenshots (taken within the last quiet window, once the page is
at rest, and kept only if it stays at rest to the window's end; see NetworkWatch.quiet).

Playwright's async API runs on the crawl's own asyncio loop (Scrapy's asyncio reactor). One
browser serves the crawl, launched on first use and launched again after a crash. Pages are
rendered in a small pool of tabs, one per page rendered at once: each tab is a browser context
of its own with one page, whose proxy is the tab's recording proxy, and is kept from one page
to the next (a new context and renderer per page cost more than the page itself). Between two
pages the tab goes to about:blank, so that no script of the last page runs on, and its cookies
and the storage of every origin the last page touched are cleared, so that each capture is
what a first visit sees; a tab whose page failed (time limit, crash, browser error) is closed
and opened anew. The browser keeps nothing in its HTTP cache (the proxy answers it "no-store"),
so every page asks the proxy for all it needs; the proxy also tells the tab's NetworkWatch of
each request, so that Playwright's request events are not needed.

The page's own document is not fetched again: the tab's proxy hands the browser the response
Scrapy already fetched and recorded (no Playwright routing: a route makes Playwright's driver
hold and release every request of the page); everything else the browser asks for goes
through the proxy, on the wire.
Screenshots: one full-page PNG from Chromium (encoded for speed, not size), and the thumbnail
cut from its top and scaled down with Pillow, rather than a second capture.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Playwright,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

# Chromium keeps its own --disable-features only: Playwright's list (its calls home and
# behaviours it turns off) is repeated here, or ours would replace it
_PLAYWRIGHT_DISABLED = ("AimEnabled,AvoidCorsURLLoaderRestartOnRedirect,"
                        "AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,"
                        "HttpsFirstBalancedModeAutoEnable,HttpsUpgrades,LensOverlay,"
                        "MediaRouter,NetworkTimeServiceQuerying,OptimizationHints,PaintHolding,"
                        "PreconnectToSearch,ThirdPartyStoragePartitioning")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage",
                 # Chromium's own calls home (autofill, hints, safe browsing) would go through
                 # the page's proxy: not the site's traffic, and never to leave the machine.
                 # No spare renderer: one is kept warm per browser context, so with two tabs
                 # each navigation threw the other's away and started another (two renderer
                 # processes started and killed a page). No omnibox popup as a web page: each
                 # window (one per browser context, even headless) preloaded one in a renderer
                 # of its own, 1.2 s of CPU each, for an address bar no one types into
                 "--disable-features=AutofillServerCommunication,Translate,"
                 "InterestFeedContentSuggestions,SpareRendererForSitePerProcess,"
                 "WebUIOmniboxPopup,WebUIOmniboxAimPopup," + _PLAYWRIGHT_DISABLED,
                 "--disable-client-side-phishing-detection", "--disable-domain-reliability",
                 "--disable-default-apps", "--no-default-browser-check",
                 "--password-store=basic",
                 # Debian's launcher asks for GPU rasterisation: with no GPU, an emulated one
                 # (SwiftShader) rasters every tile, which costs more than Skia's own
                 "--disable-gpu-rasterization"]
VIEWPORT = {"width": 1280, "height": 960}
# tallest full-page screenshot (Chromium's own bound for one capture): an endless page is cut
MAX_SHOT_HEIGHT = 16384
_CLEAR_STORAGE = "local_storage,indexeddb,websql,cache_storage,file_systems,service_workers"

# bring into view, one viewport at a time (`max` at most), what lies below `bottom` (the lowest
# edge in view so far), letting lazy loading start; back to the top if it scrolled; the new
# lowest edge and how many viewports it scrolled
_SCROLL = """async ([bottom, max]) => {
  let n = 0;
  bottom = Math.max(bottom, window.scrollY + window.innerHeight);
  while (n < max && bottom < document.documentElement.scrollHeight) {
    window.scrollTo({top: bottom, behavior: 'instant'});  // not animated by CSS
    const reached = window.scrollY + window.innerHeight;
    if (reached <= bottom) break;  // the page does not scroll (overflow hidden)
    bottom = reached;
    n++;
    // two frames: lazy loading's intersection checks run, and their requests begin
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  }
  if (n) window.scrollTo({top: 0, behavior: 'instant'});
  return [bottom, n];
}"""


# the page has run what was due: its tasks queued so far (a response's handler that renders
# the page), two frames (intersection checks, and the requests they begin)
_SETTLE = """() => new Promise(r =>
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0))))"""


class BrowserCrashed(Exception):
    """The browser or the page's renderer died under the page (in `browser`)."""

    def __init__(self, message: str, browser: Browser | None = None) -> None:
        super().__init__(message)
        self.browser = browser


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
    quiet: bool  # whether the network went quiet before the cap, after load and scrolling
    scrolls: int


class Chromium:
    """One headless Chromium, launched on first use. `trusted_spki`: base64 SHA-256 hashes of
    the public keys whose certificates the browser accepts without a chain to a root (the
    crawl's own CA, whose leaf certificates the recording proxy presents for https)."""

    def __init__(self, executable: str, user_agent: str, trusted_spki: tuple[str, ...] = ()
                 ) -> None:
        self.executable = executable
        self.user_agent = user_agent
        self.args = CHROMIUM_ARGS + ([
            "--ignore-certificate-errors-spki-list=" + ",".join(trusted_spki)]
            if trusted_spki else [])
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching = asyncio.Lock()

    async def browser(self) -> Browser:
        async with self._launching:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, args=self.args)
            return self._browser

    async def relaunch(self, failed: Browser | None = None) -> None:
        """Drop the browser `failed` under a page (crashed or stuck), if it is still the
        current one, or else the current one whatever it is (None); the next page launches
        another. A tab that finds its browser failed after another tab has relaunched it
        leaves the new one alone: the other tabs' pages, and their one retry, run in it."""
        if failed is not None and failed is not self._browser:
            return
        browser, self._browser = self._browser, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):  # gone, or stuck
                await asyncio.wait_for(browser.close(), 10)

    async def close(self) -> None:
        await self.relaunch()
        if self._playwright is not None:
            with contextlib.suppress(PlaywrightError):
                await self._playwright.stop()
            self._playwright = None

    async def render(self, document: Document, tab: Tab, bounds: PageBounds) -> Rendering:
        """Visit `document` in `tab`, every other request through the tab's proxy;
        BrowserCrashed if the browser or renderer died, PlaywrightError for anything else the
        browser refused. Not bounded in time itself: the caller cancels it. The tab is made
        ready for the next page afterwards, or closed if the visit did not end well."""
        browser = await self.browser()
        done = False
        try:
            await tab.open(browser, self.user_agent)
            rendering = await tab.visit(document, bounds)
            done = True
            return rendering
        except PlaywrightError as exc:
            raise _crash_or(exc, browser, tab.page) from exc
        finally:
            # a renderer stuck in a script loop can hold up even this: then the browser goes
            try:
                await asyncio.wait_for(asyncio.shield(tab.clear() if done else tab.close()),
                                       10)
            except (PlaywrightError, TimeoutError):
                await tab.close()
                await self.relaunch(browser)


def _crash_or(exc: PlaywrightError, browser: Browser, page: Page | None) -> Exception:
    crashed = not browser.is_connected() or (page is not None and page.is_closed()) \
        or "crash" in str(exc).lower()
    return BrowserCrashed(str(exc).splitlines()[0], browser) if crashed else exc


class Tab:
    """One browser context and its page, whose requests all go through `proxy_url`, whose
    proxy tells `watch` of each; opened on first use (and again after a failure or in a new
    browser), kept between pages."""

    def __init__(self, proxy_url: str, watch: NetworkWatch) -> None:
        self.proxy_url = proxy_url
        self.page: Page | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._session: CDPSession | None = None
        self._watch = watch
        self._opened = False

    async def open(self, browser: Browser, user_agent: str) -> None:
        if self._opened and self._browser is browser and browser.is_connected():
            return  # opened whole, in this browser
        await self.close()
        self._browser = browser
        self._context = await browser.new_context(
            proxy={"server": self.proxy_url}, user_agent=user_agent, viewport=VIEWPORT,
            service_workers="block", locale="en")
        self.page = await self._context.new_page()
        # for the screenshot and the clearing of storage only: no domain enabled, so that
        # no event of the page comes over to Python (the network is watched by the proxy)
        self._session = await self._context.new_cdp_session(self.page)
        self._opened = True

    async def visit(self, document: Document, bounds: PageBounds) -> Rendering:
        """Load `document` (which the tab's proxy serves, see RecordingProxy.begin), wait for
        quiet while scrolling what the page grows to, and take what the page became: taken
        during the wait once the page is at rest (see NetworkWatch.quiet), or after it."""
        page, watch = self.page, self._watch
        assert page is not None
        watch.reset(document.url)
        await page.goto(document.url, wait_until="domcontentloaded")
        settle = functools.partial(_settle, page)
        scroller = _Scroller(page, bounds.max_scrolls)

        async def snapshot() -> tuple[str, bytes]:
            # the DOM from the renderer and the screenshot from the compositor, at once; if
            # one fails, once the other is done too (no capture left running under the next)
            dom, shot = await asyncio.gather(page.content(), self._full_page(),
                                             return_exceptions=True)
            for part in (dom, shot):
                if isinstance(part, BaseException):
                    raise part
            return dom, shot
        quiet, taken = await watch.quiet(bounds.quiet_seconds, bounds.quiet_cap_seconds,
                                         settle, scroller.scroll, snapshot)
        content, full_page = taken or await snapshot()
        return Rendering(content.encode("utf-8"), full_page, quiet, scroller.scrolls)

    async def _full_page(self) -> bytes:
        """The whole page (up to MAX_SHOT_HEIGHT), as PNG encoded for speed."""
        assert self._session is not None
        metrics = await self._session.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        width = max(VIEWPORT["width"], math.ceil(size["width"]))
        height = min(max(VIEWPORT["height"], math.ceil(size["height"])), MAX_SHOT_HEIGHT)
        shot = await self._session.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        return base64.b64decode(shot["data"])

    async def clear(self) -> None:
        """Make the tab as new for the next page: no script of the last page running, no
        cookie or stored data of any origin it touched."""
        assert self.page is not None and self._session is not None
        assert self._context is not None
        # windows the page opened (window.open: Playwright's Chromium blocks no popup) would
        # run on, their requests counted and recorded as the next page's
        await asyncio.gather(*(other.close() for other in self._context.pages
                               if other is not self.page), return_exceptions=True)
        # sessionStorage lives as long as the tab: each frame's, from inside
        await asyncio.gather(*(
            frame.evaluate("() => { try { sessionStorage.clear() } catch (e) {} }")
            for frame in self.page.frames), return_exceptions=True)
        await self.page.goto("about:blank")
        await asyncio.gather(self._context.clear_cookies(), *(
            self._session.send("Storage.clearDataForOrigin", {
                "origin": origin, "storageTypes": _CLEAR_STORAGE})
            for origin in self._watch.origins))

    async def close(self) -> None:
        """Close the tab's context (if any): the next page opens a new one."""
        context, self._context, self.page, self._session = self._context, None, None, None
        self._opened = False
        if context is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):  # gone, or stuck
                await asyncio.wait_for(context.close(), 10)


async def _settle(page: Page) -> None:
    """The page runs what was due (_SETTLE); a page that went on to another document
    meanwhile (a script's or a refresh's navigation) has settled as far as this one goes."""
    try:
        await page.evaluate(_SETTLE)
    except PlaywrightError as exc:
        if not _navigated_away(exc):
            raise


def _navigated_away(exc: PlaywrightError) -> bool:
    """Whether a script run in the page failed because the page went on to another
    document while it ran."""
    return "context was destroyed" in str(exc)


class _Scroller:
    """Scrolls a page to the end of what it has so far, each time it is asked (at most
    `most` viewports in all), so that lazy loading starts as soon as the page has grown,
    not after a wait for quiet of its own."""

    def __init__(self, page: Page, most: int) -> None:
        self.page = page
        self.left = most
        self.bottom = 0  # the lowest edge of the page brought into view so far
        self.scrolls = 0

    async def scroll(self) -> bool:
        """Whether it scrolled (new requests may begin)."""
        if self.left <= 0:
            return False
        try:
            self.bottom, n = await self.page.evaluate(_SCROLL, [self.bottom, self.left])
        except PlaywrightError as exc:
            if not _navigated_away(exc):
                raise
            self.bottom = 0  # the page went on to another document, its top in view
            return False
        self.scrolls, self.left = self.scrolls + n, self.left - n
        return n > 0


def thumbnail(png: bytes, width: int) -> bytes:
    """The top of a full-page screenshot, one viewport tall, scaled to `width` pixels wide
    (made by the caller once the tab is free for the next page)."""
    with _top_of(png, VIEWPORT["height"]) as top:
        height = max(1, round(top.height * width / top.width))
        small = top.convert("RGB").resize((width, height), Image.Resampling.BILINEAR,
                                          reducing_gap=2.0)
    out = BytesIO()
    small.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _top_of(png: bytes, rows: int) -> Image.Image:
    """The first `rows` rows of a PNG, decoding no more of it than those (a full page is
    four or more times as tall: its decoding cost more than the rest of the thumbnail)."""
    image = Image.open(BytesIO(png))
    rows = min(rows, image.height)
    if (image.format == "PNG" and not image.info.get("interlace") and len(image.tile) == 1
            and hasattr(image, "_size")):
        decoder, _extent, offset, args = image.tile[0]
        # the decoder stops once the (smaller) image is full: the rest is never inflated
        image._size = (image.width, rows)
        image.tile = [(decoder, (0, 0, image.width, rows), offset, args)]
        image.load()
        return image
    with image:
        return image.crop((0, 0, image.width, rows))


# how often a wait for quiet looks again while requests are in flight
_POLL_SECONDS = 0.05
# a wait for quiet begins the snapshot of the page once the page has been at rest for this
# share of the window, and keeps it if the page stays at rest to the end: the DOM and the
# screenshot (a fifth of a visit) are taken within the window instead of after it
_EARLY_SHARE = 0.25
T = TypeVar("T")


class NetworkWatch:
    """Requests of a tab's page in flight, when the last one began or ended, and the origins
    they went to (whose storage is cleared after the page): told by the tab's recording proxy,
    which every request of the browser goes through (Playwright's request events would bring
    each request over from the driver to Python three times)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_change = time.monotonic()
        self.origins: set[str] = set()

    def reset(self, url: str) -> None:
        """A new page, at `url`: what is in flight stays counted until it ends."""
        self.last_change = time.monotonic()
        self.origins = {_origin(url)}

    def began(self, url: str) -> None:
        self.in_flight += 1
        self.last_change = time.monotonic()
        if url.startswith(("http://", "https://")):
            self.origins.add(_origin(url))

    def ended(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last_change = time.monotonic()

    async def quiet(self, seconds: float, cap: float,
                    settle: Callable[[], Awaitable[object]] | None = None,
                    scroll: Callable[[], Awaitable[bool]] | None = None,
                    snapshot: Callable[[], Awaitable[T]] | None = None
                    ) -> tuple[bool, T | None]:
        """Wait until no request has been in flight for `seconds`, and none began while
        `settle` (the page running what was due) ran, or `cap` seconds at most; whether it
        went quiet. Without `settle` a renderer starved of CPU (a busy machine) may not yet
        have handled the last response, and the requests that handling makes are missed.
        `scroll` (whether it moved the page) is run each time no request is in flight after
        some began or ended, and once more when all is quiet: a window runs from its last
        move too, so lazy loading is waited for within the same wait.

        With `snapshot`, what it takes of the page (the DOM and the screenshot) is taken
        during the window instead of after it: once the page has been at rest for
        _EARLY_SHARE of the window and has settled. It is returned if the page is still at
        rest when the window ends (no request began or ended, and the page did not move,
        since it was begun), else None: the caller takes it then, as it is."""
        deadline = time.monotonic() + cap
        looked = None  # the network as it was (`last_change`) when `scroll` last ran
        moved = -math.inf  # when `scroll` last moved the page
        early = _Early(snapshot)
        try:
            while (now := time.monotonic()) < deadline:
                if scroll is not None and self.in_flight == 0 and self.last_change != looked:
                    await early.drop()  # a scroll would move what it captures
                    looked = self.last_change
                    if await _within(scroll(), deadline):
                        moved = time.monotonic()
                    continue
                if self.in_flight:  # look again in a while
                    await asyncio.sleep(min(_POLL_SECONDS, deadline - now))
                    continue
                # at rest so far: sleep to the moment the snapshot is due, or to the end of
                # the window (not a poll's tick later)
                since, rest = max(self.last_change, moved), (self.last_change, moved)
                due = since + _EARLY_SHARE * seconds
                if snapshot is not None and early.state != rest and now >= due:
                    await early.drop()  # begun at rest, but not this rest
                    if await self._settled(settle, deadline):
                        early.begin(rest)
                    continue
                end = since + seconds if snapshot is None or early.state == rest else due
                if end > now:
                    await asyncio.sleep(min(end - now, deadline - now))
                    continue
                await early.finished()
                if early.state not in (None, (self.last_change, moved)):
                    continue  # requests began while it was taken (lazy loading it set off)
                if not await self._settled(settle, deadline):
                    continue
                if scroll is not None:
                    # quiet, unless the page grew meanwhile (a timer, no request) and scrolls
                    scrolled = await _within(scroll(), deadline)
                    if scrolled is None:  # the cap came first
                        break
                    if scrolled:
                        moved, looked = time.monotonic(), self.last_change
                        continue
                return True, await early.kept((self.last_change, moved))
            await early.drop()  # not to be taken twice at once by the caller
            return False, None
        finally:
            early.cancel()  # the visit given up: a snapshot under way is not waited for

    async def _settled(self, settle: Callable[[], Awaitable[object]] | None,
                       deadline: float) -> bool:
        """Run `settle` (if any, bounded by `deadline`); whether no request is in flight and
        none began or ended meanwhile."""
        before = self.last_change
        if settle is not None:
            await _within(settle(), deadline)
        return not self.in_flight and self.last_change == before


class _Early(Generic[T]):
    """A snapshot of the page begun during a wait for quiet, and the rest it was begun in
    (the network's last change and the page's last move, as NetworkWatch.quiet keeps them)."""

    def __init__(self, take: Callable[[], Awaitable[T]] | None) -> None:
        self.take = take
        self.task: asyncio.Future[T] | None = None
        self.state: tuple[float, float] | None = None

    def begin(self, state: tuple[float, float]) -> None:
        assert self.take is not None
        self.task, self.state = asyncio.ensure_future(self.take()), state

    async def finished(self) -> None:
        """Wait for the snapshot under way (if any) to be done, failed or not."""
        if self.task is not None:
            await asyncio.wait([self.task])

    async def drop(self) -> None:
        """Forget the snapshot, once it is done: the browser takes it whether we wait or not,
        and anything else done to the page meanwhile would show in it."""
        await self.finished()
        if self.task is not None and not self.task.cancelled():
            self.task.exception()  # a failed snapshot is retrieved, not left to be logged
        self.task, self.state = None, None

    async def kept(self, state: tuple[float, float]) -> T | None:
        """The snapshot, if it was begun in `state` and succeeded; else None."""
        task = self.task if self.state == state else None
        await self.drop()
        if task is None or task.cancelled() or task.exception() is not None:
            return None  # taken again by the caller: a failure shows there, as it is
        return task.result()

    def cancel(self) -> None:
        """A snapshot still under way is given up, not waited for."""
        if self.task is not None and not self.task.done():
            self.task.cancel()


async def _within(step: Awaitable[object], deadline: float) -> object:
    """What `step` gives, or None if it is still running at `deadline` (it is cancelled)."""
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(step, max(deadline - time.monotonic(), 0.01))
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
