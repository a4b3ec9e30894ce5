"""The WARC files extension: owns the crawl's rotating WARC writer, writes the record groups
the recorder and spider hand it, and closes the current file when the spider closes (on a
clean stop, Ctrl-C or SIGTERM alike).

It also stops the crawl at the first failure to write its files (a full disk), here or in
another component (the `write_failed` signal): every WARC file is left whole, the failure is
kept in the crawl's stats for `crawler.run` to report in one line, and nothing more is
written, so that `palimpsest crawl --resume` carries on from whole files once there is room.
"""

from __future__ import annotations

from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from warcio.recordloader import ArcWarcRecord

from crawler import signals as our_signals
from crawler.warc_writer import RotatingWarcWriter

# the crawl stats key holding "<path>: <reason>" of the first write that failed
WRITE_FAILURE = "palimpsest/write_failure"
WRITE_FAILED_REASON = "write-failed"


class WarcFiles:
    def __init__(self, writer: RotatingWarcWriter, crawler: Crawler) -> None:
        self.writer = writer
        self.crawler = crawler
        self.failed = False

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
        ext = cls(writer, crawler)
        crawler.signals.connect(ext.write, our_signals.warc_records)
        crawler.signals.connect(ext.write_failed, our_signals.write_failed)
        crawler.signals.connect(ext.close, signals.spider_closed)
        crawler.signals.connect(ext.close, signals.engine_stopped)
        return ext

    def write(self, records: list[ArcWarcRecord]) -> None:
        if self.failed:
            self.crawler.stats.inc_value("palimpsest/groups_not_written")
            return
        try:
            self.writer.write(records)
        except OSError as exc:
            self.crawler.signals.send_catch_log(our_signals.write_failed, error=exc,
                                                path=self.writer.directory)

    def write_failed(self, error: OSError, path: Path) -> None:
        """Stop the crawl after its first failed write (later ones are its echoes)."""
        if self.failed:
            return
        self.failed = True
        where = error.filename or path
        self.crawler.stats.set_value(WRITE_FAILURE, f"{where}: {error.strerror or error}")
        if self.crawler.engine is not None and self.crawler.engine.spider is not None:
            deferred_from_coro(self.crawler.engine.close_spider_async(
                reason=WRITE_FAILED_REASON))

    def close(self) -> None:
        self.writer.close()
