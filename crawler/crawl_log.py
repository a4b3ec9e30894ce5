"""The crawl log: one JSON line per URL the crawl met (captured, excluded or failed, and why),
appended as it happens, a progress line while the crawl runs, and the summary at the end."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler import signals as our_signals
from crawler.report import summarize, write_summary

LOG_NAME = "crawl-log.jsonl"
PROGRESS_EVERY = 2.0


class CrawlLog:
    def __init__(self, crawl_dir: Path, crawl_id: str, site_hosts: dict[str, str],
                 progress: bool) -> None:
        self.crawl_dir = crawl_dir
        self.crawl_id = crawl_id
        self.site_hosts = site_hosts
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

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlLog:
        settings = crawler.settings
        crawl_dir = settings.get("PALIMPSEST_CRAWL_DIR")
        if not crawl_dir:
            raise NotConfigured("no crawl folder")
        ext = cls(Path(crawl_dir), settings.get("PALIMPSEST_CRAWL_ID"),
                  dict(settings.get("PALIMPSEST_SITE_HOSTS", {})),
                  settings.getbool("PALIMPSEST_PROGRESS"))
        crawler.signals.connect(ext.event, our_signals.crawl_event)
        crawler.signals.connect(ext.spider_closed, signals.spider_closed)
        crawler.signals.connect(ext.write_failed, our_signals.write_failed)
        ext.signals = crawler.signals
        return ext

    def event(self, entry: dict[str, Any]) -> None:
        if self.failed:
            return  # what follows a failed write is not in the WARCs: a resume fetches it
        entry.setdefault("site", self._site(entry["url"]))
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
        self.summary = summarize(self.path, crawl_id=self.crawl_id, finish_reason=reason)
        try:
            write_summary(self.crawl_dir, self.summary)
        except OSError as exc:
            self._report(exc)

    def _site(self, url: str) -> str:
        host = (urlsplit(url).hostname or "").lower()
        while host:
            if host in self.site_hosts:
                return self.site_hosts[host]
            host = host.partition(".")[2]
        return ""
