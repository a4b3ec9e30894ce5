"""Run one crawl of the network (or of some of its sites) into a new crawl folder, or finish an
interrupted one.

Scrapy's reactor runs once per process: `run_crawl` is meant to be called once by the
`palimpsest crawl` command; anything that crawls several times (the demo, the tests, the
bench) runs that command in a child process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess

from crawler.dedup import PayloadHistory
from crawler.frontier import Frontier
from crawler.report import SUMMARY_NAME, read_summary
from crawler.resume import ResumePlan
from crawler.settings import CrawlOptions, robots_policy, scrapy_settings
from crawler.spider import NetworkSpider
from crawler.warc_files import WRITE_FAILURE
from index.collection import Collection
from index.config import Site
from index.crawl_status import status_from_summary
from index.errors import UsageError, WriteFailed


@dataclass(frozen=True)
class CrawlResult:
    crawl_id: str
    crawl_dir: Path
    summary: dict[str, Any]
    resumed: bool

    @property
    def finished(self) -> bool:
        return self.summary.get("finish_reason") == "finished"

    @property
    def unreached(self) -> list[str]:
        """The sites this crawl captured nothing of."""
        return sorted(status_from_summary(self.crawl_id, self.summary).unreached)


def run_crawl(collection: Collection, options: CrawlOptions) -> CrawlResult:
    """Crawl the network as configured in `collection`, as `options` ask; returns the summary
    (also saved as summary.json in the crawl folder beside the WARCs and the crawl log)."""
    config = collection.load_config()
    sites = _selected_sites(config.sites, options.sites, config)
    plan = None
    if options.resume:
        crawl_id = _interrupted_crawl(collection)
        crawl_dir = collection.crawl_dir(crawl_id)
        (crawl_dir / SUMMARY_NAME).unlink(missing_ok=True)
        plan = ResumePlan.read(crawl_dir)
    else:
        crawl_id = collection.new_crawl_id()
        crawl_dir = collection.crawl_dir(crawl_id)
    history = PayloadHistory.from_collection(collection)
    if plan is None:
        # only now: should the catalog fail to be updated (a full disk), no empty crawl is left
        crawl_dir.mkdir(parents=True)
    robots = robots_policy(config, sites, options)
    settings = scrapy_settings(config, sites, options, crawl_id=crawl_id, crawl_dir=crawl_dir,
                               first_serial=plan.files if plan else 0, history=history)
    process = CrawlerProcess(settings)
    frontier = Frontier(config, sites, options.max_pages)
    crawler = process.create_crawler(NetworkSpider)
    process.crawl(crawler, sites=sites, frontier=frontier, robots=robots, resume=plan)
    process.start()
    failure = crawler.stats.get_value(WRITE_FAILURE)
    if failure:
        raise WriteFailed(f"crawl {crawl_id} stopped: cannot write {failure}; every WARC file "
                          "is whole: make room, then finish it with `palimpsest crawl --resume`")
    summary = read_summary(crawl_dir) or {"crawl": crawl_id, "finish_reason": "failed",
                                          "totals": {}, "sites": {}}
    return CrawlResult(crawl_id, crawl_dir, summary, resumed=plan is not None)


def _selected_sites(all_sites: tuple[Site, ...], names: tuple[str, ...], config: Any
                    ) -> tuple[Site, ...]:
    if not names:
        return all_sites
    return tuple(config.site(name) for name in names)


def _interrupted_crawl(collection: Collection) -> str:
    """The latest crawl, if it did not finish (an older unfinished crawl stays as it is: the
    crawls after it already cover its ground)."""
    crawls = collection.crawl_ids()
    if crawls:
        summary = read_summary(collection.crawl_dir(crawls[-1]))
        if summary is None or summary.get("finish_reason") != "finished":
            return crawls[-1]
    raise UsageError("no interrupted crawl to resume: the last crawl finished")
