"""`palimpsest monitor`: recrawl what is due, within the fetch budget, index, notify; again.

Each cycle reads the network config afresh, brings the catalog and full-text index up to date,
asks the schedule (index.schedule.report) which pages to fetch now, crawls exactly those
(CrawlOptions.urls: no link is followed; the links the pages hold, read back from their
metadata records, are kept as candidates for the next crawl), indexes the crawl and hands it
to the notifications (index.notify, when present). Fetches are counted against the budget
before the crawl starts, so a crawl stopped half-way can never let the budget be overrun.

Scrapy's reactor runs once per process: each crawl runs in a child process (spawned afresh),
as `palimpsest crawl` would. SIGTERM (or Ctrl-C) between crawls stops the monitor at once;
during a crawl it is passed on to the crawl, which stops as `palimpsest crawl` does (its WARC
files closed), and the monitor catalogues what it captured and stops. A crawl interrupted so
is not resumed: the schedule, read from the catalog, still has whatever it did not fetch due.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.frontier import Frontier
from crawler.resume import ResumePlan
from crawler.settings import CrawlOptions
from crawler.warc_writer import OPEN_SUFFIX, repair_open_file
from index import indexer
from index.catalog import Catalog
from index.collection import Collection
from index.config import NetworkConfig
from index.errors import PalimpsestError
from index.notify import FAILED, SENT, notify_after_crawl
from index.schedule.planner import DAY
from index.schedule.report import ScheduleReport, schedule_report
from index.schedule.state import MonitorState

MIN_WAIT, MAX_WAIT = 5.0, 3600.0  # seconds between two looks at the schedule


@dataclass
class Cycle:
    """What one cycle did: the crawl (None if nothing was due), the pages asked for (those
    never fetched before, new links, with their sites), how many new links it found, the
    notifications sent, and whether a stop cut the crawl short."""

    crawl_id: str | None = None
    fetched: list[str] = field(default_factory=list)
    first_fetches: dict[str, str] = field(default_factory=dict)  # candidates among them
    new_links: int = 0
    notified: int = 0
    stopped: bool = False
    next_look: float = MAX_WAIT  # seconds until the schedule may have something due

    def line(self) -> str:
        if self.crawl_id is None:
            return ("stopped before the crawl began" if self.stopped else
                    f"nothing due within the budget; next look in {self.next_look:.0f} s")
        told = f", {self.notified} notification{'s' if self.notified != 1 else ''} sent"
        return (f"crawl {self.crawl_id}: {len(self.fetched)} due page"
                f"{'s' if len(self.fetched) != 1 else ''} fetched, {self.new_links} new "
                f"link{'s' if self.new_links != 1 else ''} for the next crawl{told}"
                + (" (stopped)" if self.stopped else ""))


class Monitor:
    """One collection's monitor; whoever runs it holds the collection's MonitorLock."""

    def __init__(self, collection: Collection, say: Callable[[str], None]) -> None:
        self.collection = collection
        self.say = say
        self.stopping = False
        self._child: Any = None

    def run(self, once: bool = False) -> None:
        """Cycle until stopped (after one cycle with `once`), sleeping between cycles until
        something may be due."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM,
                                                                    signal.SIGINT)}
        try:
            while not self.stopping:
                cycle = self.cycle()
                self.say(cycle.line())
                if once or cycle.stopped:
                    break
                self._sleep(cycle.next_look)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.stopping:
            self.say("monitor stopped")

    def cycle(self) -> Cycle:
        """Index, plan, crawl what is due, index, notify: once."""
        config = self.collection.load_config()
        state = MonitorState.load(self.collection)
        self._repair_killed_crawl(state)
        indexer.update(self.collection, config=config)
        self._notify_pending(state, config)
        report = schedule_report(self.collection, config, state)
        chosen = report.chosen
        if not chosen or self.stopping:
            return Cycle(next_look=_next_look(report, state))
        now = time.time() / DAY
        state.record_fetches(now, [(r.url, r.site or "") for r in chosen])
        cycle = Cycle(fetched=[r.url for r in chosen],
                      first_fetches={u: state.candidates.pop(u) for u in
                                     [r.url for r in chosen] if u in state.candidates})
        state.running = self.collection.new_crawl_id()
        state.save(self.collection)  # counted before the crawl: a kill cannot overrun it
        options = CrawlOptions(sites=tuple(sorted({r.site for r in chosen if r.site})),
                               urls=tuple(cycle.fetched), crawl_id=state.running)
        cycle.crawl_id, finish_reason = self._crawl(options)
        state.running = None
        cycle.stopped = finish_reason != "finished" and self.stopping
        indexer.update(self.collection, config=config, fulltext=not cycle.stopped)
        if cycle.crawl_id is None:  # stopped before the crawl had begun
            state.add_candidates(cycle.first_fetches)
            state.save(self.collection)
            return cycle
        cycle.new_links = self._keep_new_links(state, config, cycle)
        state.crawls.append(cycle.crawl_id)
        state.notify.append(cycle.crawl_id)
        state.save(self.collection)
        if not cycle.stopped:
            cycle.notified = self._notify_pending(state, config)
        cycle.next_look = MIN_WAIT
        return cycle

    def _repair_killed_crawl(self, state: MonitorState) -> None:
        """A crawl the last monitor was killed during (its child killed too, or it would
        have stopped the crawl cleanly, see _crawl_in_child): its torn WARC files cut back to
        their last whole record and closed, so what it captured is catalogued. The crawl stays
        incomplete (no summary); what it did not fetch is due again."""
        if state.running is None:
            return
        crawl_dir = self.collection.crawl_dir(state.running)
        torn = sorted(crawl_dir.glob("*.warc.gz" + OPEN_SUFFIX))
        for path in torn:
            repair_open_file(path)
        if torn:
            self.say(f"crawl {state.running} was cut short by a kill: {len(torn)} WARC file"
                     f"{'s' if len(torn) != 1 else ''} repaired")
        state.running = None
        state.save(self.collection)

    def _crawl(self, options: CrawlOptions) -> tuple[str | None, str]:
        """Run the crawl in a child process: its id and finish reason (no id for a crawl
        stopped by SIGTERM before Scrapy could stop it gracefully: before it began)."""
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        self._child = context.Process(target=_crawl_in_child,
                                      args=(str(self.collection.root), options, send,
                                            os.getpid()))
        self._child.start()
        send.close()
        try:
            answer = receive.recv()
        except EOFError:
            answer = ("error", "the crawl's process ended without a word", 1)
        finally:
            self._child.join()
            self._child = None
        if answer[0] == "error" and self.stopping:
            return None, "stopped"
        if answer[0] == "error":
            raise PalimpsestError(f"monitor: the crawl failed: {answer[1]}")
        return answer[1], answer[2]

    def _keep_new_links(self, state: MonitorState, config: NetworkConfig, cycle: Cycle) -> int:
        """The in-scope links of the pages just fetched that the catalog has no capture of,
        kept as candidates; candidates asked for and still not captured are not asked again."""
        crawl_dir = self.collection.crawl_dir(cycle.crawl_id)
        frontier = Frontier(config, config.sites)
        found: dict[str, str] = {}
        for page in ResumePlan.read(crawl_dir).parsed:
            for link in page.outlinks:
                site = frontier.site_of(link.url)
                if link.hop == "L" and site and not frontier.admit(link.url, "L", "", count=False):
                    found.setdefault(link.url, site.name)
        with Catalog.open(self.collection) as catalog:
            captured = {u for u in [*found, *cycle.fetched] if catalog.captures(u)}
        missed = {u: s for u, s in cycle.first_fetches.items() if u not in captured}
        if cycle.stopped:  # not refused: the crawl stopped before them; asked for next time
            found.update(missed)
        else:
            state.tried += list(missed)
        return state.add_candidates({u: s for u, s in found.items() if u not in captured})

    def _notify_pending(self, state: MonitorState, config: NetworkConfig) -> int:
        """Notify the crawls indexed and not yet notified (a stop may have come between):
        how many notifications went out. A failed one is said, and never stops the monitor
        (index.notify retries it and never sends one twice)."""
        sent = 0
        while state.notify:
            for delivery in notify_after_crawl(self.collection, state.notify[0], config):
                sent += delivery.outcome == SENT
                if delivery.outcome == FAILED:
                    self.say(str(delivery))
            state.notify.pop(0)
            state.save(self.collection)
        return sent

    def _stop(self, signum: int, frame: object) -> None:
        """SIGTERM or SIGINT: stop between crawls; a crawl under way is told (SIGTERM) and
        stops as `palimpsest crawl` does. Ctrl-C reaches the crawl itself, in our group."""
        self.stopping = True
        child = self._child
        if child is not None and child.pid and signum == signal.SIGTERM:
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # it has just ended

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))


