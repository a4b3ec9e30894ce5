"""The parts of a crawl that change when its state lives in Redis: the spider hands what it
found to the shared frontier (completing the lease of the page it parsed), robots.txt is
fetched once for all workers, and the payload history is one for every worker so that a
payload met by one is a revisit for the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from crawler.crawl_log import CrawlLog
from crawler.dedup import PayloadHistory, PayloadRef
from crawler.distributed.state import Unreachable
from crawler.distributed.worker import LEASE, Worker
from crawler.recorder import WarcRecorder, payload_digest
from crawler.robots import DISALLOW_ALL, RobotsPolicy
from crawler.spider import NetworkSpider
from crawler.warc_files import WarcFiles

_DISALLOW = b"D"  # the shared robots.txt of an origin closed to us (5xx, unreachable)
_RULES = b"A"  # followed by the robots.txt body (empty: no rules)


class SharedSpider(NetworkSpider):
    """The network spider, its findings queued in Redis instead of yielded to Scrapy."""

    def __init__(self, *args: Any, worker: Worker, seeds: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker = worker
        self.seeds = seeds
        self._log: CrawlLog | bool | None = None  # the crawl log extension, once found

    async def start(self) -> AsyncIterator[Request]:
        """Only the crawl's first process seeds the frontier (or the one resuming it, if the
        seeds were not all in); a worker joining takes what Redis holds. The crawl is marked
        seeded by the process that seeded it, once every seed is queued: until then an
        empty frontier is not the crawl's end."""
        if self.seeds:
            async for request in super().start():
                yield request
            self.worker.send(self.worker.shared.mark_seeded)

    def parse(self, response: Response) -> Iterator[Request]:
        return self._completed(response, super().parse(response))

    def parse_robots(self, response: Response) -> Iterator[Request]:
        return self._completed(response, super().parse_robots(response))

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        return self._completed(response, super().parse_sitemap(response))

    def errback(self, failure: Failure) -> None:
        try:
            super().errback(failure)
        finally:
            self._flush_log()
            self.worker.complete(failure.request.meta.get(LEASE), [])

    def _flush_log(self) -> None:
        """What the crawl log holds of a request reaches the OS before its lease completes."""
        if self._log is None:
            found = [e for e in self.crawler.extensions.middlewares if isinstance(e, CrawlLog)]
            self._log = found[0] if found else False
        if self._log:
            self._log.flush()

    def _completed(self, response: Response, found: Iterator[Request]) -> list[Request]:
        """Queue what a document links to and complete its lease, in one step."""
        requests: list[Request] = []
        try:
            requests = list(found)
        finally:
            self._flush_log()
            entries = [self.worker.entry(r) for r in requests]
            via = response.url

            def said(verdicts: list[str]) -> None:
                for request, verdict in zip(requests, verdicts, strict=False):
                    if verdict == "limit":
                        self._event(request.url, "excluded", why="limit:pages", via=via,
                                    site=request.meta["site"])
            self.worker.complete(response.meta.get(LEASE), entries, said)
        return []


class SharedRobots(RobotsPolicy):
    """robots.txt fetched by the first worker that needs it, its answer kept in Redis for the
    others; the page that waited for it keeps its site's delay after it."""

    async def _fetch(self, request: Request) -> Any:
        worker: Worker = self.crawler.settings["PALIMPSEST_SHARED"]
        netloc = urlparse_cached(request).netloc
        shared = await self._shared_answer(worker, netloc)
        if shared is not None:
            return self._parser_of(shared)
        parser = await super()._fetch(request)
        if parser is None:  # not available (too many redirects): no rules
            self._share(netloc, _RULES)
        await self._keep_delay(worker, request)
        return parser

    async def _shared_answer(self, worker: Worker, netloc: str) -> bytes | None:
        """Another worker's answer for `netloc`, waiting for one under way; None if this
        worker is to fetch it."""
        timeout = self.crawler.settings.getfloat("DOWNLOAD_TIMEOUT") + 5
        waited = 0.0
        while True:
            try:
                answer = worker.shared.hget("robots", netloc)
                if answer is not None or worker.shared.lock("robots:" + netloc, timeout):
                    return answer
            except Unreachable:
                pass
            if waited > 2 * timeout:
                return None  # its fetcher died: fetch it ourselves
            await _sleep(0.1)
            waited += 0.1

    def _parser_of(self, answer: bytes) -> Any:
        if answer == _DISALLOW:
            return DISALLOW_ALL
        return build_from_crawler(self._parserimpl, self.crawler, answer[1:])

    def _share(self, netloc: str, answer: bytes) -> None:
        worker: Worker = self.crawler.settings["PALIMPSEST_SHARED"]
        worker.send(lambda: worker.shared.hset("robots", netloc, answer))

    async def _parse(self, response: Response, url: str, request: Request) -> Any:
        netloc = urlparse_cached(response).netloc
        body = response.body if 200 <= response.status < 300 else b""
        self._share(netloc, _DISALLOW if response.status >= 500 else _RULES + body)
        return await super()._parse(response, url, request)

    def _closed(self, url: str, request: Request, why: str) -> None:
        if "unreachable" in why:
            self._share(urlparse_cached(request).netloc, _DISALLOW)
        super()._closed(url, request, why)

    async def _keep_delay(self, worker: Worker, request: Request) -> None:
        """The page's fetch waits its site's delay after the robots.txt fetched under its
        grant."""
        lease = request.meta.get(LEASE)
        if lease is None:
            return
        site = request.meta["site"]
        # the slot stays the page's: another request of this site, granted meanwhile, would
        # wait on this robots.txt while the page waits on its slot
        worker.send(lambda: worker.shared.pace(site))
        while True:
            try:  # the pace first, if it waits in the outbox: the delay runs from it
                wait = (worker.shared.acquire(site, lease, worker.lease_seconds)
                        if worker.caught_up() else 0.5)
            except Unreachable:
                wait = 0.5
            if wait <= 0:
                return
            await _sleep(min(wait, 0.5))


