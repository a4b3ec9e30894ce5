"""The delay between two requests to a site as Heritrix reads it: a minimum gap, never less.

Scrapy counts a site's delay from the moment its previous request left the queue, so a
request slow to reach the wire (a new connection, a busy reactor) is followed by one that
arrives less than the delay after it: 0.0145 s apart for a delay of 0.02 s, measured at the
server. Counted from the end of the previous response instead, as a shared crawl's Redis
grants do (crawler/distributed/lua.py), the gap at the server is never under the delay.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response


class MinimumGap:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MinimumGap:
        ext = cls(crawler)
        # response_downloaded comes before the downloader takes the slot's next request
        crawler.signals.connect(ext.downloaded, signals.response_downloaded)
        return ext

    def downloaded(self, response: Response, request: Request, spider: Any) -> None:
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None and slot.delay:
            slot.lastseen = max(slot.lastseen, monotonic())
