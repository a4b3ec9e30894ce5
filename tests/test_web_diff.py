"""Comparisons in the web UI and as JSON: the diff page's three views and its receipt, the
change report and the watched phrase's page, URLs that are a contract, hostile text kept as
text; and in a real Chromium, from a page's timeline to its diff, both views, the change in
sight (screenshots in tests/artifacts/)."""

from __future__ import annotations

import json
import re
import shutil
from io import BytesIO

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.catalog import Catalog
from index.collection import Collection
from index.compare.changes import change_report
from index.compare.diff import compare, default_pair
from index.warc_import import add_warcs
from palimpsest.cli import main
from palimpsest.sample_network import manifest
from tests.conftest import screenshot
from web import create_app

EDITED = "http://cognitura.test/psychology/the-certainty-trap/"
REMOVED_SENTENCE = "The simplicity is the point."


@pytest.fixture(scope="module")
def client(indexed_history):
    app = create_app({"COLLECTION": str(indexed_history.collection.root), "TESTING": True})
    return app.test_client()


@pytest.fixture(scope="module")
def edited_pair(indexed_history):
    with Catalog.open(indexed_history.collection) as catalog:
        return default_pair(catalog, EDITED, None, None)


def test_api_diff_and_changes_are_the_cli_objects(client, indexed_history, capsys):
    root = str(indexed_history.collection.root)
    assert main(["diff", EDITED, "--collection", root, "--json"]) == 0
    assert client.get("/api/diff", query_string={"url": EDITED}).json == json.loads(
        capsys.readouterr().out)
    assert main(["changes", "--collection", root, "--json"]) == 0
    assert client.get("/api/changes").json == json.loads(capsys.readouterr().out)
    assert main(["watch", "disclosure", "--collection", root, "--json"]) == 0
    assert client.get("/api/watch/disclosure").json == json.loads(capsys.readouterr().out)


def test_diff_page_shows_the_removed_sentence_in_every_view(client, edited_pair):
    a, b = edited_pair
    page = client.get(f"/diff/{a.timestamp}/{b.timestamp}/{EDITED}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'<del class="change" id="change-1" data-change="1">{REMOVED_SENTENCE}</del>' in html
    inline, only, side = (html.split(f'id="{view}"')[1].split("</section>")[0]
                          for view in ("inline", "excerpts", "side-by-side"))
    assert f"<del>{REMOVED_SENTENCE}</del>" in side
    assert 'id="only-1"' in only and f"<del>{REMOVED_SENTENCE}</del>" in only
    assert "unchanged paragraphs" in side  # long unchanged stretches folded, side by side
    assert "1 change (5 of" in html
    for value in (a.record_id, b.record_id, a.digest, b.digest, b.warc_file):
        assert value in html.replace("&lt;", "<").replace("&gt;", ">")
    assert f"palimpsest diff {EDITED} --from {a.timestamp} --to {b.timestamp}" in html


def test_options_ride_on_the_second_timestamp(client, indexed_history, edited_pair):
    a, b = edited_pair
    full = client.get(f"/diff/{a.timestamp}/{b.timestamp}_full_case/{EDITED}")
    assert full.status_code == 200
    html = full.get_data(as_text=True)
    assert "of the full visible text changed" in html
    assert f"/diff/{a.timestamp}/{b.timestamp}_main_case/{EDITED}" in html  # the way back
    api = client.get("/api/diff", query_string={"url": EDITED, "from": a.timestamp,
                                                "to": b.timestamp, "full": "1",
                                                "ignore_case": "1"}).json
    assert api["receipt"]["permalink"] == f"/diff/{a.timestamp}/{b.timestamp}_full_case/{EDITED}"
    assert api["receipt"]["command"].endswith("--full --ignore-case")


def test_diff_urls_are_a_contract_and_bad_ones_get_one_clear_error(client, edited_pair):
    a, b = edited_pair
    swapped = client.get(f"/diff/{b.timestamp}/{a.timestamp}/{EDITED}")
    assert swapped.status_code == 301
    assert swapped.headers["Location"].endswith(f"/diff/{a.timestamp}/{b.timestamp}/{EDITED}")
    picked = client.get("/diff/compare", query_string={"url": EDITED, "from": b.timestamp,
                                                       "to": a.timestamp})
    assert picked.headers["Location"].endswith(f"/diff/{a.timestamp}/{b.timestamp}/{EDITED}")
    for path, status in ((f"/diff/2025/{b.timestamp}/{EDITED}", 400),
                         (f"/diff/{a.timestamp}/{b.timestamp}_bogus/{EDITED}", 400),
                         (f"/diff/{a.timestamp}/{b.timestamp}_full_main/{EDITED}", 400),
                         (f"/diff/20000101000000/{b.timestamp}/{EDITED}", 404),
                         (f"/diff/compare?url={EDITED}&from={a.timestamp}&to={a.timestamp}",
                          400),
                         ("/watch/nope", 404), ("/changes?from=nope", 400)):
        response = client.get(path)
        assert response.status_code == status, path
        assert "Traceback" not in response.get_data(as_text=True)
    error = client.get("/api/diff")
    assert error.status_code == 400 and "give a URL" in error.json["error"]
    assert client.get("/api/diff", query_string={"url": "http://nowhere.test/"}
                      ).status_code == 404


def test_change_report_page_has_a_section_per_site_and_links_each_change(client,
                                                                         indexed_history):
    report = change_report(indexed_history.collection)
    html = client.get("/changes").get_data(as_text=True)
    for site in report["sites"]:
        assert f'id="site-{site}"' in html
    for entry in report["changed"]:
        assert f'href="{entry["diff"]}"' in html
    assert "Disappeared from 15 pages" in html or "Disappeared from" in html
    watch = client.get("/watch/disclosure").get_data(as_text=True)
    assert "disappeared" in watch and "allyvia" in watch
    for crawl in report["crawls"]:
        assert crawl in watch


def test_the_diff_page_says_what_a_noise_rule_hid(indexed_history, tmp_path):
    copy = Collection(tmp_path / "c")
    shutil.copytree(indexed_history.collection.root, copy.root)
    rule = r"Last updated:? [A-Z][a-z]+ \d{1,2}, \d{4}"
    line = f"ignore = [{json.dumps(rule)}]"  # TOML and JSON share this string syntax
    copy.config_path.write_text(re.sub(r"^ignore = \[\]", lambda _: line,
                                       copy.config_path.read_text(), flags=re.M))
    noisy = manifest(1).noise_page
    with Catalog.open(copy) as catalog:
        a, b = default_pair(catalog, noisy, None, None)
    client = create_app({"COLLECTION": str(copy.root), "TESTING": True}).test_client()
    html = client.get(f"/diff/{a.timestamp}/{b.timestamp}/{noisy}").get_data(as_text=True)
    assert "0.0% of the full visible text changed" in html and "0 changes" in html
    assert f"Noise rule <code>{rule}</code> was applied: it hid 2 differences." in html


def _warc_with_two_captures(path, url: str, bodies: list[bytes]) -> None:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n, body in enumerate(bodies):
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=BytesIO(body), http_headers=head,
                warc_headers_dict={"WARC-Date": f"2025-0{n + 1}-01T00:00:00Z"}))


