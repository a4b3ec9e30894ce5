"""Start, join or resume a crawl whose state lives in Redis (`crawl --frontier`, `worker`).

The crawl's first process (`palimpsest crawl --frontier URL`) writes the network config and
the crawl's options into Redis, seeds the frontier and the payload history (from its
collection's catalog), then crawls as a worker. `palimpsest worker --frontier URL` needs only
the URL and a collection to write into: it reads the rest from Redis. When the frontier is
empty and no lease is out every worker closes its files and exits; the first process then
waits for the others, cuts back dead workers' torn files, merges the logs, writes the summary
and deletes the crawl's keys.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import tomllib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import redis
from scrapy.crawler import CrawlerProcess

from crawler.distributed.files import (
    WORKERS_DIR,
    hold_lock,
    merge_logs,
    repair_dead_workers,
    worker_dir,
    worker_name,
)
from crawler.distributed.spider import SharedHistory, SharedSpider
from crawler.distributed.state import SharedCrawl, Unreachable, connect, current_crawl
from crawler.distributed.worker import Worker
from crawler.frontier import Frontier
from crawler.report import read_summary, write_summary
from crawler.run import CrawlResult, _selected_sites, start_up_frozen
from crawler.settings import CrawlOptions, robots_policy, scrapy_settings, site_slots
from index import indexer
from index.catalog import Catalog
from index.collection import Collection
from index.config import NetworkConfig, Site, parse_config
from index.errors import UsageError

# seconds between two looks for a crawl to join (`worker --wait`): two small reads each, and
# a worker standing by starts on a new crawl this much late at most
JOIN_POLL = 0.02
# the options that travel in Redis to every worker
_SHARED_OPTIONS = ("sites", "concurrency_per_site", "delay", "no_robots", "max_pages",
                   "lease_seconds")


def start_shared_crawl(collection: Collection, options: CrawlOptions) -> CrawlResult:
    """`palimpsest crawl --frontier URL [--resume]`: a new shared crawl, or the stopped one
    Redis holds, crawled by this process with whatever workers join."""
    if options.browser:
        raise UsageError("--frontier with --browser: a shared crawl renders no pages yet")
    client = connect(options.frontier or "")
    if options.resume:
        shared = current_crawl(client, options.frontier or "")
        described = shared.config()
        if described.get("state") == "finished":
            raise UsageError(f"the crawl in Redis at {shared.url} ({shared.crawl_id}) "
                             "finished: nothing to resume")
        collection.crawl_dir(shared.crawl_id).mkdir(parents=True, exist_ok=True)
        # seeded again if its first process stopped before its seeds were all in (the seen
        # set in Redis drops those that were)
        seeds = described.get("seeded") != "1"
    else:
        shared, seeds = _new_shared_crawl(client, collection, options), True
    result = _crawl(collection, shared, seeds=seeds, progress=options.progress,
                    resumed=options.resume)
    return _finish(shared, result)


def join_shared_crawl(collection: Collection, url: str, progress: bool = False,
                      wait: bool = False) -> CrawlResult:
    """`palimpsest worker --frontier URL [--wait]`: crawl as one more worker of the crawl in
    Redis (with `wait`, of the next one to start if none is running)."""
    shared = _crawl_to_join(connect(url), url, wait)
    return _crawl(collection, shared, seeds=False, progress=progress)


def _crawl_to_join(client: Any, url: str, wait: bool) -> SharedCrawl:
    """The crawl Redis holds, unless it finished (UsageError); with `wait`, once one that
    has not finished is there, however long that takes (Redis going away meanwhile included):
    a worker started before the crawl, its start-up paid before the first page."""
    said = False
    while True:
        try:
            shared = current_crawl(client, url)
            if shared.config().get("state") != "finished":
                return shared
            why = f"the crawl in Redis at {url} ({shared.crawl_id}) finished"
        except UsageError:  # no crawl at all
            if not wait:
                raise
            why = f"no crawl in Redis at {url}"
        except (redis.RedisError, Unreachable) as exc:
            if not wait:
                raise UsageError(f"--frontier {url}: Redis unreachable ({exc})") from None
            why = f"Redis at {url} unreachable"
        if not wait:
            raise UsageError(why)
        if not said:
            sys.stderr.write(f"palimpsest: {why}: waiting for `palimpsest crawl --frontier "
                             f"{url}` to start one\n")
            sys.stderr.flush()
            said = True
        time.sleep(JOIN_POLL)


def _new_shared_crawl(client: Any, collection: Collection, options: CrawlOptions
                      ) -> SharedCrawl:
    current = client.get("palimpsest:current")
    if current is not None:
        previous = SharedCrawl(client, options.frontier or "", current.decode())
        if previous.config().get("state") not in ("finished", None):
            raise UsageError(f"Redis at {options.frontier} holds crawl {previous.crawl_id}, "
                             "not finished: `palimpsest crawl --resume --frontier ...` "
                             "finishes it (or use another database)")
    config = collection.load_config()
    sites = _selected_sites(config, options.sites)
    crawl_id, folder = _claim_crawl_folder(collection)
    shared = SharedCrawl(client, options.frontier or "", crawl_id)
    try:
        # revisits refer to the catalog's records: bring it up to date, then share its history
        indexer.update(collection, config=config, fulltext=False)
        _share_history(shared, collection)
        fields = {"crawl_id": crawl_id, "state": "running", "seeded": "0",
                  "config": collection.config_path.read_text(encoding="utf-8"),
                  "options": json.dumps({k: v for k, v in asdict(options).items()
                                         if k in _SHARED_OPTIONS})}
        shared.describe(fields, _site_policy(config, sites, options))
    except BaseException:
        # (not empty: Redis named the crawl after all, and a worker joined it)
        with contextlib.suppress(OSError):
            folder.rmdir()
        raise
    return shared


def _claim_crawl_folder(collection: Collection) -> tuple[str, Path]:
    """A new crawl id and its folder, made before Redis names the crawl (a worker waiting on
    this machine joins at once, and writes its files there); a crawl started in the same
    second on the same collection takes the next id."""
    for _ in range(100):
        crawl_id = collection.new_crawl_id()
        folder = collection.crawl_dir(crawl_id)
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        return crawl_id, folder
    raise UsageError(f"{collection.crawls_dir}: no free crawl id for a new crawl")


def _site_policy(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions
                 ) -> dict[str, str]:
    """Each site's "delay concurrency", held for the whole crawl by Redis (one request in
    flight where there is a delay: crawler.settings.site_slot)."""
    return {name: f"{slot['delay']} {slot['concurrency']}"
            for name, slot in site_slots(config, sites, options).items()}


def _share_history(shared: SharedCrawl, collection: Collection) -> None:
    """The catalog's payload history into Redis, in batches."""
    pipe = shared.client.pipeline(transaction=False)
    with Catalog.open(collection) as catalog:
        for n, (url, digest, original_url, original_date) in enumerate(
                catalog.payload_history(), 1):
            pipe.hset(shared.key("hurl"), url, digest)
            if original_url:
                pipe.hsetnx(shared.key("hdig"), digest, json.dumps([original_url, original_date]))
            if n % 5000 == 0:
                shared.call(pipe.execute)
    shared.call(pipe.execute)


