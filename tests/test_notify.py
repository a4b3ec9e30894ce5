"""Notifications after a crawl ([[notify]], issue 15 point 3): the sample network crawled at
revision 1 and 2 by `palimpsest crawl` with apprise targets configured: json:// webhooks to a
receiver in the test (a small HTTP server collecting what is POSTed) and one to a closed port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.config import Watch, parse_config, render_template
from index.errors import ConfigError
from index.notify import LOG_NAME, notify_after_crawl
from index.warc_import import add_warcs
from palimpsest.sample_network import SITES as SITES_OF_SAMPLE
from palimpsest.sample_network import SampleNetwork, manifest
from palimpsest.setup import write_config
from tests.conftest import CrawledCrawl, crawl, crawl_ids, new_collection, palimpsest
from tests.test_schedule import page, write_history

BASE = "https://archive.example.org/"
SITES = ("--site", "allyvia", "--site", "paxpoint", "--site", "justorium")  # see the fixture


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint: every JSON body POSTed to it, by path."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Collect)
        self.received: dict[str, list[dict]] = defaultdict(list)

    @property
    def base(self) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}"


class _Collect(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received[self.path].append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once it is closed


@dataclass
class Notified:
    collection: Collection
    receiver: Receiver
    crawls: list[CrawledCrawl]
    second: object  # the second crawl's finished command
    closed: str  # the failing target's URL
    catalogued_after_first: list[str]  # the crawls in the catalog once the first one ended


TARGETS = """
[[notify]]
url = "{base}/all"

[[notify]]
url = "{base}/disclosure-allyvia"
watch = ["disclosure"]
sites = ["allyvia"]

[[notify]]
url = "{base}/disclosure-paxpoint"
watch = ["disclosure"]
sites = ["paxpoint"]

[[notify]]
url = "{base}/whole-pages"
min_ratio = 1