def test_hostile_text_in_the_pages_is_shown_as_text(tmp_path):
    url = "http://hostile.test/page"
    old = (b"<html><head><title>Plain title</title></head><body><main><h1>Notes</h1>"
           b"<p>This paragraph stays the same across both captures of the page.</p>"
           b"<p>Then &lt;b&gt;bold&lt;/b&gt; words.</p></main></body></html>")
    new = (b"<html><head><title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>"
           b"</head><body><main><h1>Notes</h1>"
           b"<p>This paragraph stays the same across both captures of the page.</p>"
           b"<p>Then &lt;img src=x onerror=alert(2)&gt; words.</p></main></body></html>")
    warc = tmp_path / "hostile.warc.gz"
    _warc_with_two_captures(warc, url, [old, new])
    collection = Collection(tmp_path / "c")
    add_warcs(collection, [warc])
    with Catalog.open(collection) as catalog:
        a, b = default_pair(catalog, url, None, None)
    assert "<img src=x onerror=alert(2)>" in [op["text"].strip() for op in compare(
        collection, a, b)["text"]]
    client = create_app({"COLLECTION": str(collection.root), "TESTING": True}).test_client()
    html = client.get(f"/diff/{a.timestamp}/{b.timestamp}/{url}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<img" not in html and "alert(1)</script>" not in html
    assert len(re.findall(r"<script\b", html)) == 1  # ours, diff.js


def test_from_the_timeline_to_a_diff_in_both_views(web_server, page, edited_pair):
    a, b = edited_pair
    page.goto(f"{web_server}/web/*/{EDITED}")
    changed_row = page.locator("table.timeline tr.changed")
    assert changed_row.count() == 1
    changed_row.get_by_role("link", name="diff").click()
    page.wait_for_url(re.compile(rf"/diff/{a.timestamp}/{b.timestamp}/"))
    summary = page.locator("#summary").inner_text()
    assert "of the main text changed" in summary and "1 change" in summary

    page.get_by_role("link", name="First change").click()
    removed = page.locator("#inline del.change")
    assert removed.inner_text() == REMOVED_SENTENCE and removed.is_visible()
    assert page.evaluate("location.hash") == "#change-1"
    colour = removed.evaluate("el => getComputedStyle(el).textDecorationLine")
    assert "line-through" in colour
    screenshot(page, "compare-inline")

    page.get_by_role("link", name="Side by side").click()
    side = page.locator("#side-by-side")
    assert side.is_visible() and not page.locator("#inline").is_visible()
    row = side.locator("tr.change").first
    row.scroll_into_view_if_needed()
    assert row.locator("del").inner_text() == REMOVED_SENTENCE and row.is_visible()
    screenshot(page, "compare-side-by-side")

    page.get_by_label("Changes only").check()
    assert row.is_visible() and not side.locator("tr.equal").first.is_visible()
    page.get_by_role("link", name="Inline").click()
    assert not page.locator("#inline .text").is_visible()
    page.keyboard.press("n")
    assert page.evaluate("location.hash") == "#only-1"
    assert page.locator("#only-1 del").inner_text() == REMOVED_SENTENCE
    assert page.locator("#only-1 del").is_visible()
    screenshot(page, "compare-changes-only")


def test_the_change_report_leads_to_the_dropped_disclosure(web_server, page):
    page.goto(f"{web_server}/changes")
    assert page.locator("section.site-changes").count() >= 5
    watch = page.locator("section.watch-summary")
    assert "Disappeared from" in watch.inner_text()
    screenshot(page, "compare-change-report")
    watch.locator("a.site-link", has_text="allyvia").click()  # to the site's rows, each once
    about = page.locator("#site-allyvia li.changed",
                         has=page.locator(".url:text-is('http://allyvia.test/about/')"))
    about.locator("a").first.click()
    page.wait_for_url(re.compile(r"/diff/\d{14}/\d{14}(_full)?/http://allyvia\.test/about/"))
    page.get_by_role("link", name="First change").click()
    removed = page.locator("#inline del.change").first
    assert manifest(1).disclosure in removed.inner_text() and removed.is_visible()
    screenshot(page, "compare-dropped-disclosure")
