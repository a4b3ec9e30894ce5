"""Sends every request of the crawl, robots.txt fetches included, through the network's proxy
(Scrapy's HttpProxyMiddleware otherwise takes proxies only from the environment or from
each request's meta, and robots.txt requests carry none of ours)."""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured


class NetworkProxy:
    def __init__(self, proxy: str) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NetworkProxy:
        proxy = crawler.settings.get("PALIMPSEST_PROXY")
        if not proxy:
            raise NotConfigured("no proxy configured")
        return cls(proxy)

    def process_request(self, request: Request) -> None:
        request.meta.setdefault("proxy", self.proxy)
