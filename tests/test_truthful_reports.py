"""Reports that tell the truth: every pair of captures compares, an extraction artefact is not
reported as a change, and a crawl that fell short is never read as the sites shrinking."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.collection import Collection
from index.compare.changes import change_report
from index.compare.textdiff import diff_words
from index.compare.watch import find_watch, watch_history
from index.crawl_status import crawl_status
from index.errors import UsageError
from index.indexer import update
from palimpsest.sample_network import SampleNetwork
from palimpsest.setup import write_config
from tests.conftest import ROOT, crawl, new_collection, palimpsest
from tests.hostile_server import HostileServer, crawl_sites, links, reset
from web import create_app

URL = "http://emptied.test/notice/"
WORDS = b"<html><head><title>Notice</title></head><body><p>A notice that will go.</p></body></html>"


@pytest.mark.parametrize(("old", "new"), [("", "some words"), ("some words", ""), ("", ""),
                                          ("\n \n", "one\n\ntwo")])
def test_a_text_without_words_compares(old, new):
    result = diff_words(old, new)
    changed = len(old.split()) + len(new.split())
    assert result.changed_words == changed
    assert result.ratio == (1.0 if changed else 0.0)


def _warc(path: Path, captures: list[tuple[str, str, bytes]]) -> Path:
    """A WARC of HTML responses of URL: (date, status line, body) each."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=False)
        for date, status, body in captures:
            http = StatusAndHeaders(status, [("Content-Type", "text/html"),
                                             ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                URL, "response", payload=BytesIO(body), http_headers=http,
                warc_headers_dict={"WARC-Date": date}))
    return path


@pytest.mark.parametrize("after", [
    ("200 OK", b""),  # an empty body
    ("200 OK", b"<html><head><title></title></head><body></body></html>"),  # text all removed
    ("404 Not Found", b""),  # gone
])
def test_diff_of_a_page_and_its_emptied_capture(tmp_path, after):
    warc = _warc(tmp_path / "emptied.warc", [("2026-01-01T00:00:00Z", "200 OK", WORDS),
                                             ("2026-02-01T00:00:00Z", *after)])
    root = tmp_path / "c"
    palimpsest("add", "--collection", str(root), str(warc))
    done = palimpsest("diff", "--collection", str(root), URL, "--json")
    diff = json.loads(done.stdout)
    assert diff["ratio"] == 1.0
    assert [op["op"] for op in diff["text"]] == ["delete"]
    human = palimpsest("diff", "--collection", str(root), URL)
    assert "100.0%" in human.stdout


def test_change_report_of_a_page_whose_text_was_all_removed(tmp_path):
    root = tmp_path / "c"
    for n, (date, body) in enumerate((("2026-01-01T00:00:00Z", WORDS),
                                      ("2026-02-01T00:00:00Z", b"<html><body></body></html>"))):
        warc = _warc(tmp_path / f"batch{n}.warc", [(date, "200 OK", body)])
        palimpsest("add", "--collection", str(root), "--name", f"batch{n}", str(warc))
    report = change_report(Collection(root))
    assert [(e["url"], e["ratio"]) for e in report["changed"]] == [(URL, 1.0)]


# the sample network's revision 2 retitles cognitura's prevention piece, and its teaser card
# on /prevention/ falls out of the main text that resiliparse extracts: the main text's diff
# reads as a third of the page deleted, the full text's as a retitle
PREVENTION = "http://cognitura.test/prevention/"


