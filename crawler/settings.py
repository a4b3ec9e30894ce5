"""Scrapy settings for a crawl, built in this one place from the network config and the
command's options. Our own settings carry the PALIMPSEST_ prefix."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import scrapy

from crawler.dedup import PayloadHistory
from crawler.recorder import FIDELITY_NOTE, WIRE_NOTE
from index import __version__
from index.config import NetworkConfig, Site

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package: the browser of `crawl --browser`


@dataclass(frozen=True)
class CrawlOptions:
    """What `palimpsest crawl` was asked for; None means "as the config says"."""

    sites: tuple[str, ...] = ()
    concurrency_per_site: int | None = None
    delay: float | None = None
    no_robots: bool = False
    max_pages: int | None = None
    resume: bool = False
    progress: bool = False
    browser: bool = False  # every site's HTML pages rendered in Chromium (else per site)
    # only these URLs, none of the links they hold (`palimpsest monitor`'s recrawl of the
    # pages due): the links are in each page's metadata record, for the next crawl to choose
    urls: tuple[str, ...] = ()
    # the new crawl's id, when the caller chose it (the monitor, to find a crawl it was
    # killed during); None: the start time's
    crawl_id: str | None = None
    frontier: str | None = None  # redis://HOST:PORT/DB: the crawl's state lives there
    lease_seconds: float = 30.0  # a shared crawl's lease on a URL in flight, renewed


def browser_sites(sites: tuple[Site, ...], options: CrawlOptions) -> tuple[str, ...]:
    """The sites whose HTML pages this crawl renders in the browser."""
    return tuple(s.name for s in sites if options.browser or s.capture == "browser")


def robots_policy(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions
                  ) -> dict[str, bool]:
    """Whether each site's robots.txt is obeyed in this crawl."""
    return {s.name: not options.no_robots and config.obey_robots(s) for s in sites}


def user_agent(config: NetworkConfig) -> str:
    """The User-Agent of the crawl: the config's, with its `{version}` filled in."""
    return config.user_agent.replace("{version}", __version__)


def scrapy_settings(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions, *,
                    crawl_id: str, crawl_dir: Path, first_serial: int,
                    history: PayloadHistory) -> dict[str, Any]:
    """Every Scrapy setting of one crawl of `sites`: Scrapy's own, then ours (PALIMPSEST_)."""
    policy = robots_policy(config, sites, options)
    ours = {
        "PALIMPSEST_CRAWL_ID": crawl_id,
        "PALIMPSEST_CRAWL_DIR": str(crawl_dir),
        "PALIMPSEST_WARC_PREFIX": f"palimpsest-{crawl_id}",
        "PALIMPSEST_WARC_MAX_BYTES": config.limits.warc_max_bytes,
        "PALIMPSEST_FIRST_SERIAL": first_serial,
        "PALIMPSEST_WARCINFO": warcinfo_fields(config, sites, crawl_id, policy,
                                               browser_sites(sites, options)),
        "PALIMPSEST_MAX_RESPONSE_BYTES": config.limits.max_response_bytes,
        "PALIMPSEST_PROXY": config.proxy,
        "PALIMPSEST_PAYLOAD_HISTORY": history,
        "PALIMPSEST_SITES": sites,
        "PALIMPSEST_PROGRESS": options.progress,
        "PALIMPSEST_ONLY_URLS": options.urls,
        **_browser(config, sites, options),
    }
    middlewares = dict(_DOWNLOADER_MIDDLEWARES)
    if ours["PALIMPSEST_BROWSER_SITES"]:
        # after decompression (590): the browser is handed the page as a browser reads it;
        # before it, the recorder (950) has written the page as it came off the wire.
        # Only then: a plain crawl never imports Playwright
        middlewares["crawler.browser_capture.BrowserCapture"] = 580
    return {
        **_fetching(config),
        **_politeness(config, sites, options),
        "ROBOTSTXT_OBEY": any(policy.values()),
        **_LEAN,
        "DOWNLOADER_MIDDLEWARES": middlewares,
        "SPIDER_MIDDLEWARES": dict(_SPIDER_MIDDLEWARES),
        "EXTENSIONS": dict(_EXTENSIONS),
        **ours,
    }


