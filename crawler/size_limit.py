"""Cut over-long responses instead of dropping them.

Scrapy's DOWNLOAD_MAXSIZE discards a response that passes the limit; an archive wants the part
it received, marked `WARC-Truncated: length`. This extension stops the download once the limit
is passed and flags the request so the recorder marks the record.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Response


class SizeLimit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._received: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SizeLimit:
        limit = crawler.settings.getint("PALIMPSEST_MAX_RESPONSE_BYTES")
        if limit <= 0:
            raise NotConfigured("no response size limit")
        ext = cls(limit)
        crawler.signals.connect(ext.bytes_received, signals.bytes_received)
        crawler.signals.connect(ext.response_downloaded, signals.response_downloaded)
        return ext

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        total = self._received.get(id(request), 0) + len(data)
        self._received[id(request)] = total
        if total > self.limit:
            del self._received[id(request)]
            request.meta["palimpsest_truncated"] = True
            raise StopDownload(fail=False)

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        self._received.pop(id(request), None)