def _crawl(collection: Collection, shared: SharedCrawl, *, seeds: bool, progress: bool,
           resumed: bool = False) -> CrawlResult:
    """Crawl as one worker until the shared crawl is over."""
    described = shared.config()
    text = described["config"]
    config = parse_config(tomllib.loads(text))
    options = replace(CrawlOptions(**_options(described["options"])), progress=progress)
    sites = _selected_sites(config, options.sites)
    if not collection.config_path.exists():  # `index` and replay need the sites too
        collection.root.mkdir(parents=True, exist_ok=True)
        collection.config_path.write_text(text, encoding="utf-8")
    crawl_dir = collection.crawl_dir(shared.crawl_id)
    name = worker_name()
    own = worker_dir(crawl_dir, name)
    _lock = hold_lock(crawl_dir, name)  # noqa: F841 (held until the process ends)
    repair_dead_workers(crawl_dir)
    frontier = Frontier(config, sites, options.max_pages)
    per_site = options.concurrency_per_site or config.politeness.concurrency_per_site
    worker = Worker(shared, name, options.lease_seconds,
                    {s.name: frontier.page_limit(s.name) for s in sites},
                    slots=per_site * len(sites))
    settings = _worker_settings(config, sites, options, shared, crawl_dir, worker)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SharedSpider)
    process.crawl(crawler, sites=sites, frontier=frontier,
                  robots=robots_policy(config, sites, options), worker=worker, seeds=seeds)
    with start_up_frozen():
        process.start()
    try:
        shared.leave(name)
    except Exception:  # noqa: BLE001 (Redis gone at the very end: the heartbeat expires)
        pass
    summary = read_summary(own) or {"crawl": shared.crawl_id, "finish_reason": "failed",
                                    "totals": {}, "sites": {}}
    return CrawlResult(shared.crawl_id, crawl_dir, summary, resumed=resumed)