async def _sleep(seconds: float) -> None:
    from twisted.internet import reactor  # the one Scrapy installed

    await maybe_deferred_to_future(deferLater(reactor, seconds))


class SharedHistory(PayloadHistory):
    """The payload history kept in Redis (hashes hurl: url -> digest, hdig: digest -> first
    record), seeded from the catalog by the crawl's first process. Redis unreachable: a
    payload is written in full (never a revisit to a record we cannot name).

    The look-ups of every response that reaches the recorder in one turn of the event loop
    (a CPU-bound worker finds a dozen or more downloads done at each turn) go to Redis in one
    round trip, at the start of the next turn, with the writes pending before them; the
    answers are read at a later turn, the worker busy with other responses meanwhile."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker
        # (url, digest, its previous digest, the payload's first record): what `fetch` read
        self._fetched: tuple[str, str, bytes | None, bytes | None] | None = None
        self._asked: list[tuple[str, str]] = []  # this turn's look-ups, not yet sent
        self._answers: asyncio.Future[list[tuple[bytes | None, bytes | None]]] | None = None
        # payloads remembered since the last look-ups went: Redis has not had them before
        # the look-ups now answered (two of one batch, the same payload: the second revisits)
        self._mine: dict[str, PayloadRef] = {}

    async def fetch(self, url: str, digest: str) -> None:
        """Both look-ups of a response, in the round trip of this turn's batch, kept for
        `previous_digest` and `original` (which the recorder asks one after the other)."""
        if self._answers is None:
            loop = asyncio.get_running_loop()
            self._answers = loop.create_future()
            loop.call_soon(self._send)
        place, answers = len(self._asked), self._answers
        self._asked.append((url, digest))
        self._fetched = (url, digest, *(await answers)[place])

    def _send(self) -> None:
        asked, answers = self._asked, self._answers
        self._asked, self._answers = [], None
        assert answers is not None
        self._mine.clear()  # sent before these look-ups, with the pending writes

        def failed(exc: Exception) -> None:
            if isinstance(exc, Unreachable):  # written in full
                answers.set_result([(None, None)] * len(asked))
            else:  # every response waiting on it fails, none hangs
                answers.set_exception(exc)
        try:  # the answers read at a later turn: the worker parses meanwhile
            self.worker.shared.histories_later(asked, answers.set_result, failed)
        except Exception as exc:  # Unreachable: nothing sent
            failed(exc)

    def forget(self) -> None:
        self._fetched = None

    def previous_digest(self, url: str) -> str | None:
        found = self._look_up("hurl", url, 0)
        return found.decode() if found else None

    def original(self, digest: str) -> PayloadRef | None:
        found = self._look_up("hdig", digest, 1)
        return PayloadRef(*json.loads(found)) if found else self._mine.get(digest)

    def _look_up(self, key: str, field: str, at: int) -> bytes | None:
        """`field` of the hash `key`: from the prefetched pair when it is the one asked for
        (`at`: its place there), else from Redis; None if Redis is unreachable."""
        if self._fetched and self._fetched[at] == field:
            return self._fetched[at + 2]
        try:
            return self.worker.shared.hget(key, field)
        except Unreachable:
            return None

    def remember(self, url: str, digest: str, original: PayloadRef) -> None:
        """Pending: goes with the worker's next call to Redis (the completion of this page's
        lease at the latest), not a round trip of its own."""
        shared = self.worker.shared
        self._mine.setdefault(digest, original)
        first = json.dumps([original.url, original.warc_date])

        def write(pipe: Any) -> None:
            pipe.hset(shared.key("hurl"), url, digest)
            pipe.hsetnx(shared.key("hdig"), digest, first)
        shared.later(write)


class SharedRecorder(WarcRecorder):
    """The WARC recorder, the payload-history look-ups of the responses of one turn of the
    event loop made in one round trip to Redis (see SharedHistory)."""

    async def process_response(self, request: Request, response: Response) -> Response:
        history = self.history
        if not isinstance(history, SharedHistory):
            return super().process_response(request, response)
        await history.fetch(response.url, payload_digest(response.body))
        try:
            return super().process_response(request, response)
        finally:
            history.forget()


class WorkerWarcFiles(WarcFiles):
    """The WARC files extension, each file named after its worker (so that workers sharing a
    crawl folder never clash, and a dead worker's torn file is known by its name)."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> WorkerWarcFiles:
        ext = super().from_crawler(crawler)
        ext.writer.origin = crawler.settings["PALIMPSEST_WORKER"]
        return ext
