"""Scrapy's HTTP/1.1 download handler, keeping as many idle connections to one host as the
crawl may have in flight.

Scrapy keeps at most CONCURRENT_REQUESTS_PER_DOMAIN idle connections per host, port and
proxy. Through a proxy every site is one such host, so with five sites fetched at once four
connections out of five were closed after their response and a new one opened for the next
request (half the fetches of a crawl paid a TCP connect and close). Politeness is unchanged:
how many requests a site gets at once is the download slots' business, not the pool's.
"""

from __future__ import annotations

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler


class PooledHTTPDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool.maxPersistentPerHost = max(self._pool.maxPersistentPerHost,
                                              crawler.settings.getint("CONCURRENT_REQUESTS"))
