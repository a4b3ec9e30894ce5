"""Atom feeds (issue 15 point 4): /changes.atom, /watch/<name>.atom and /captures.atom?url=,
read with feedparser (a feed reader's parser) over the sample network's history served on
waitress, and over imported captures whose URL and title are hostile."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.collection import Collection
from index.compare.changes import change_report
from index.compare.permalinks import diff_url, report_url
from index.compare.watch import find_watch, watch_history
from index.warc_import import add_warcs
from tests.conftest import CrawledCollection
from web import create_app

ALTERNATE = re.compile(r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" '
                       r'href="([^"]+)">')


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.headers["Content-Type"], answer.read()


def _feed(url: str) -> feedparser.FeedParserDict:
    kind, body = _get(url)
    assert kind == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.id.startswith("urn:uuid:") and feed.feed.updated
    assert feed.feed.title and feed.feed.author
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == url
    for entry in feed.entries:
        assert entry.id.startswith("urn:uuid:") and entry.updated and entry.title
        assert entry.link.startswith("http://127.0.0.1:") and entry.content[0].value
    assert len({e.id for e in feed.entries}) == len(feed.entries)
    return feed


def test_changes_feed_has_one_entry_per_crawl_pair_newest_first(
        indexed_history: CrawledCollection, web_server: str) -> None:
    first, second, third = (c.crawl_id for c in indexed_history.crawls)
    feed = _feed(f"{web_server}/changes.atom")
    assert [e.link for e in feed.entries] == [web_server + report_url(second, third),
                                              web_server + report_url(first, second)]
    latest, before = feed.entries
    assert "disappeared" in latest.title and "changed" in latest.title  # revision 2
    assert "no change" in before.title  # revision 1 twice
    report = change_report(indexed_history.collection, second, third)
    assert f"Changed pages: {len(report['changed'])}" in latest.content[0].value
    assert feed.feed.updated_parsed == latest.updated_parsed
    # the same entries keep their ids: a reader sees each once
    assert [e.id for e in _feed(f"{web_server}/changes.atom").entries] == \
        [e.id for e in feed.entries]


def test_watch_feed_lists_where_the_phrase_disappeared(
        indexed_history: CrawledCollection, web_server: str) -> None:
    collection = indexed_history.collection
    history = watch_history(collection, find_watch(collection.load_config(), "disclosure"))
    gone = history["crawls"][-1]["disappeared"]
    assert gone  # allyvia dropped its disclosure line in revision 2
    feed = _feed(f"{web_server}/watch/disclosure.atom")
    assert sorted(e.link for e in feed.entries) == sorted(web_server + m["diff"] for m in gone)
    assert all(e.title.startswith("\u201cdisclosure\u201d disappeared from http://allyvia.test/")
               for e in feed.entries)
    assert all("_full/" in e.link for e in feed.entries)  # the footer is in the full text


def test_a_url_s_feed_lists_its_changes(indexed_history: CrawledCollection,
                                        web_server: str) -> None:
    first, second, third = indexed_history.crawls
    report = change_report(indexed_history.collection, second.crawl_id, third.crawl_id)
    page = report["changed"][0]
    feed = _feed(f"{web_server}/captures.atom?url={quote(page['url'], safe='')}")
    assert [e.link for e in feed.entries] == [
        web_server + diff_url(page["from"], page["timestamp"], page["url"])]
    assert f"{100 * page['ratio']:.1f}% of its words changed" in feed.entries[0].title


def test_html_pages_name_their_feeds(indexed_history: CrawledCollection,
                                     web_server: str) -> None:
    url = "http://allyvia.test/"
    for page, feed in (("/changes", "/changes.atom"),
                       ("/watch/disclosure", "/watch/disclosure.atom"),
                       (f"/web/*/{url}", f"/captures.atom?url={quote(url, safe='/')}")):
        found = ALTERNATE.findall(_get(web_server + page)[1].decode())
        assert [href.replace("&amp;", "&") for href in found] == [feed]
        _feed(web_server + found[0])


def test_unknown_watch_or_url_is_an_error_not_a_feed(indexed_history: CrawledCollection,
                                                    web_server: str) -> None:
    for path, status in (("/watch/nobody.atom", 404), ("/captures.atom", 400),
                         ("/captures.atom?url=http://nowhere.test/", 404)):
        with pytest.raises(urllib.error.HTTPError) as error:
            _get(web_server + path)
        assert error.value.code == status


HOSTILE_URL = 'http://hostile.test/p?q=<b>&x="y"]]>'
HOSTILE_TITLE = '<script>alert("t")</script> & ]]> \x01bell\x0b'


def _capture(timestamp: str, words: str) -> bytes:
    """A WARC holding one capture of HOSTILE_URL whose title is HOSTILE_TITLE."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=False)
    body = (f"<html><head><title>{HOSTILE_TITLE}</title></head><body><p>{words} "
            f"\x02</p></body></html>").encode()
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
    date = f"{timestamp[:4]}-{timestamp[4:6]}-{timestamp[6:8]}T{timestamp[8:10]}:" \
           f"{timestamp[10:12]}:{timestamp[12:]}Z"
    writer.write_record(writer.create_warc_record(
        HOSTILE_URL, "response", payload=BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": date}))
    return out.getvalue()


def test_hostile_urls_and_titles_are_escaped_in_the_feeds(tmp_path: Path) -> None:
    collection = Collection(tmp_path / "collection")
    for name, timestamp, words in (("before", "20260101000000", "first words here"),
                                   ("after", "20260102000000", "other words there")):
        warc = tmp_path / f"{name}.warc"
        warc.write_bytes(_capture(timestamp, words))
        add_warcs(collection, [warc], name=name, fulltext=False)
    client = create_app({"COLLECTION": str(collection.root), "TESTING": True}).test_client()
    for path in ("/changes.atom", f"/captures.atom?url={quote(HOSTILE_URL, safe='')}"):
        answer = client.get(path)
        assert answer.status_code == 200
        xml = answer.data.decode()
        assert "<script>" not in xml and "<b>" not in xml and '="y"]]>' not in xml
        assert "\x01" not in xml and "\x02" not in xml and "\x0b" not in xml
        feed = feedparser.parse(answer.data)
        assert not feed.bozo, feed.get("bozo_exception")
        assert len(feed.entries) == 1
        entry = feed.entries[0]
        shown = entry.title + entry.content[0].value + entry.link
        assert 'q=<b>&x="y"]]>' in shown.replace("&lt;", "<").replace("&gt;", ">") \
            .replace("&amp;", "&").replace("&quot;", '"')
    assert "alert" in feedparser.parse(client.get("/changes.atom").data).entries[0] \
        .content[0].value
