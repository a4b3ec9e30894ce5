"""Run one crawl of the network (or of some of its sites) into a new crawl folder, or finish an
interrupted one.

Scrapy's reactor runs once per process: `run_crawl` is meant to be called once by the
`palimpsest crawl` command; anything that crawls several times (the demo, the tests, the
bench) runs that command in a child process.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# imported here, near the bottom of the stack, not when the engine loads its download handler:
# Scrapy's deprecated-class shims in these modules call inspect.stack(), which reads the
# source of every frame on the stack (0.2-0.4 s of start-up from deep inside the engine)
import scrapy.core.downloader.contextfactory  # noqa: F401
from scrapy.crawler import CrawlerProcess

from crawler.dedup import PayloadHistory
from crawler.frontier import Frontier
from crawler.report import SUMMARY_NAME, read_summary
from crawler.resume import ResumePlan
from crawler.settings import CrawlOptions, robots_policy, scrapy_settings
from crawler.spider import NetworkSpider
from crawler.warc_files import WRITE_FAILURE
from index import indexer
from index.collection import Collection
from index.config import NetworkConfig, Site
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
    sites = _selected_sites(config, options.sites)
    crawl_id, plan = _crawl_to_run(collection, options)
    crawl_dir = collection.crawl_dir(crawl_id)
    # revisits are written against the catalog: bring it up to date with every closed WARC
    # (a resumed crawl's repaired files too); the full text is left to `palimpsest index`
    indexer.update(collection, config=config, fulltext=False)
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
    with start_up_frozen():
        process.start()
    failure = crawler.stats.get_value(WRITE_FAILURE)
    if failure:
        raise _write_failed(crawl_id, crawl_dir, failure, resumed=plan is not None)
    summary = read_summary(crawl_dir) or {"crawl": crawl_id, "finish_reason": "failed",
                                          "totals": {}, "sites": {}}
    return CrawlResult(crawl_id, crawl_dir, summary, resumed=plan is not None)


def _crawl_to_run(collection: Collection, options: CrawlOptions
                  ) -> tuple[str, ResumePlan | None]:
    """The id of the crawl to run, and with `--resume` what the interrupted one had done
    (its torn files repaired, its old summary dropped)."""
    if not options.resume:
        return options.crawl_id or collection.new_crawl_id(), None
    crawl_id = _interrupted_crawl(collection)
    crawl_dir = collection.crawl_dir(crawl_id)
    (crawl_dir / SUMMARY_NAME).unlink(missing_ok=True)
    return crawl_id, ResumePlan.read(crawl_dir)


@contextmanager
def start_up_frozen() -> Iterator[None]:
    """What exists before the crawl (the imported modules, settings, the crawler: some 83,000
    objects) left out of the cyclic garbage collector's full collections while it runs: each
    went through all of it (4 in a crawl of 2,400 small pages took 378 ms, now 7 ms)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _write_failed(crawl_id: str, crawl_dir: Path, failure: str, *, resumed: bool
                  ) -> WriteFailed:
    """The error of a crawl stopped by a failed write. A new crawl that could not write a
    single WARC file is removed: there is nothing in it to resume."""
    if not resumed and not any(crawl_dir.glob("*.warc.gz*")):
        shutil.rmtree(crawl_dir, ignore_errors=True)
        return WriteFailed(f"crawl stopped before it wrote anything: cannot write {failure}; "
                           "make room, then crawl again")
    return WriteFailed(f"crawl {crawl_id} stopped: cannot write {failure}; every WARC file "
                       "is whole: make room, then finish it with `palimpsest crawl --resume`")


def _selected_sites(config: NetworkConfig, names: tuple[str, ...]) -> tuple[Site, ...]:
    """The sites `names` names (ConfigError for one the config lacks), or all of them."""
    return tuple(config.site(name) for name in names) if names else config.sites


def _interrupted_crawl(collection: Collection) -> str:
    """The latest crawl, if it did not finish (an older unfinished crawl stays as it is: the
    crawls after it already cover its ground)."""
    crawls = collection.crawl_ids()
    if crawls:
        summary = read_summary(collection.crawl_dir(crawls[-1]))
        if summary is None or summary.get("finish_reason") != "finished":
            return crawls[-1]
    raise UsageError("no interrupted crawl to resume: the last crawl finished")
