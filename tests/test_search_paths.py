"""The researcher's first paths through search (issue 11): start from a URL, as Wayback and
pywb do, and see whether a phrase is still on a page. Over the sample network crawled at
revision 1 twice, then at revision 2, where allyvia's footers lost the disclosure line.
The same answers through index.search.service, the JSON API, the CSV export, the CLI and the page in
Chromium, on a desktop and on a phone screen."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import lxml.html
import pytest

from index.errors import QueryError
from index.search.periods import period_unit
from index.search.service import SearchRequest, search
from tests.conftest import ARTIFACTS, palimpsest
from web import create_app

DISCLOSURE = '"on behalf of"'  # part of the sample network's disclosure line
ABOUT = "http://allyvia.test/about/"
SCREENS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def client(indexed_history):
    return create_app({"COLLECTION": str(indexed_history.collection.root)}).test_client()


@pytest.fixture(params=list(SCREENS))
def screen(request, browser):
    context = browser.new_context(viewport=SCREENS[request.param])
    yield request.param, context.new_page()
    context.close()


def keep(page, name: str) -> Path:
    """The whole page as the browser shows it, as tests/artifacts/issue11/<name>-after.png."""
    folder = ARTIFACTS / "issue11"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-after.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- a URL in the search box ---------------------------------------------------------------


@pytest.mark.parametrize("typed", [ABOUT, "allyvia.test/about/", "HTTP://allyvia.test/about/"])
def test_a_url_with_or_without_scheme_is_read_as_that_url(indexed_history, typed):
    found = search(indexed_history.collection, SearchRequest(q=typed))
    assert found["read_as"] == "url" and found["match_type"] == "exact"
    assert [r["url"] for r in found["results"]] == [ABOUT]
    assert found["results"][0]["captures"] == 3


@pytest.mark.parametrize("typed, match_type", [("http://allyvia.test/updates/*", "prefix"),
                                               ("allyvia.test/*", "prefix"),
                                               ("*.allyvia.test", "domain")])
def test_a_url_pattern_lists_the_captured_urls_it_matches(indexed_history, typed, match_type):
    found = search(indexed_history.collection, SearchRequest(q=typed, limit=100))
    assert found["read_as"] == "url" and found["match_type"] == match_type
    urls = [r["url"] for r in found["results"]]
    assert urls and found["total"] == len(urls)
    assert all(u.startswith("http://allyvia.test/" if match_type == "domain" or "updates" not in
                            typed else "http://allyvia.test/updates/") for u in urls)
    for result in found["results"]:
        assert result["captures"] >= 1 and result["first_seen"] <= result["last_seen"]


def test_a_bare_host_is_a_url_only_when_the_archive_captured_it(indexed_history):
    host = search(indexed_history.collection, SearchRequest(q="allyvia.test"))
    assert host["read_as"] == "url" and host["results"][0]["url"] == "http://allyvia.test/"
    dotted_word = search(indexed_history.collection, SearchRequest(q="node.js"))
    assert dotted_word["read_as"] == "text"


def test_a_url_among_other_words_is_one_clear_error_not_an_unknown_field(indexed_history):
    with pytest.raises(QueryError) as raised:
        search(indexed_history.collection, SearchRequest(q=f"{ABOUT} disclosure"))
    assert "unknown field" not in str(raised.value) and "url:" in str(raised.value)
    # a scheme with nothing after it yet is a URL too (one with no captures)
    assert search(indexed_history.collection, SearchRequest(q="http://"))["read_as"] == "url"


def test_api_and_cli_say_a_url_query_was_read_as_a_url(client, indexed_history):
    answer = client.get("/api/search", query_string={"q": "allyvia.test/updates/*"})
    assert answer.status_code == 200
    assert answer.json["read_as"] == "url" and answer.json["match_type"] == "prefix"
    root = str(indexed_history.collection.root)
    printed = json.loads(palimpsest("search", "--collection", root, "--json", ABOUT).stdout)
    assert printed["read_as"] == "url" and printed["results"][0]["url"] == ABOUT
    listed = palimpsest("search", "--collection", root, "allyvia.test/updates/*").stdout
    assert "prefix match" in listed and "http://allyvia.test/updates/" in listed


def test_the_search_page_sends_a_url_to_its_timeline(client):
    answer = client.get("/search", query_string={"q": "allyvia.test/about/"})
    assert answer.status_code == 303 and answer.location.endswith(f"/web/*/{ABOUT}")


# -- a phrase over time --------------------------------------------------------------------


def test_the_disclosure_is_gone_from_allyvias_latest_captures(indexed_history):
    found = search(indexed_history.collection,
                   SearchRequest(q=DISCLOSURE, site="allyvia", limit=100))
    assert found["read_as"] == "text" and found["total"] > 0
    assert found["watches"] == ["disclosure"]
    for result in found["results"]:
        presence = result["presence"]
        assert presence["in_latest"] is False, result["url"]
        # seen in the two crawls of revision 1, missing from revision 2's on
        assert result["captures"] == 2 and presence["captures"] == 3
        assert presence["last_match"]["timestamp"] == result["timestamp"]
        assert presence["first_missing"]["timestamp"] == presence["latest"]["timestamp"]
        assert presence["first_missing"]["timestamp"] > presence["last_match"]["timestamp"]
    elsewhere = search(indexed_history.collection,
                       SearchRequest(q=DISCLOSURE, site="paxpoint", limit=100))
    assert any(r["presence"]["in_latest"] for r in elsewhere["results"])
    assert all(r["presence"]["first_missing"] is None for r in elsewhere["results"]
               if r["presence"]["in_latest"])


def test_presence_is_checked_within_the_search_budget(indexed_history):
    from index.catalog import Catalog
    from index.errors import QueryTooCostly
    from index.search.engine import NO_MATCHES
    from index.search.presence import add_presence
    from index.search.query_cost import Budget

    with Catalog.open(indexed_history.collection) as catalog, \
            pytest.raises(QueryTooCostly, match="checking the latest captures"):
        add_presence(catalog, [{"url": ABOUT}], NO_MATCHES, Budget(seconds=0))


def test_chart_periods_follow_the_spread_of_the_captures(indexed_history):
    assert period_unit(20261202100000, 20261202101500)[0] == "minute"  # crawls minutes apart
    assert period_unit(20261202100000, 20261203080000)[0] == "hour"
    assert period_unit(20260101000000, 20260130000000)[0] == "day"
    assert period_unit(20240101000000, 20261201000000)[0] == "month"
    assert period_unit(20100101000000, 20261201000000)[0] == "year"
    # the three crawls ran seconds apart: periods of seconds, and every period in which
    # allyvia's pages were captured is on the axis, the last ones without the phrase
    periods = search(indexed_history.collection,
                     SearchRequest(q=DISCLOSURE, site="allyvia"))["facets"]["periods"]
    assert periods["unit"] in ("second", "minute") and len(periods["periods"]) >= 2
    allyvia = periods["by_site"]["allyvia"]
    # (a crawl may straddle two seconds: its pages then count in either)
    assert periods["periods"][-1] not in allyvia and 15 <= sum(allyvia.values()) <= 30


def test_csv_has_the_snippet_the_capture_date_and_the_latest_capture(client):
    exported = client.get("/search.csv", query_string={"q": DISCLOSURE, "site": "allyvia"})
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert rows
    for row in rows:
        assert "on behalf of" in row["snippet"] and "<mark>" not in row["snippet"]
        assert row["date"].startswith("20") and row["date"].endswith("Z")
        assert row["latest_capture"] > row["date"] and row["in_latest"] == "no"
        assert row["last_match"] and row["first_missing"] == row["latest_capture"]
    listed = client.get("/search.csv", query_string={"q": "allyvia.test/updates/*"})
    header, *urls = list(csv.reader(io.StringIO(listed.get_data(as_text=True))))
    assert header == ["url", "captures", "first_seen", "last_seen"] and urls


def test_results_page_escapes_and_links_both_latest_captures(client):
    doc = lxml.html.fromstring(client.get("/search", query_string={
        "q": DISCLOSURE, "site": "allyvia"}).data)
    hit = doc.xpath("//li[@class='hit']")[0]
    gone = hit.xpath(".//p[contains(@class, 'presence')]")[0]
    assert "gone" in gone.get("class")
    links = gone.xpath(".//a/@href")
    title = hit.xpath(".//h3/a/@href")[0]
    latest = [h for h in links if h.startswith("/web/")][0]
    assert title != latest  # the latest match and the latest capture, each linked
    assert "/watch/disclosure" in links and any(h.startswith("/diff/") for h in links)


# -- in Chromium ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed, name", [(ABOUT, "search-url-with-scheme"),
                                         ("allyvia.test/about/", "search-url-no-scheme")])
def test_typing_a_url_in_the_search_box_opens_its_timeline(web_server, screen, typed, name):
    size, page = screen
    page.goto(web_server + "/")
    page.fill("#q", typed)
    page.press("#q", "Enter")
    page.wait_for_load_state()
    assert page.url == f"{web_server}/web/*/{ABOUT}"
    assert "unknown field" not in page.content()
    assert page.locator("table.timeline tbody tr").count() == 3
    keep(page, f"{name}-{size}")


@pytest.mark.parametrize("typed, name", [("http://allyvia.test/updates/*", "search-url-prefix"),
                                         ("allyvia.test/*", "search-url-host")])
def test_typing_a_url_pattern_lists_the_urls_with_links_to_their_timelines(
        web_server, screen, typed, name):
    size, page = screen
    page.goto(web_server + "/")
    page.fill("#q", typed)
    page.press("#q", "Enter")
    page.wait_for_load_state()
    assert page.locator("p.error").count() == 0
    rows = page.locator("table.urls tbody tr")
    assert rows.count() >= 2
    assert "captured URLs under http://allyvia.test/" in page.get_by_role("status").inner_text()
    first = rows.first.locator("td.url a")
    assert first.is_visible() and first.bounding_box()["width"] <= SCREENS[size]["width"]
    keep(page, f"{name}-{size}")
    target = first.get_attribute("href")
    first.click()
    page.wait_for_load_state()
    assert page.url == web_server + target and target.startswith("/web/*/http://allyvia.test/")


def test_the_disclosure_shows_as_gone_from_allyvia_with_the_watch_link(web_server, screen):
    size, page = screen
    page.goto(f'{web_server}/search?q="on behalf of"&site=allyvia')
    gone = page.locator("li.hit p.presence.gone")
    assert gone.count() == page.locator("li.hit").count() > 0
    assert gone.first.is_visible() and "Gone" in gone.first.inner_text()
    assert "last seen" in gone.first.inner_text() and "first missing" in gone.first.inner_text()
    summary = page.locator("p.presence-summary")
    assert "no longer match" in summary.inner_text()
    # the chart: periods of seconds or minutes (the crawls ran seconds apart), not one
    # month; allyvia at zero in the last one
    caption = page.locator("figure.chart figcaption").inner_text()
    assert "per second" in caption or "per minute" in caption, caption
    ticks = page.locator("figure.chart svg text").all_text_contents()
    assert any(":" in t for t in ticks), ticks
    points = page.locator("figure.chart svg circle title, figure.chart svg rect title")
    assert points.count() >= 2 and points.last.text_content().endswith(": 0")
    keep(page, f"search-phrase-allyvia-{size}")
    page.locator("li.hit p.presence a", has_text="watch: disclosure").first.click()
    page.wait_for_load_state()
    assert page.url == f"{web_server}/watch/disclosure"


def test_the_whole_network_phrase_search_marks_each_page_present_or_gone(web_server, screen):
    size, page = screen
    page.goto(f'{web_server}/search?q="on behalf of"')
    marks = page.locator("li.hit p.presence")
    assert marks.count() == page.locator("li.hit").count()
    assert page.locator("li.hit p.meta", has_text="matches in").count() == marks.count()
    keep(page, f"search-phrase-gone-{size}")
