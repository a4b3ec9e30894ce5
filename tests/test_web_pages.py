"""The pages and archived documents the web UI serves, asked through Flask's test client over
the sample network crawled three times: what a replayed document is rewritten to and served
with, the capture view's banner and tabs, the timeline, the helpful 404s, the search page."""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
from pathlib import Path

import lxml.html
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.catalog import Catalog
from index.collection import Collection
from index.warc_import import add_warcs
from palimpsest.sample_network import manifest
from tests.conftest import CrawledCollection
from web import create_app

HOME = "http://allyvia.test/"
CSS = "http://allyvia.test/assets/site.css"
LIVE = re.compile(r"^(https?:)?//")


def csp(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header's directives, each with its values."""
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.fixture(scope="module")
def client(indexed_history: CrawledCollection):
    app = create_app({"COLLECTION": str(indexed_history.collection.root), "TESTING": True})
    return app.test_client()


@pytest.fixture(scope="module")
def captures(indexed_history: CrawledCollection):
    with Catalog.open(indexed_history.collection) as catalog:
        return {url: catalog.captures(url) for url in (HOME, CSS, manifest(1).hostile_page)}


def test_archived_page_is_served_sandboxed_with_memento_headers(client, captures):
    first = captures[HOME][0]
    answer = client.get(f"/web/{first.timestamp}mp_/{HOME}")
    assert answer.status_code == 200
    policy = csp(answer.headers["Content-Security-Policy"])
    # an opaque origin (no allow-same-origin) that cannot navigate our pages away, loading
    # from the archive alone (no host, no scheme of the live web) and submitting nothing
    assert policy["sandbox"] == ["allow-scripts", "allow-forms", "allow-popups"]
    assert all(source in ("'self'", "data:", "blob:") or source.startswith("'unsafe-")
               for source in policy["default-src"])
    assert policy["form-action"] == ["'none'"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Memento-Datetime"].endswith(" GMT")
    link = answer.headers["Link"]
    for rel in ("original", "timegate", "timemap", "memento"):
        assert f'rel="{rel}"' in link
    # the archived response's own headers are passed on renamed, so none of them acts here
    assert answer.headers["X-Archive-Orig-Server"]
    assert "Set-Cookie" not in answer.headers and "X-Frame-Options" not in answer.headers
    # other sites' scripts may not read archived pages (requisites only: fonts need it)
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_archived_page_links_and_requisites_point_into_the_archive(client, captures):
    first = captures[HOME][0]
    doc = lxml.html.fromstring(client.get(f"/web/{first.timestamp}mp_/{HOME}").data)
    ts = first.timestamp
    urls = doc.xpath("//@href | //@src | //@poster")
    assert urls and not [u for u in urls if LIVE.match(u)]
    links = doc.xpath("//a/@href")
    assert [u for u in links if u.startswith(f"/web/{ts}mp_/http://")]
    assert all(u.startswith(f"/web/{ts}im_/") for u in doc.xpath("//img/@src"))
    assert doc.xpath("//link[@rel='stylesheet']/@href") == [f"/web/{ts}cs_/{CSS}"]
    assert not doc.xpath("//a[@target='_top']")
    # the script that lets the capture view follow links comes first, from our static files
    assert doc.xpath("//head/*[1]/@src") == ["/static/replay-frame.js"]
    for style in doc.xpath("//@style | //style/text()"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", style)


def test_stylesheets_are_rewritten_and_requisites_load_the_nearest_capture_at_once(
        client, captures):
    first = captures[HOME][0]
    css = client.get(f"/web/{first.timestamp}cs_/{CSS}")
    assert css.status_code == 200 and css.content_type.startswith("text/css")
    text = css.get_data(as_text=True)
    assert "url(" in text and not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert f'url("/web/{first.timestamp}im_/http://allyvia.test/' in text
    # a requisite asked at a time between captures: the nearest, without a redirect
    nearest = client.get(f"/web/{first.timestamp[:8]}cs_/{CSS}")
    assert nearest.status_code == 200
    assert nearest.headers["Access-Control-Allow-Origin"] == "*"  # fonts from a null origin
    # a document asked that way redirects to its exact time
    page = client.get(f"/web/{first.timestamp[:8]}mp_/{HOME}")
    assert page.status_code == 302
    assert re.search(r"/web/\d{14}mp_/http://allyvia\.test/$", page.headers["Location"])


def test_archived_redirect_replays_as_a_redirect_within_the_archive(client, indexed_history):
    source, target = next(iter(manifest(1).redirects.items()))
    first = indexed_history.crawls[0].crawl_id
    answer = client.get(f"/web/{first}mp_/{source}")
    while answer.status_code == 302 and "mp_/" + source in answer.headers["Location"]:
        answer = client.get(answer.headers["Location"])
    assert answer.status_code in (301, 302)
    assert re.search(rf"/web/\d{{14}}mp_/{re.escape(target)}$", answer.headers["Location"])


def test_capture_view_banner_tabs_and_frame(client, captures):
    first, second, last = captures[HOME]
    answer = client.get(f"/web/{second.timestamp}/{HOME}")
    assert answer.status_code == 200
    assert answer.headers["Memento-Datetime"].endswith(" GMT")
    doc = lxml.html.fromstring(answer.data)
    banner = doc.xpath("//section[@class='banner']")[0].text_content()
    for shown in (HOME, second.crawl, second.digest, "2 of 3", "same content as the previous"):
        assert shown in banner
    assert doc.xpath("//a[@rel='prev']/@href") == [f"/web/{first.timestamp}/{HOME}"]
    assert doc.xpath("//a[@rel='next']/@href") == [f"/web/{last.timestamp}/{HOME}"]
    frame = doc.xpath("//iframe")[0]
    assert frame.get("sandbox") == "allow-scripts allow-forms allow-popups"
    assert frame.get("src") == f"/web/{second.timestamp}mp_/{HOME}"
    # our own pages are never framed by others and run only our own scripts
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_capture_views_of_a_document_and_of_a_redirect(client, indexed_history):
    first = indexed_history.crawls[0].crawl_id
    document = sorted(manifest(1).documents)[0]
    doc = lxml.html.fromstring(client.get(f"/web/{first}/{document}", follow_redirects=True).data)
    if not document.endswith((".txt", ".html")):
        # what a sandboxed frame cannot show is offered as the archived file instead
        assert not doc.xpath("//iframe")
        assert doc.xpath("//p[@class='notice']//a[@download][contains(@href, 'id_/')]")
    source, target = next(iter(manifest(1).redirects.items()))
    doc = lxml.html.fromstring(client.get(f"/web/{first}/{source}", follow_redirects=True).data)
    assert target in doc.xpath("//section[@class='banner']//a[@class='url']/text()")


def test_capture_view_redirects_a_partial_time_to_the_nearest_capture(client, captures):
    first = captures[HOME][0]
    answer = client.get(f"/web/{first.timestamp[:4]}/{HOME}")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/web/{first.timestamp}/{HOME}")


def test_text_headers_and_record_tabs(client, captures):
    capture = captures[HOME][0]
    text = client.get(f"/view/text/{capture.timestamp}/{HOME}").get_data(as_text=True)
    assert "Allyvia" in text and "<article" in text
    headers = lxml.html.fromstring(client.get(f"/view/headers/{capture.timestamp}/{HOME}").data)
    shown = headers.xpath("//table[@class='headers']")[0].text_content()
    assert "content-type" in shown.lower() and capture.record_id in shown
    record = client.get(f"/view/record/{capture.timestamp}/{HOME}")
    assert record.content_type == "application/warc"
    assert "attachment" in record.headers["Content-Disposition"]
    assert len(record.data) == capture.length
    (parsed,) = list(ArchiveIterator(io.BytesIO(record.data)))
    assert parsed.rec_headers.get_header("WARC-Record-ID") == capture.record_id


def test_timeline_lists_every_capture_and_what_changed(client, indexed_history):
    edited = "http://cognitura.test/psychology/the-certainty-trap/"
    doc = lxml.html.fromstring(client.get(f"/web/*/{edited}").data)
    rows = doc.xpath("//table[@class='timeline']/tbody/tr")
    assert len(rows) == len(indexed_history.crawls)
    cells = [r.text_content() for r in rows]
    assert "first capture" in cells[0] and "unchanged" in cells[1]
    assert re.search(r"changed \(\d+\.\d% of the text\)", cells[2])
    assert len(doc.xpath("//input[@type='radio'][@name='from']")) == len(rows)
    assert doc.xpath("//form[@action='/diff/compare']")


def test_a_requisite_missing_from_the_pages_crawl_is_named_in_the_banner(indexed_history,
                                                                         tmp_path):
    # the stylesheet of the first crawl is lost: the page is shown with a later one
    root = Path(shutil.copytree(indexed_history.collection.root, tmp_path / "copy"))
    first = indexed_history.crawls[0].crawl_id
    db = sqlite3.connect(root / "derived" / "catalog.sqlite")
    with db:
        db.execute("DELETE FROM captures WHERE url = ? AND crawl = ?", (CSS, first))
    db.close()
    with Catalog.open(indexed_history.collection) as catalog:
        page = catalog.captures(HOME)[0]
    path = f"/web/{page.timestamp}/{HOME}"
    # crawls run seconds apart here; in real use hours or days
    strict = create_app({"COLLECTION": str(root), "REQUISITE_SKEW_HOURS": 0}).test_client()
    listed = lxml.html.fromstring(strict.get(path).data).xpath("//ul[@class='other-times']/li")
    named = {li.xpath("a/text()")[0]: li.text_content() for li in listed}
    assert "site.css" in named
    assert re.search(r"\d+ (s|min) later \(crawl \d{14}", named["site.css"])
    assert first not in named["site.css"]
    relaxed = create_app({"COLLECTION": str(root)}).test_client()
    assert b"other-times" not in relaxed.get(path).data


def test_unknown_page_on_a_known_site_lists_captured_pages_nearby(client):
    answer = client.get("/web/2026/http://paxpoint.test/diplomacy/no-such-article/deeper/")
    assert answer.status_code == 404
    doc = lxml.html.fromstring(answer.data)
    nearby = doc.xpath("//main//li/a[@class='url']/text()")
    assert nearby and all(u.startswith("http://paxpoint.test/diplomacy/") for u in nearby)


def test_wrong_time_in_a_tab_lists_the_nearest_captures(client, captures):
    capture = captures[HOME][0]
    answer = client.get(f"/view/text/20000101000000/{HOME}")
    assert answer.status_code == 404
    assert f"/web/{capture.timestamp}/{HOME}".encode() in answer.data


def test_search_page_facets_filters_pagination_and_csv(client):
    doc = lxml.html.fromstring(client.get("/search?q=security").data)
    sites = doc.xpath("//aside[@class='facets']//li/a/@href")
    assert sites and all("site=" in href or "from=" in href for href in sites)
    month = doc.xpath("//aside[@class='facets']//a[contains(@href, 'from=')]/@href")[0]
    narrowed = lxml.html.fromstring(client.get(month).data)
    assert narrowed.xpath("//p[@class='summary']")
    assert doc.xpath("//figure[@class='chart']//svg//rect | //figure[@class='chart']//svg//circle")
    hits = doc.xpath("//li[@class='hit']")
    assert len(hits) == 10 and doc.xpath("//nav[@class='pager']//a[contains(., 'next')]")
    for hit in hits:
        assert re.match(r"/web/\d{14}/http", hit.xpath(".//h3/a/@href")[0])
        assert hit.xpath(".//a[starts-with(@href, '/web/*/')]")
    exported = client.get("/search.csv?q=security")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][:3] == ["url", "timestamp", "site"] and len(rows) > 10


def test_a_catalog_naming_a_file_outside_the_collection_is_refused(indexed_history, tmp_path):
    root = Path(shutil.copytree(indexed_history.collection.root, tmp_path / "copy"))
    secret = tmp_path / "secret.warc.gz"
    secret.write_bytes(b"not for the archive's visitors")
    db = sqlite3.connect(root / "derived" / "catalog.sqlite")
    with db:
        db.execute("UPDATE captures SET payload_file = '../secret.warc.gz', "
                   "warc_file = '../secret.warc.gz' WHERE url = ?", (HOME,))
    db.close()
    client = create_app({"COLLECTION": str(root)}).test_client()
    with Catalog.open(indexed_history.collection) as catalog:
        ts = catalog.captures(HOME)[0].timestamp
    for path in (f"/web/{ts}mp_/{HOME}", f"/web/{ts}/{HOME}", f"/view/record/{ts}/{HOME}"):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert b"not for the archive" not in answer.data
        assert b"outside the collection" in answer.data


TRICK = "<script>alert('archived')</script>"
TRICK_PAGE = ("<!doctype html><html><head><title>Quoting &lt;script&gt; tags</title></head>"
              "<body><h1>How pages quote code</h1><p>The widget printed "
              "&lt;script&gt;alert('archived')&lt;/script&gt; on the page, as text, for "
              "every reader of this flamingo article.</p></body></html>")


@pytest.fixture(scope="module")
def quoting_code(tmp_path_factory) -> Collection:
    """A collection of one imported WARC: a page whose text quotes a script tag, served with
    a header that does too."""
    work = tmp_path_factory.mktemp("quoting")
    path = work / "quoting.warc.gz"
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                           ("X-Note", TRICK)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            "http://quoting.test/code/", "response", payload=io.BytesIO(TRICK_PAGE.encode()),
            http_headers=head, warc_headers_dict={"WARC-Date": "2026-01-02T03:04:05Z"}))
    collection = Collection(work / "collection")
    add_warcs(collection, [path])
    return collection


def test_archived_text_quoting_a_script_tag_is_shown_escaped_everywhere(quoting_code):
    client = create_app({"COLLECTION": str(quoting_code.root)}).test_client()
    ts = "20260102030405"
    for path in ["/search?q=flamingo", f"/view/text/{ts}/http://quoting.test/code/",
                 f"/view/headers/{ts}/http://quoting.test/code/",
                 "/web/*/http://quoting.test/code/", f"/web/{ts}/http://quoting.test/code/"]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        page = answer.get_data(as_text=True)
        assert "<script>alert" not in page, path
        scripts = lxml.html.fromstring(answer.data).xpath("//script")
        assert all(s.get("src", "").startswith("/static/") and not s.text for s in scripts)
    found = client.get("/search?q=flamingo").get_data(as_text=True)
    assert "Quoting &lt;script&gt; tags</a>" in found
    assert "&lt;/script&gt;" in found and "<mark>flamingo</mark>" in found
    text = client.get(f"/view/text/{ts}/http://quoting.test/code/").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in text
    headers = client.get(f"/view/headers/{ts}/http://quoting.test/code/").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in headers