def test_extraction_artefact_is_compared_on_the_full_text(indexed_history):
    first, _, third = indexed_history.crawls
    collection = indexed_history.collection
    report = change_report(collection, first.crawl_id, third.crawl_id)
    entry = next(e for e in report["changed"] if e["url"] == PREVENTION)
    assert entry["text"] == "full"
    assert "extracted differently" in entry["text_why"]
    assert entry["ratio"] < 0.05
    app = create_app({"COLLECTION": str(collection.root)})
    with app.test_client() as client:
        diff = client.get(f"/api/diff?url={PREVENTION}&from={entry['from']}"
                          f"&to={entry['timestamp']}").get_json()
        assert diff["options"]["text"] == "full" and diff["ratio"] == entry["ratio"]
        main = client.get(f"/api/diff?url={PREVENTION}&from={entry['from']}"
                          f"&to={entry['timestamp']}&full=0").get_json()
        assert main["ratio"] > 0.2  # what was reported before: the teaser card "deleted"
        page = client.get(entry["diff"]).get_data(as_text=True)
        assert 'id="text-why"' in page and "extracted differently" in page
    deleted = [op["text"] for op in diff["text"] if op["op"] == "delete"]
    assert " ".join(deleted).split() == ["Early-Warning"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _interrupted_crawl(collection: Collection) -> str:
    """A crawl stopped by SIGTERM part-way (as Ctrl-C stops one), not resumed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection", str(collection.root),
         "--delay", "0", "--concurrency-per-site", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = set(collection.crawl_ids())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(collection.crawl_ids()) - before
        log = collection.crawl_dir(new.pop()) / "crawl-log.jsonl" if new else None
        if log and log.exists() and log.read_text().count('"status"') >= 12:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 1
    return collection.crawl_ids()[-1]


@pytest.fixture(scope="module")
def fallen_short(tmp_path_factory):
    """Two complete crawls of revision 1, then revision 2 crawled twice but never wholly: once
    stopped part-way, once with its proxy down."""
    with SampleNetwork(revision=1, latency_ms=30) as network:
        collection = new_collection(tmp_path_factory.mktemp("short"), network)
        crawl(collection)
        crawl(collection)
        network.set_revision(2)
        interrupted = _interrupted_crawl(collection)
    write_config(collection, (), f"http://127.0.0.1:{_free_port()}", force=True)
    down = crawl(collection, check=False)
    update(collection)
    return collection, collection.crawl_ids(), interrupted, down


def test_crawl_that_captured_nothing_exits_1_and_says_so(fallen_short):
    collection, crawls, _, down = fallen_short
    assert down.returncode == 1
    assert "captured nothing of allyvia" in down.stderr
    status = crawl_status(collection, crawls[-1])
    assert not status.complete and status.finished
    assert "allyvia" in status.unreached
    with pytest.raises(UsageError, match="captured nothing: there is nothing of it"):
        change_report(collection, crawls[1], crawls[-1])


def test_change_report_skips_incomplete_crawls_by_default(fallen_short):
    collection, crawls, interrupted, _ = fallen_short
    report = change_report(collection)
    assert (report["from"], report["to"]) == (crawls[0], crawls[1])
    assert set(report["incomplete"]) == {interrupted}
    assert not report["removed"] and not report["added"]
    cli = palimpsest("changes", "--collection", str(collection.root))
    assert f"crawl {interrupted} is incomplete" in cli.stderr


def test_an_interrupted_crawl_asked_for_calls_no_unreached_page_removed(fallen_short):
    collection, crawls, interrupted, _ = fallen_short
    report = change_report(collection, crawls[1], interrupted)
    assert report["crawl_limited"], "the crawl was stopped before reaching every page"
    for entry in report["crawl_limited"]:
        assert entry["not_fetched_in"] == interrupted
        assert "stopped before the end" in entry["why"]
    # revision 2 removes one page; whatever else is listed as removed, it answered an error
    assert all(e["after"] is not None for e in report["removed"])
    html = create_app({"COLLECTION": str(collection.root)}).test_client().get(
        f"/changes?from={crawls[1]}&to={interrupted}").get_data(as_text=True)
    assert f"Crawl {interrupted} is incomplete" in html


@pytest.fixture(scope="module")
def one_site_down(tmp_path_factory):
    """Sites a and b crawled twice, then again with every connection to b reset."""
    root = tmp_path_factory.mktemp("down")
    pages = ("/", "/one", "/two")
    with HostileServer(ports=2) as server:
        for port in (0, 1):
            server.route("/", links("/one", "/two", title="home"), port=port)
            for path in pages[1:]:
                server.route(path, links("/", title=path), port=port)
        sites = {"a": server.url("/", 0), "b": server.url("/", 1)}
        crawl_sites(root, sites)
        crawl_sites(root, sites, init=False)
        for path in (*pages, "/robots.txt", "/sitemap.xml"):
            server.route(path, reset, port=1)
        third, stderr = crawl_sites(root, sites, init=False)
    collection = Collection(root)
    update(collection)
    return collection, collection.crawl_ids(), stderr, [server.url(p, 1) for p in pages]


def test_a_crawl_that_reached_nothing_of_a_site_removes_none_of_its_pages(one_site_down):
    collection, crawls, stderr, b_pages = one_site_down
    assert f"crawl {crawls[-1]} captured nothing of b" in stderr
    assert change_report(collection)["to"] == crawls[1]  # skipped by default
    report = change_report(collection, crawls[1], crawls[-1])
    assert not report["removed"] and not report["added"]
    assert sorted(e["url"] for e in report["crawl_limited"]) == sorted(b_pages)
    assert all("captured nothing of b" in e["why"] for e in report["crawl_limited"])
    assert report["sites"]["a"]["unchanged"] == 3


def test_watch_history_leaves_out_incomplete_crawls_and_marks_them_when_asked(fallen_short):
    collection, crawls, interrupted, _ = fallen_short
    watch = find_watch(collection.load_config(), "disclosure")
    history = watch_history(collection, watch)
    assert [c["crawl"] for c in history["crawls"]] == crawls[:2]
    assert {s["crawl"] for s in history["skipped"]} == {interrupted}
    marked = watch_history(collection, watch, incomplete=True)
    by_crawl = {c["crawl"]: c for c in marked["crawls"]}
    assert not by_crawl[interrupted]["complete"]
    assert by_crawl[crawls[1]]["complete"]
    cli = palimpsest("watch", "--collection", str(collection.root), "disclosure")
    assert f"crawl {interrupted} skipped" in cli.stdout



def test_a_killed_crawl_without_summary_is_incomplete(tmp_path):
    collection = Collection(tmp_path)
    killed = collection.crawl_dir("20260101000000")
    killed.mkdir(parents=True)
    (killed / "crawl-log.jsonl").write_text("")
    status = crawl_status(collection, "20260101000000")
    assert not status.complete
    assert "interrupted" in status.not_reached("allyvia")
    assert crawl_status(collection, "imported/wget").complete  # no summary to judge by