def warcinfo_fields(config: NetworkConfig, sites: tuple[Site, ...], crawl_id: str,
                    policy: dict[str, bool], browser: tuple[str, ...] = ()
                    ) -> list[tuple[str, str]]:
    """The fields of the warcinfo record opening each WARC file of the crawl, in order."""
    robots = ", ".join(f"{k}={'obey' if v else 'ignore'}" for k, v in policy.items())
    return [
        ("software", f"Palimpsest/{__version__} (Scrapy/{scrapy.__version__}; "
                     f"warcio/{version('warcio')})"),
        ("format", "WARC File Format 1.1"),
        ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/"
                       "warc-format/warc-1.1/"),
        ("isPartOf", f"{config.name}/{crawl_id}"),
        ("crawl-id", crawl_id),
        ("description", f"Palimpsest crawl of the {config.name} network: "
                        + ", ".join(s.name for s in sites)),
        ("config-digest", config.digest),
        ("robots", robots),
        ("http-header-user-agent", user_agent(config)),
        ("http-capture-notes", FIDELITY_NOTE),
        *([("browser-capture", "sites " + ", ".join(browser) + ": HTML pages rendered in "
            f"Chromium {_chromium_note()}; " + WIRE_NOTE)] if browser else []),
    ]


def _chromium_note() -> str:
    """The Playwright release driving the browser (the browser is the system's chromium)."""
    return f"({CHROMIUM} driven by Playwright {version('playwright')})"


def _fetching(config: NetworkConfig) -> dict[str, Any]:
    """How each request is made and what is kept of its response."""
    return {
        "BOT_NAME": "palimpsest",
        "USER_AGENT": user_agent(config),
        # brotli and zstd bodies are not read by warcio and pywb: ask for what archives replay
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en",
            "Accept-Encoding": "gzip, deflate",
        },
        "RETRY_TIMES": config.politeness.retries,
        "DOWNLOAD_TIMEOUT": config.politeness.timeout,
        # a body cut short by the server is kept, marked WARC-Truncated (recorder.py)
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
        # we cut long responses ourselves and keep the part received (size_limit.py), and
        # inflate bodies to the same bound (decompression.py): Scrapy's own decompression,
        # which reads this setting, would drop the response instead
        "DOWNLOAD_MAXSIZE": 0,
        "DOWNLOAD_WARNSIZE": 0,
        "DEPTH_LIMIT": 0,
        "LOG_LEVEL": "WARNING",
    }


def _browser(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions
             ) -> dict[str, Any]:
    """How pages are rendered in the browser, and the bounds on each page."""
    return {
        "PALIMPSEST_BROWSER_SITES": browser_sites(sites, options),
        "PALIMPSEST_BROWSER_EXECUTABLE": CHROMIUM,
        # pages rendered at once (each in its own browser context and recording proxy)
        "PALIMPSEST_BROWSER_PAGES": options.concurrency_per_site
        or config.politeness.concurrency_per_site,
        # a page's whole visit, load to screenshots; a page still busy then is given up
        "PALIMPSEST_BROWSER_PAGE_SECONDS": max(config.politeness.timeout, 5.0),
        # the network counts as quiet after this long without a request in flight
        "PALIMPSEST_BROWSER_QUIET_SECONDS": 0.2,
        "PALIMPSEST_BROWSER_QUIET_CAP_SECONDS": 5.0,  # wait no longer for quiet
        "PALIMPSEST_BROWSER_MAX_SCROLLS": 20,  # viewport heights scrolled, at most
        "PALIMPSEST_BROWSER_MAX_RESOURCES": 300,  # requests of one page recorded, at most
        "PALIMPSEST_BROWSER_THUMBNAIL_WIDTH": 320,
    }


def _politeness(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions
                ) -> dict[str, Any]:
    """How hard each site is fetched: concurrency and delay per site, autothrottle."""
    per_site = options.concurrency_per_site or config.politeness.concurrency_per_site
    delay = config.politeness.delay if options.delay is None else options.delay
    slots = site_slots(config, sites, options)
    return {
        "CONCURRENT_REQUESTS": sum(slot["concurrency"] for slot in slots.values()) or per_site,
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_site,
        "DOWNLOAD_DELAY": delay,
        # the delay is the least gap between two requests to a site, as in Heritrix: Scrapy's
        # jitter (0.5 to 1.5 times the delay by default) would go below it
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": config.politeness.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.05),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(per_site),
        # one queue per site, so a slow site never holds up the others
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        # one download slot per site (the spider sets each request's download_slot to its
        # site's name): two sites on one host keep their own concurrency and delay
        "DOWNLOAD_SLOTS": slots,
    }


