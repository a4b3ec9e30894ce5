"""The WARC files extension: owns the crawl's rotating WARC writer, writes the record groups
the recorder and spider hand it, and closes the current file when the spider closes (on a
clean stop, Ctrl-C or SIGTERM alike)."""

from __future__ import annotations

from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from warcio.recordloader import ArcWarcRecord

from crawler import signals as our_signals
from crawler.warc_writer import RotatingWarcWriter


class WarcFiles:
    def __init__(self, writer: RotatingWarcWriter) -> None:
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcFiles:
        settings = crawler.settings
        crawl_dir = settings.get("PALIMPSEST_CRAWL_DIR")
        if not crawl_dir:
            raise NotConfigured("no crawl folder to write WARCs into")
        writer = RotatingWarcWriter(
            Path(crawl_dir),
            prefix=settings.get("PALIMPSEST_WARC_PREFIX", "palimpsest"),
            info=list(settings.get("PALIMPSEST_WARCINFO", [])),
            max_bytes=settings.getint("PALIMPSEST_WARC_MAX_BYTES"),
            first_serial=settings.getint("PALIMPSEST_FIRST_SERIAL", 0),
        )
        ext = cls(writer)
        crawler.signals.connect(ext.write, our_signals.warc_records)
        crawler.signals.connect(ext.close, signals.spider_closed)
        crawler.signals.connect(ext.close, signals.engine_stopped)
        return ext

    def write(self, records: list[ArcWarcRecord]) -> None:
        self.writer.write(records)

    def close(self) -> None:
        self.writer.close()
