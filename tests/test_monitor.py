"""`palimpsest monitor` (issue 15 point 2) over the sample network: `--once` recrawls only the
pages that are due, within each site's fetch budget; a restarted monitor goes on where the last
one was (the budget already spent, nothing done redone, the new links it found next); one
monitor per collection; SIGTERM stops it cleanly, between crawls and during one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.config import render_template
from index.warc_import import add_warcs
from palimpsest.sample_network import SITES, SampleNetwork, manifest
from tests.conftest import ROOT, crawl_ids, new_collection, palimpsest, read_records
from tests.test_notify import Receiver
from tests.test_schedule import page, with_schedule, write_history

PER_SITE = 4  # fetches a day for cognitura
OLD = ("http://cognitura.test/", "http://cognitura.test/about/")
RECENT = ("http://paxpoint.test/", "http://paxpoint.test/about/")


def monitor_once(collection: Collection) -> subprocess.CompletedProcess:
    return palimpsest("monitor", "--once", "--collection", str(collection.root))


def fetched_pages(collection: Collection, crawl_id: str) -> list[str]:
    """The HTML pages a crawl captured."""
    records = read_records(sorted(collection.crawl_dir(crawl_id).glob("*.warc.gz")))
    return sorted(r.url for r in records if r.type in ("response", "revisit")
                  and "text/html" in dict(r.http_headers).get("Content-Type", ""))


def state(collection: Collection) -> dict:
    return json.loads((collection.root / "monitor" / "state.json").read_text())


@dataclass
class FirstRun:
    collection: Collection
    crawl_id: str
    stdout: str
    state: dict


@pytest.fixture(scope="module")
def network() -> SampleNetwork:
    with SampleNetwork(revision=1) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Receiver:
    """A json:// webhook endpoint the monitor's notifications go to."""
    listening = Receiver()
    threading.Thread(target=listening.serve_forever, daemon=True).start()
    yield listening
    listening.shutdown()