def site_slots(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions
               ) -> dict[str, dict[str, Any]]:
    """Each site's `site_slot`, from its own delay or the crawl's, and the crawl's
    concurrency per site."""
    per_site = options.concurrency_per_site or config.politeness.concurrency_per_site
    delay = config.politeness.delay if options.delay is None else options.delay
    return {s.name: site_slot(s.delay if s.delay is not None else delay, per_site)
            for s in sites}


def site_slot(delay: float, concurrency: int) -> dict[str, Any]:
    """A site's delay and how many of its requests may be in flight at once. With a delay,
    one, as Heritrix holds one URI of a host queue in process: the delay then runs from the
    end of the previous response (crawler/politeness.py), so two requests reach the site at
    least the delay apart, whatever the network does to either. Several in flight could
    not promise that: a request slow to reach the wire (a new connection) lets the next one
    arrive sooner than the delay after it. `concurrency` holds for a site without delay."""
    return {"delay": delay, "concurrency": 1 if delay > 0 else concurrency}


# what Scrapy would spend time on that a crawl of ours never needs
_LEAN: dict[str, Any] = {
    # Scrapy inspects the source of every bound-method callback, response after response,
    # to warn about generators that return values (its cache misses on bound methods):
    # the largest single CPU cost of a crawl, for a warning our spider cannot trigger
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
    # Scrapy handles each callback's output with CONCURRENT_ITEMS asyncio tasks (100 by
    # default), created afresh for every response; ours yields requests, not items
    "CONCURRENT_ITEMS": 1,
    # only http and https: the other handlers cost start-up time and are never used
    "DOWNLOAD_HANDLERS": {"ftp": None, "s3": None, "file": None, "data": None,
                          # idle connections kept for the whole crawl, not one site's share
                          "http": "crawler.http_pool.PooledHTTPDownloadHandler",
                          "https": "crawler.http_pool.PooledHTTPDownloadHandler"},
    "LOGSTATS_INTERVAL": 0,
    # Scrapy imports every component its *_BASE settings name, even one switched off with
    # None (to resolve the names): the bases are only what a crawl of ours runs, so nothing
    # else is imported (RemoteControl alone pulls in aiohttp: a third of a second of
    # start-up). Left out of Scrapy's: robots.txt, decompression and depth are ours (robots.py,
    # decompression.py, the Frontier); DownloaderStats builds the bytes of every request and
    # response again to count them, for figures the crawl log already has; HTTP auth, the
    # HTTP cache, the stats and log extensions, telnet, memory checks, feeds and spider state
    # are unused
    "DOWNLOADER_MIDDLEWARES_BASE": {
        "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": 50,
        "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
        "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": 550,
        "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": 580,
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": 700,
        "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": 750,
    },
    "SPIDER_MIDDLEWARES_BASE": {
        "scrapy.spidermiddlewares.start.StartSpiderMiddleware": 25,
        "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": 50,
        "scrapy.spidermiddlewares.referer.RefererMiddleware": 700,
        "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": 800,
    },
    "EXTENSIONS_BASE": {"scrapy.extensions.throttle.AutoThrottle": 0},
}

_DOWNLOADER_MIDDLEWARES = {
    # robots.txt as RFC 9309 reads a 5xx or unreachable one (robots.py)
    "crawler.robots.RobotsPolicy": 100,
    "crawler.decompression.BoundedDecompression": 590,
    "crawler.proxy.NetworkProxy": 740,
    "crawler.recorder.WarcRecorder": 950,
}

# depth is the Frontier's business (it counts link hops, not requisites): not in the base
_SPIDER_MIDDLEWARES: dict[str, int] = {}

_EXTENSIONS = {
    "crawler.warc_files.WarcFiles": 100,
    "crawler.crawl_log.CrawlLog": 110,
    "crawler.size_limit.SizeLimit": 120,
    "crawler.politeness.MinimumGap": 130,
}
