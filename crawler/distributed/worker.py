"""One worker of a shared crawl: the leases it holds, what it still has to tell Redis (the
outbox, while Redis is unreachable), and the Scrapy scheduler that takes its requests from
the shared frontier instead of a queue of its own.

A request's life: granted by Redis (a lease, renewed while the worker is at it), fetched,
released (its site may be fetched again one delay later), parsed; then one script completes
its lease and queues the links it found. Redirects and retries of a leased request stay with
the worker that holds the lease, each fetch granted by the site's politeness again.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from scrapy import Request, signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.crawler import Crawler
from twisted.internet.task import LoopingCall

from crawler.distributed.state import Entry, Grant, SharedCrawl, Unreachable, fingerprint

LEASE = "palimpsest_lease"  # request meta: the lease a request is fetched under
TICK = 0.2  # seconds between two looks at the shared state (leases, finish)
# the longest a worker waits before asking Redis again: another worker may free a site or
# queue requests at any time (a poll is one short script, ~0.1 ms of Redis)
POLL = 0.05
# a worker with this many fetched pages still to parse takes no new grant: it is the CPU that
# holds it back, and another worker may fetch them sooner (without this the first worker
# grabs every site's slot as soon as it frees, fetching faster than it parses, and the
# others find every site busy)
BACKLOG = 2
# the most requests one grant leases at once (each site's first, then more of a site without
# delay and with free slots), within the worker's share
GRANT_BATCH = 8
# the longest a completed lease (and the links it found) waits for another call to Redis to go
# with; a fetch's release goes at the reactor's next turn at the latest
COMPLETE_WAIT = 0.005
# the request meta that travels with a queued request (all plain JSON)
_META = ("site", "reason", "hops", "via", "download_slot", "dont_obey_robotstxt",
         "dont_retry", "allow_offsite")


def serialize(request: Request) -> str:
    """A request as queued in Redis: JSON, never pickle (workers need not trust each other's
    Python, and a queued crawl survives an upgrade)."""
    callback = request.callback
    return json.dumps({"u": request.url, "p": request.priority,
                       "c": callback.__name__ if callback else None,
                       "m": {k: request.meta[k] for k in _META if k in request.meta}},
                      separators=(",", ":"))


class Worker:
    """What this process holds of the shared crawl."""

    def __init__(self, shared: SharedCrawl, name: str, lease_seconds: float,
                 page_limits: dict[str, int], slots: int) -> None:
        self.shared = shared
        self.slots = slots  # every site's concurrency, summed
        self.name = name
        self.lease_seconds = lease_seconds
        self.page_limits = page_limits
        self.held: dict[str, str] = {}  # lease id -> site
        self.granted: deque[Grant] = deque()  # leased in a batch, not yet handed to Scrapy
        self.parsing: set[str] = set()  # leases fetched, their document not yet parsed
        self.outbox: deque[Callable[[], Any]] = deque()
        self.finished = False
        self._renewed = 0.0
        self.wake: Callable[[], None] = lambda: None  # the scheduler asks the engine again
        # the scheduler sends the pending writes within that many seconds
        self.send_soon: Callable[[float], None] = lambda seconds: None

    def __deepcopy__(self, memo: dict) -> Worker:
        """One worker per process: Scrapy's settings copy their values, not this."""
        return self

    def entry(self, request: Request, counts: int | None = None) -> Entry:
        """How PUSH queues `request` (see Entry)."""
        site = request.meta["site"]
        hops = request.meta.get("hops", "")
        if counts is None:
            counts = int(request.meta.get("reason") != "robots"
                         and not hops.endswith(("E", "P")))
        return (b"" if request.dont_filter else fingerprint(request.url), site, counts,
                self.page_limits.get(site, 1 << 30), request.url, serialize(request))

    def send(self, action: Callable[[], Any]) -> Any:
        """Run `action` against Redis now, in order after what waits in the outbox; if Redis
        is unreachable, keep it for later (None)."""
        if not self.caught_up():
            self.outbox.append(action)
            return None
        try:
            return action()
        except Unreachable:
            self.outbox.append(action)
            return None

    def caught_up(self) -> bool:
        """Whether Redis has everything that waited in the outbox (it is sent now if not)."""
        if self.outbox:
            self.flush()
        return not self.outbox

    def flush(self) -> None:
        """Tell Redis what waited while it was unreachable, oldest first."""
        while self.outbox:
            try:
                self.outbox[0]()
            except Unreachable:
                return
            self.outbox.popleft()

    def complete(self, lease: str | None, entries: list,
                 then: Callable[[list[str]], Any] | None = None) -> None:
        """The leased request is done: its lease ends and `entries` are queued, at once, with
        the worker's next call to Redis (within COMPLETE_WAIT); `then` gets the verdicts."""
        if lease:
            self.held.pop(lease, None)
            self.parsing.discard(lease)
        self.shared.push_later(lease or "", entries, then)
        self.send_soon(COMPLETE_WAIT)
        self.wake()  # what it queued, and the slot it freed, may be fetched at once

    def share_left(self) -> int:
        """How many more leases this worker may hold: its share of the crawl's slots (every
        site's concurrency, shared among the workers alive) less those it holds, so that one
        worker does not hold every site while the others find them all busy."""
        return max(1, -(-self.slots // self.shared.alive)) - len(self.held)

    def tick(self) -> None:
        """Renew this worker's leases, return dead workers' to the frontier, see whether the
        crawl is over."""
        if not self.caught_up():
            return
        try:
            now = time.monotonic()
            renew = now - self._renewed >= self.lease_seconds / 3
            if renew:
                self.shared.renew(self.lease_seconds, list(self.held))
            self.shared.reap()
            # one round trip: the renewal and the reaping go with the heartbeat
            self.finished = self.shared.heartbeat(self.name, self.lease_seconds)
            if renew:
                self._renewed = now
        except Unreachable:
            self._renewed = 0.0  # renew first thing once Redis answers again


class SharedScheduler(BaseScheduler):
    """Scrapy's scheduler for a shared crawl: requests come from Redis, one politeness grant
    at a time; the crawl is pending until Redis says it is over."""

    def __init__(self, crawler: Crawler, worker: Worker) -> None:
        self.crawler = crawler
        self.worker = worker
        self.spider: Any = None
        self.followups: deque[Request] = deque()
        self._loop = LoopingCall(self._tick)
        self._poll: Any = None
        self._sending: Any = None
        self._granting = False  # a grant asked, its answer not yet read

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        scheduler = cls(crawler, crawler.settings["PALIMPSEST_SHARED"])
        crawler.signals.connect(scheduler._left_downloader, signals.request_left_downloader)
        return scheduler

    def open(self, spider: Any) -> None:
        self.spider = spider
        # what the other workers queued is seen here too: a link to it is not pushed to Redis
        # only to be refused (each of two workers pushed 1.1 such links a page)
        self.worker.shared.on_found = self._found
        self.worker.wake = self._wake
        self.worker.send_soon = self._send_pending_soon
        from twisted.internet import reactor  # the one Scrapy installed

        self.worker.shared.soon = lambda call: reactor.callLater(0, call)
        self._loop.start(TICK, now=True)  # the workers alive known before the first grant

    def _found(self, urls: list[str]) -> None:
        """URLs queued by some worker: seen here, and their queries count against their
        paths' variants (a trap's variants would otherwise be admitted once by each worker)."""
        self.spider.seen.update(urls)
        for url in urls:
            self.spider.frontier.count_variant(url)

    def close(self, reason: str) -> None:
        if self._loop.running:
            self._loop.stop()
        if self._poll is not None and self._poll.active():
            self._poll.cancel()
        self.worker.flush()  # what waited for Redis (a sitemap's push) before the rest
        try:
            self.worker.shared.send_pending()  # and every reply read
        except Unreachable:
            pass  # said

    def has_pending_requests(self) -> bool:
        return not self.worker.finished

    def enqueue_request(self, request: Request) -> bool:
        lease = request.meta.get(LEASE)
        if lease is None:  # a seed, a sitemap named in robots.txt: into the shared frontier
            verdicts = self.worker.send(
                lambda: self.worker.shared.push("", [self.worker.entry(request)]))
            return verdicts != ["seen"]
        if not request.dont_filter:  # a redirect: its target may have been met already
            seen = self.worker.send(
                lambda: self.worker.shared.push("", [self.worker.entry(request, counts=2)]))
            if seen == ["seen"]:
                self.worker.complete(lease, [])
                return False
        self.followups.append(request)
        return True

    def next_request(self) -> Request | None:
        worker = self.worker
        if worker.finished or worker.outbox:
            return None
        try:
            request = self._followup()
        except Unreachable:
            self._wake_in(0.5)
            return None
        if request is not None:
            return request
        if worker.granted:  # leased already: its site waits for it
            return self._request(worker.granted.popleft())
        share = worker.share_left()
        if self._granting or len(worker.parsing) >= BACKLOG or share <= 0:
            return None  # asked again when it completes one (Worker.complete wakes it)
        # a batch in one round trip, its answer read at a later turn (the worker parses
        # meanwhile) and handed to Scrapy one by one as it asks
        self._granting = True
        try:
            worker.shared.grant_later(worker.lease_seconds, min(share, GRANT_BATCH),
                                      self._granted, self._grant_failed)
        except Unreachable as exc:
            self._grant_failed(exc)
        return None

    def _granted(self, grants: list[Grant] | float) -> None:
        self._granting = False
        if isinstance(grants, float):
            self._wake_in(min(grants, POLL))
            return
        for grant in grants:
            self.worker.held[grant.lease] = grant.site  # renewed from now on
        self.worker.granted.extend(grants)
        self._wake()

    def _grant_failed(self, exc: Exception) -> None:
        self._granting = False
        if not isinstance(exc, Unreachable):
            raise exc
        self._wake_in(0.5)

    def _followup(self) -> Request | None:
        """A redirect or retry of a leased request whose site may be fetched now."""
        for _ in range(len(self.followups)):
            request = self.followups[0]
            # Unreachable: the request stays first in line (its lease is still held)
            wait = self.worker.shared.acquire(request.meta["site"], request.meta[LEASE],
                                              self.worker.lease_seconds)
            self.followups.popleft()
            if wait <= 0:
                return request
            self.followups.append(request)
            self._wake_in(min(wait, POLL))
        return None

    def _request(self, grant: Grant) -> Request:
        data = grant.request
        spider = self.spider
        # queued, so seen (the found stream may not have told this worker of it yet)
        spider.seen.add(data["u"])
        callback = getattr(spider, data["c"]) if data["c"] else spider.parse
        meta = dict(data["m"])
        meta[LEASE] = grant.lease
        return Request(data["u"], callback=callback, errback=spider.errback, meta=meta,
                       priority=data["p"])

    def _left_downloader(self, request: Request, spider: Any) -> None:
        lease = request.meta.get(LEASE)
        if lease is not None:
            if lease in self.worker.held:
                self.worker.parsing.add(lease)
            # goes with the next call (the recorder's payload history look-up comes next),
            # or at the reactor's next turn: the site's slot waits for it
            self.worker.shared.release(request.meta["site"], lease)
            self._send_pending_soon(0)

    def _send_pending_soon(self, seconds: float) -> None:
        """Send the pending writes in `seconds`, unless another call takes them first (a send
        due sooner replaces one due later)."""
        self._sending = _call_within(self._sending, seconds, self._send_pending)

    def _send_pending(self) -> None:
        try:  # the replies read at a later turn
            self.worker.shared.send_pending_later()
        except Unreachable:
            self._wake_in(0.5)  # kept: sent once Redis answers

    def _wake_in(self, seconds: float) -> None:
        """Ask the engine for requests again in `seconds` (it only asks on its own when a
        download ends, or every five seconds)."""
        self._poll = _call_within(self._poll, max(seconds, 0.005), self._wake)

    def _wake(self) -> None:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine else None
        if slot is not None:
            slot.nextcall.schedule()

    def _tick(self) -> None:
        self.worker.tick()
        self._wake()


def _call_within(pending: Any, seconds: float, call: Callable[[], None]) -> Any:
    """`call` in `seconds` on the reactor, unless `pending` (the DelayedCall of an earlier
    request for it, or None) comes as soon: the one that comes first is kept and returned."""
    from twisted.internet import reactor  # the one Scrapy installed

    if pending is not None and pending.active():
        if pending.getTime() <= reactor.seconds() + seconds:
            return pending
        pending.cancel()
    return reactor.callLater(seconds, call)
