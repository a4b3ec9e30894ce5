"""The crawl log: one JSON line per URL the crawl met (captured, excluded or failed, and why),
appended as it happens, a progress line while the crawl runs, and the summary at the end.

Each line is attributed to the site its URL belongs to (see `Site.claim`), else to the site
the request was made for (a requisite from elsewhere, a site's robots.txt). Requests Scrapy's
scheduler drops without a word (a redirect back to a URL already fetched) are logged here too.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    NotConfigured,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from twisted.web._newclient import ResponseNeverReceived

from crawler import signals as our_signals
from crawler.report import summarize, write_summary
from index.config import Site, SiteIndex
from index.crawl_log import LOG_NAME

PROGRESS_EVERY = 2.0


class CrawlLog:
    def __init__(self, crawl_dir: Path, crawl_id: str, sites: tuple[Site, ...],
                 progress: bool) -> None:
        self.crawl_dir = crawl_dir
        self.crawl_id = crawl_id
        self.sites = sites
        self._index = SiteIndex(sites)
        self.path = crawl_dir / LOG_NAME
        crawl_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed at the end)
        self.progress = progress
        self._started = time.monotonic()
        self._last_progress = 0.0
        self._captures = 0
        self._bytes = 0
        self.summary: dict[str, Any] | None = None
        self.signals: Any = None  # the crawler's, to report a failed write
        self.failed = False  # a write of the crawl's files failed: nothing more is logged
        self.listed = 0  # how many URLs the crawl was given to fetch, those only

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlLog:
        settings = crawler.settings
        crawl_dir = settings.get("PALIMPSEST_CRAWL_DIR")
        if not crawl_dir:
            raise NotConfigured("no crawl folder")
        # a worker of a shared crawl keeps a log of its own (crawler/distributed/files.py)
        ext = cls(Path(settings.get("PALIMPSEST_LOG_DIR") or crawl_dir),
                  settings.get("PALIMPSEST_CRAWL_ID"),
                  tuple(settings.get("PALIMPSEST_SITES", ())),
                  settings.getbool("PALIMPSEST_PROGRESS"))
        crawler.signals.connect(ext.event, our_signals.crawl_event)
        crawler.signals.connect(ext.request_dropped, signals.request_dropped)
        crawler.signals.connect(ext.spider_closed, signals.spider_closed)
        crawler.signals.connect(ext.write_failed, our_signals.write_failed)
        ext.signals = crawler.signals
        ext.listed = len(settings.getlist("PALIMPSEST_ONLY_URLS"))
        return ext

    def event(self, entry: dict[str, Any]) -> None:
        if self.failed:
            return  # what follows a failed write is not in the WARCs: a resume fetches it
        entry["site"] = self._site(entry["url"], entry.get("site"))
        try:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        except OSError as exc:
            self._report(exc)
            return
        if "status" in entry:
            self._captures += 1
            self._bytes += entry.get("bytes", 0)
        if self.progress:
            now = time.monotonic()
            if now - self._last_progress >= PROGRESS_EVERY:
                self._last_progress = now
                self._file.flush()
                rate = self._captures / max(now - self._started, 1e-6)
                sys.stderr.write(f"\r  {self._captures} captures, {self._bytes / 1e6:.1f} MB, "
                                 f"{rate:.0f}/s   ")
                sys.stderr.flush()

    def flush(self) -> None:
        """Hand the lines written so far to the OS (a shared crawl's worker does before it
        completes a lease: a kill -9 after that loses no line of what it completed)."""
        try:
            self._file.flush()
        except (OSError, ValueError):  # ValueError: closed at the end
            pass

    def request_dropped(self, request: Request, spider: Any) -> None:
        """A request the scheduler refused: its URL (by fingerprint) was already scheduled."""
        redirects = request.meta.get("redirect_urls") or []
        why = "redirect-loop" if request.url in redirects else "duplicate"
        self.event({"time": log_time(), "url": request.url, "outcome": "excluded", "why": why,
                    "via": redirects[-1] if redirects else request.meta.get("via", ""),
                    "site": request.meta.get("site")})

    def write_failed(self, error: OSError, path: Path) -> None:
        self.failed = True

    def _report(self, error: OSError) -> None:
        self.signals.send_catch_log(our_signals.write_failed, error=error, path=self.path)

    def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            self._file.close()
        except OSError as exc:
            self._report(exc)
        if self.progress and self._captures:
            sys.stderr.write("\n")
        self.summary = summarize(self.path, crawl_id=self.crawl_id, finish_reason=reason,
                                 listed=self.listed)
        try:
            write_summary(self.crawl_dir, self.summary)
        except OSError as exc:
            self._report(exc)

    def _site(self, url: str, requested_for: str | None) -> str:
        site = self._index.site_for_url(url)
        return site.name if site else requested_for or ""


def log_time() -> str:
    """Now, as the crawl log writes times (ISO 8601 UTC)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def failure_reason(exc: BaseException) -> str:
    """Why a fetch that raised `exc` got no response, in a few plain words."""
    if isinstance(exc, DownloadTimeoutError):
        return f"timeout: {exc}"
    if isinstance(exc, CannotResolveHostError):
        return "dns: host not found"
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, DownloadFailedError) and isinstance(exc.__cause__, ResponseNeverReceived):
        return "no response: connection closed before the response began"
    if isinstance(exc, DownloadFailedError):
        # a body cut short still gives a response (DOWNLOAD_FAIL_ON_DATALOSS = False): this
        # failure is in the head, and Twisted's parser also hangs up on a header over 16 KiB
        return ("bad response head: connection closed before the head was complete "
                "(or a header line over 16 KiB)")
    if isinstance(exc, ResponseDataLossError):
        return "connection lost mid-body"
    if isinstance(exc, UnsupportedURLSchemeError):
        return "unsupported URL scheme"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