def _options(raw: str) -> dict[str, Any]:
    options = json.loads(raw)
    options["sites"] = tuple(options.get("sites") or ())
    return options


def _worker_settings(config: NetworkConfig, sites: tuple[Site, ...], options: CrawlOptions,
                     shared: SharedCrawl, crawl_dir: Path, worker: Worker) -> dict[str, Any]:
    """A crawl's settings, with politeness, queues, robots.txt, the payload history, WARC
    names and the log handed to Redis and the worker."""
    settings = scrapy_settings(config, sites, options, crawl_id=shared.crawl_id,
                               crawl_dir=crawl_dir, first_serial=0,
                               history=SharedHistory(worker))
    middlewares = dict(settings["DOWNLOADER_MIDDLEWARES"])
    middlewares["crawler.robots.RobotsPolicy"] = None
    middlewares["crawler.distributed.spider.SharedRobots"] = 100
    recorder = middlewares.pop("crawler.recorder.WarcRecorder")
    middlewares["crawler.recorder.WarcRecorder"] = None
    middlewares["crawler.distributed.spider.SharedRecorder"] = recorder
    extensions = dict(settings["EXTENSIONS"])
    extensions["crawler.warc_files.WarcFiles"] = None
    extensions["crawler.distributed.spider.WorkerWarcFiles"] = 100
    return {
        **settings,
        "SCHEDULER": "crawler.distributed.worker.SharedScheduler",
        # Redis grants each fetch (crawler/distributed/lua.py): no delay of Scrapy's own
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_SLOTS": {},
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": middlewares,
        "EXTENSIONS": extensions,
        "PALIMPSEST_SHARED": worker,
        "PALIMPSEST_WORKER": worker.name,
        "PALIMPSEST_LOG_DIR": str(worker_dir(crawl_dir, worker.name)),
    }


def _finish(shared: SharedCrawl, result: CrawlResult, wait: float | None = None
            ) -> CrawlResult:
    """The first process's close: once the other workers are gone (or their heartbeat has
    expired), dead workers' files cut back, the logs merged, the summary written, the crawl's
    keys deleted."""
    options = _options(shared.config().get("options", "{}"))
    deadline = time.monotonic() + (wait or 2 * options.get("lease_seconds", 30.0))
    finished = shared.config().get("state") == "finished"
    while time.monotonic() < deadline and shared.leave("") > 0:
        time.sleep(0.2)
    repair_dead_workers(result.crawl_dir)
    reason = "finished" if finished else result.summary.get("finish_reason", "shutdown")
    summary = merge_logs(result.crawl_dir, shared.crawl_id, reason)
    # the shared counters: fetches, leases completed, leases returned by their dead worker
    workers = sorted(p.name for p in (result.crawl_dir / WORKERS_DIR).iterdir())
    summary["shared"] = {"workers": workers, **shared.stats()}
    write_summary(result.crawl_dir, summary)
    if finished:
        shared.forget()
    return replace(result, summary=summary)