[[notify]]
url = "{closed}"
"""


@pytest.fixture(scope="module")
def notified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notified]:
    """Two crawls of three sites (revision 1, then 2: allyvia drops its disclosure line,
    paxpoint keeps it, justorium loses a page), the first with no target, the second with
    five: everything, the disclosure on allyvia, the disclosure on paxpoint, pages changed
    whole (none), and a closed port."""
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    closed = f"json://127.0.0.1:{_closed_port()}/"
    with SampleNetwork(revision=1) as network:
        collection = new_collection(tmp_path_factory.mktemp("notify"), network)
        text = collection.config_path.read_text().replace('base_url = ""',
                                                          f'base_url = "{BASE}"')
        collection.config_path.write_text(text)
        crawl(collection, *SITES)
        with Catalog.open(collection) as catalog:
            catalogued = catalog.crawls()
        collection.config_path.write_text(
            text + TARGETS.format(base=receiver.base, closed=closed))
        network.set_revision(2)
        second = crawl(collection, *SITES)
    try:
        yield Notified(collection, receiver, crawl_ids(collection), second, closed, catalogued)
    finally:
        receiver.shutdown()


def _log(crawled: CrawledCrawl) -> list[dict]:
    return [json.loads(line) for line in (crawled.dir / LOG_NAME).read_text().splitlines()]


def test_watched_phrase_removed_sends_one_notification_naming_it(notified: Notified) -> None:
    sent = notified.receiver.received["/disclosure-allyvia"]
    assert len(sent) == 1  # one per target and crawl, not one per page
    message = sent[0]["message"]
    assert 'Watched phrase "disclosure"' in message and "disappeared from" in message
    assert "http://allyvia.test/" in message
    first, second = (c.crawl_id for c in notified.crawls)
    assert f"{BASE}changes?from={first}&to={second}" in message
    diff_links = [line.split("diff: ")[1] for line in message.splitlines() if "diff: " in line]
    assert diff_links and all(link.startswith(f"{BASE}diff/") and "_full/http://allyvia.test/"
                              in link for link in diff_links)
    assert "paxpoint.test" not in message  # its sites filter: allyvia only
    assert "disclosure" in sent[0]["title"] and "disappeared" in sent[0]["title"]


def test_target_without_filters_gets_every_change_in_one_bounded_message(
        notified: Notified) -> None:
    sent = notified.receiver.received["/all"]
    assert len(sent) == 1
    message = sent[0]["message"]
    assert "disappeared from" in message and "Changed pages:" in message
    assert "of words changed" in message and "Removed pages:" in message
    # the pages listed are capped, the rest counted
    for line in message.splitlines():
        if line.startswith("Watched phrase") and "disappeared from" in line:
            pages = int(line.split("disappeared from ")[1].split(" page")[0])
            listed = message.count("_full/http://allyvia.test/")
            assert listed == min(pages, 10)
            if pages > 10:
                assert f"... and {pages - 10} more" in message


def test_filters_exclude_what_they_do_not_cover(notified: Notified) -> None:
    assert notified.receiver.received["/disclosure-paxpoint"] == []  # it kept its line
    outcomes = {e["url"].split("/")[3]: e["outcome"] for e in _log(notified.crawls[1])}
    assert outcomes["disclosure-paxpoint"] == "nothing"
    # min_ratio = 1: no page changed whole, so no changed page; the phrase's moves and
    # the pages added and removed still count
    whole = notified.receiver.received["/whole-pages"]
    assert len(whole) == 1
    assert "Changed pages" not in whole[0]["message"] and "changed" not in whole[0]["title"]
    assert "disappeared from" in whole[0]["message"]
    assert "Changed pages" in notified.receiver.received["/all"][0]["message"]


def test_failing_target_is_logged_and_retried_and_the_crawl_still_succeeds(
        notified: Notified) -> None:
    second = notified.crawls[1]
    assert notified.second.returncode == 0 and second.warcs
    assert second.summary()["finish_reason"] == "finished"
    port = notified.closed.split(":")[2].rstrip("/")
    tries = [e for e in _log(second) if f":{port}" in e["url"]]
    assert [e["attempt"] for e in tries] == [1, 2, 3]
    assert [e["outcome"] for e in tries] == ["retrying", "retrying", "failed"]
    assert all("Connection" in e["why"] for e in tries)
    assert "failed after 3 attempts" in notified.second.stderr
    assert LOG_NAME in notified.second.stderr


def test_a_crawl_without_targets_costs_nothing_more(notified: Notified) -> None:
    # the crawl catalogues what was there before it, for its revisits; with no [[notify]]
    # the catalog is not brought up to date after it, and no notify log is written
    assert notified.catalogued_after_first == []
    assert not (notified.crawls[0].dir / LOG_NAME).exists()


def test_first_crawl_has_nothing_to_compare_and_sends_nothing(notified: Notified) -> None:
    deliveries = notify_after_crawl(notified.collection, notified.crawls[0].crawl_id)
    assert len(deliveries) == 5
    assert all(d.outcome == "nothing to send" and "no complete crawl before" in d.why
               for d in deliveries)
    first = _log(notified.crawls[0])
    assert {e["outcome"] for e in first} == {"skipped"}
    assert len(notified.receiver.received["/all"]) == 1  # the second crawl's, no other


def test_second_run_does_not_send_again(notified: Notified) -> None:
    before = {path: len(sent) for path, sent in notified.receiver.received.items()}
    deliveries = notify_after_crawl(notified.collection, notified.crawls[1].crawl_id)
    outcomes = sorted(d.outcome for d in deliveries)
    # the three sent are not sent again, the one with nothing is not recomputed, the closed
    # port is tried again (it never got its message)
    assert outcomes == ["already sent", "already sent", "already sent", "failed",
                        "nothing to send"]
    assert {path: len(sent) for path, sent in notified.receiver.received.items()} == before


def test_bad_notify_config_is_one_line_error(tmp_path: Path) -> None:
    base = {"sites": [{"name": "a", "seeds": ["http://a.test/"]}],
            "watch": [{"name": "w", "phrase": "x"}]}
    for bad, said in (({"url": "nope://x"}, "unknown scheme 'nope'"),
                      ({"url": "json://h/", "every": 1}, "notify[0].every: unknown key"),
                      ({"url": "json://h/", "watch": ["v"]}, "no watched phrase named 'v'"),
                      ({"url": "json://h/", "sites": ["b"]}, "no site named 'b'"),
                      ({"url": "json://h/", "min_ratio": 1.5}, "a share of the words")):
        with pytest.raises(ConfigError, match=said.replace("[", r"\[").replace("]", r"\]")):
            parse_config({**base, "notify": [bad]})
    collection = Collection(tmp_path)
    collection.config_path.write_text('[[sites]]\nname = "a"\nseeds = ["http://a.test/"]\n'
                                      '[[notify]]\nurl = "gopher://x/"\n')
    done = palimpsest("crawl", "--collection", str(tmp_path), check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: notify[0].url: not a URL apprise can send to (unknown scheme 'gopher'; "
        "e.g. mailto://, matrix://, slack://, tgram://, json://)"]


ALLYVIA = ("http://allyvia.test/", "http://allyvia.test/about/")  # last captured 9 days ago
PAXPOINT = ("http://paxpoint.test/", "http://paxpoint.test/about/")  # a minute ago


def test_monitor_crawl_of_the_pages_due_tells_what_those_pages_changed(
        tmp_path: Path) -> None:
    """`palimpsest monitor --once` fetches only the pages due: the two allyvia pages, whose
    last captures (another tool's, 9 days ago) carry the disclosure line that revision 2
    drops. One notification says the phrase disappeared from both, compared with those
    captures, not with the latest crawl (the paxpoint pages, which it did not fetch and which
    are not gone)."""
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    disclosure = manifest(1).disclosure
    with SampleNetwork(revision=2) as network:
        collection = Collection(tmp_path / "collection")
        collection.root.mkdir()
        collection.config_path.write_text(render_template(
            [s for s in SITES_OF_SAMPLE if s[0] in ("allyvia", "paxpoint")], proxy=network.url,
            watch=[Watch("disclosure", phrase=disclosure)])
            + f'\n[[notify]]\nurl = "{receiver.base}/monitor"\n')
        # the default [schedule]: due past max_interval = 7 days, not within min_interval = 1 h
        now = datetime.now(UTC).replace(microsecond=0)
        for name, urls, words, ago in (("old", ALLYVIA, f"Words. {disclosure}", timedelta(days=9)),
                                       ("recent", PAXPOINT, "Words.", timedelta(minutes=1))):
            warc = write_history(tmp_path / f"{name}.warc.gz",
                                 {u: [page(name, words)] * 2 for u in urls},
                                 [now - 2 * ago, now - ago])
            add_warcs(collection, [warc], fulltext=False)
        palimpsest("monitor", "--once", "--collection", str(collection.root))
    try:
        (sent,) = receiver.received["/monitor"]
    finally:
        receiver.shutdown()
    message = sent["message"]
    assert 'Watched phrase "disclosure"' in message and "disappeared from 2 pages" in message
    assert all(f"_full/{url}\n" in message + "\n" for url in ALLYVIA)
    assert "of the pages due, each compared with its last capture" in message
    assert "Removed pages" not in message and "paxpoint" not in message


def test_the_notify_example_init_writes_loads_once_uncommented(tmp_path: Path) -> None:
    collection = Collection(tmp_path)
    write_config(collection, (), "http://127.0.0.1:9/")
    text = collection.config_path.read_text()
    start = text.index("# [[notify]]")
    example = [line.removeprefix("# ") for line in text[start:].splitlines() if line]
    collection.config_path.write_text(text[:start] + "\n".join(example) + "\n")
    (target,) = collection.load_config().notify
    assert target.url.startswith("mailtos://") and target.watch == ("disclosure",)
    assert target.sites == ("paxpoint",) and target.min_ratio == 0.05