def _next_look(report: ScheduleReport, state: MonitorState) -> float:
    """Seconds until a page comes due or the budget's window frees a fetch, within bounds."""
    now = report.now
    times = [r.next_due for r in report.rows if r.next_due is not None and r.next_due > now]
    times += [f[0] + 1.0 for f in state.fetches if f[0] + 1.0 > now]
    wait = (min(times) - now) * DAY if times else MAX_WAIT
    return min(max(wait, MIN_WAIT), MAX_WAIT)


def _crawl_in_child(root: str, options: CrawlOptions, send: Any, parent: int) -> None:
    """The crawl, in a child process of its own: sends back ("ok", crawl id, finish reason) or
    ("error", message, exit code)."""
    from crawler.run import run_crawl

    _stop_with_parent(parent)
    try:
        result = run_crawl(Collection(Path(root)), options)
        send.send(("ok", result.crawl_id, str(result.summary.get("finish_reason"))))
    except PalimpsestError as exc:
        send.send(("error", str(exc), exc.exit_code))
    finally:
        send.close()


_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _stop_with_parent(parent: int) -> None:
    """Have the kernel send this crawl SIGTERM should the monitor (pid `parent`) die (kill -9,
    OOM): it then stops as on any SIGTERM, every WARC closed, instead of crawling on
    unwatched."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the monitor died before the call
        os.kill(os.getpid(), signal.SIGTERM)