@pytest.fixture(scope="module")
def first_run(network: SampleNetwork, receiver: Receiver,
              tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """Two sites of the sample network: two paxpoint pages captured a minute ago, two
    cognitura pages last captured 9 days ago (by another tool); then one `monitor --once`."""
    collection = Collection(tmp_path_factory.mktemp("monitor"))
    config = render_template([s for s in SITES if s[0] in ("paxpoint", "cognitura")],
                             proxy=network.url)
    # cognitura's own budget: PER_SITE a day; the other site's, [schedule]'s default
    seeds = 'seeds = ["http://cognitura.test/"]\n'
    config = config.replace(seeds, seeds + f"fetches_per_day = {PER_SITE}\n")
    collection.config_path.write_text(with_schedule(
        config, fetches_per_day_per_site="500", min_interval='"1h"', max_interval='"7d"')
        + f'\n[[notify]]\nurl = "{receiver.base}/all"\n')
    now = datetime.now(UTC).replace(microsecond=0)
    history = {url: [page("Old", f"{url} as it was"), page("Old", "and later")]
               for url in (*OLD, *RECENT)}
    add_history(collection, "old", {u: history[u] for u in OLD},
                [now - timedelta(days=10), now - timedelta(days=9)])
    add_history(collection, "recent", {u: history[u] for u in RECENT},
                [now - timedelta(minutes=2), now - timedelta(minutes=1)])
    before = set(collection.crawl_ids())
    done = monitor_once(collection)
    (crawl_id,) = set(collection.crawl_ids()) - before
    return FirstRun(collection, crawl_id, done.stdout, state(collection))


def add_history(collection: Collection, name: str, pages: dict[str, list[bytes]],
                times: list[datetime]) -> None:
    add_warcs(collection, [write_history(collection.root.parent / f"{name}.warc.gz", pages,
                                         times)])


def test_monitor_once_recrawls_only_what_is_due(first_run: FirstRun) -> None:
    # the two pages past max_interval; not the paxpoint pages captured a minute ago, and no
    # link of the two (their links wait for the next crawl)
    assert fetched_pages(first_run.collection, first_run.crawl_id) == list(OLD)
    assert f"crawl {first_run.crawl_id}: 2 due pages fetched" in first_run.stdout
    urls = [r.url for r in crawl_ids(first_run.collection)[-1].records()]
    assert not any("sitemap" in u for u in urls)
    candidates = first_run.state["candidates"]
    assert "http://cognitura.test/contact/" in candidates
    assert not set(RECENT) & set(candidates)  # known pages are no candidates
    assert sorted(f[2] for f in first_run.state["fetches"]) == list(OLD)


def test_a_monitor_crawl_is_notified_page_by_page(first_run: FirstRun,
                                                  receiver: Receiver) -> None:
    # the two pages fetched changed since their own last capture (9 days ago, in another
    # tool's WARC); the pages the crawl was not asked for are not gone
    (message,) = receiver.received["/all"]
    assert "1 notification sent" in first_run.stdout
    text = message["title"] + message["message"]
    assert "http://cognitura.test/about/" in text
    assert not any(url in text for url in RECENT)


def test_a_restarted_monitor_goes_on_where_it_was(first_run: FirstRun) -> None:
    collection = first_run.collection
    # restarted: the new links the first run found are due, within what is left of the
    # site's budget for the day (the first run spent 2 of 4); nothing it did is redone
    monitor_once(collection)
    second = crawl_ids(collection)[-1].crawl_id
    fetched = fetched_pages(collection, second)
    assert len(fetched) == PER_SITE - len(OLD)
    assert set(fetched) <= set(first_run.state["candidates"])
    assert not set(fetched) & set(OLD) and not set(fetched) & set(RECENT)
    assert not set(fetched) & set(state(collection)["candidates"])
    # restarted again: the day's budget is spent; more is due, nothing is fetched
    again = monitor_once(collection)
    assert crawl_ids(collection)[-1].crawl_id == second
    assert "nothing due within the budget" in again.stdout
    per_site = Counter(f[1] for f in state(collection)["fetches"])
    assert per_site == {"cognitura": PER_SITE}
    done = palimpsest("schedule", "--collection", str(collection.root), "--json")
    schedule = json.loads(done.stdout)
    assert schedule["waiting"] > 0 and schedule["chosen"] == 0
    assert schedule["fetched_last_24h"] == PER_SITE
    budgets = {site["site"]: site["fetches_per_day"] for site in schedule["sites"]}
    assert budgets == {"cognitura": PER_SITE, "paxpoint": 500}


@pytest.fixture()
def idle(tmp_path: Path) -> Collection:
    """A collection whose one page was captured a minute ago: nothing due for an hour."""
    collection = Collection(tmp_path / "idle")
    collection.root.mkdir()
    collection.config_path.write_text(render_template([("quiet", "http://quiet.test/")]))
    now = datetime.now(UTC).replace(microsecond=0)
    warc = write_history(tmp_path / "quiet.warc.gz", {"http://quiet.test/": [page("Q", "q")] * 2},
                         [now - timedelta(minutes=2), now - timedelta(minutes=1)])
    add_warcs(collection, [warc])
    return collection


def start_monitor(collection: Collection) -> tuple[subprocess.Popen, list[str]]:
    """`palimpsest monitor` running (in a process group of its own), and the lines it prints
    as they come."""
    process = subprocess.Popen([sys.executable, "-m", "palimpsest.cli", "monitor",
                                "--collection", str(collection.root)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    return process, lines


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.1)


def test_one_monitor_per_collection_and_sigterm_stops_it_between_crawls(idle: Collection
                                                                        ) -> None:
    process, lines = start_monitor(idle)
    try:
        wait_for(lambda: any("nothing due" in line for line in lines), "the first look")
        second = palimpsest("monitor", "--once", "--collection", str(idle.root), check=False)
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1 and "another `palimpsest monitor`" in second.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    wait_for(lambda: any("monitor stopped" in line for line in lines), "the last line", 5)
    # the lock went with it
    assert palimpsest("monitor", "--once", "--collection", str(idle.root)).returncode == 0


def test_sigterm_during_a_crawl_lets_the_crawl_stop_as_crawl_does(tmp_path: Path) -> None:
    with SampleNetwork(revision=1, latency_ms=800) as slow:
        collection = new_collection(tmp_path / "slow", slow)  # never crawled: seeds are due
        process, lines = start_monitor(collection)
        try:
            # the crawl's WARC file is open: Scrapy runs, its first fetches are under way
            wait_for(lambda: any(collection.crawls_dir.glob("*/*.warc.gz.open")),
                     "the crawl to start")
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0
        finally:
            process.kill()
    (stopped,) = crawl_ids(collection)
    assert stopped.summary()["finish_reason"] == "shutdown"
    assert not list(stopped.dir.glob("*.open"))  # every WARC file closed
    wait_for(lambda: any("monitor stopped" in line for line in lines), "the last line", 5)
    assert any("(stopped)" in line for line in lines)
    # what the stop kept it from fetching is not taken as refused: it is asked for again
    assert state(collection)["tried"] == []


def test_a_monitor_killed_during_a_crawl_has_its_torn_files_repaired_at_restart(
        tmp_path: Path) -> None:
    with SampleNetwork(revision=1, latency_ms=500) as slow:
        # one site, twelve of its pages last captured 9 days ago: one crawl of twelve
        collection = Collection(tmp_path / "killed")
        collection.root.mkdir()
        collection.config_path.write_text(render_template(SITES[:1], proxy=slow.url))
        pages = sorted(u for u in manifest(1).pages if u.startswith(SITES[0][1]))[:12]
        now = datetime.now(UTC).replace(microsecond=0)
        add_history(collection, "old", {u: [page("Old", u)] for u in pages},
                    [now - timedelta(days=9)])
        process, _lines = start_monitor(collection)
        try:
            # records past the warcinfo in the crawl's open WARC file: pages captured
            wait_for(lambda: any(p.stat().st_size > 6000 for p in
                                 collection.crawls_dir.glob("*/*.warc.gz.open")),
                     "the crawl's first captures")
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # the monitor and its crawl, at once
            process.wait(10)
        (killed,) = crawl_ids(collection)
        assert list(killed.dir.glob("*.warc.gz.open")), "a kill -9 leaves the file torn"
        done = monitor_once(collection)
    assert f"crawl {killed.crawl_id} was cut short by a kill" in done.stdout
    assert not list(killed.dir.glob("*.open"))
    with Catalog.open(collection) as catalog:
        repaired = next(killed.dir.glob("*.warc.gz")).relative_to(collection.root)
        assert catalog.captures_in_file(str(repaired))
    assert state(collection)["running"] is None
    # what the killed crawl captured is not fetched again; the rest of the twelve is
    again = crawl_ids(collection)[-1].crawl_id
    before, after = fetched_pages(collection, killed.crawl_id), fetched_pages(collection, again)
    assert before and not set(before) & set(after) and set(before) | set(after) == set(pages)


def test_the_change_report_of_a_monitor_crawl_takes_nothing_it_left_alone_for_gone(
        first_run: FirstRun) -> None:
    # the monitor crawl fetched the two cognitura pages only: the report compares each with
    # its own last capture (9 days ago), and the paxpoint pages it was not asked for are
    # neither removed nor (the cognitura pages) added
    done = palimpsest("changes", "--json", "--to", first_run.crawl_id,
                      "--collection", str(first_run.collection.root))
    report = json.loads(done.stdout)
    assert report["to"] == first_run.crawl_id and report["since_each_page"]
    assert report["removed"] == [] and report["added"] == []
    assert "http://cognitura.test/about/" in {e["url"] for e in report["changed"]}
    assert not set(RECENT) & {e["url"] for e in report["changed"] + report["crawl_limited"]}
    summary = json.loads((first_run.collection.crawl_dir(first_run.crawl_id)
                          / "summary.json").read_text())
    assert summary["listed"] == len(OLD)
