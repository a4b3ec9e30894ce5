"""The auditor's and the researcher's pages on a desktop (1366x900) and a phone (390x844), in a
real headless Chromium: a diff's sticky bar never covers the change jumped to or the side by
side headers; on a phone the bar is one line, side by side gives way to inline, and diff and
timeline fit the screen; the CDX API explains itself with examples that answer; picking one
capture twice explains itself on the timeline; the WARC record is a download link; the text
tab shows the full visible text too, with a search's words marked. Screenshots go to
tests/artifacts/issue11/."""

from __future__ import annotations

import re
from io import BytesIO

import lxml.html
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.collection import Collection
from index.warc_import import add_warcs
from palimpsest.sample_network import manifest
from tests.conftest import ARTIFACTS, DESKTOP, screenshot
from web import create_app
from web.text_view import text_tab_url

# the network's home page of cognitura changes in five places from revision 1 to 2 (full text)
MANY_CHANGES = "http://cognitura.test/"
ABOUT = "http://allyvia.test/about/"  # loses the disclosure line in revision 2
EDITED = "http://cognitura.test/psychology/the-certainty-trap/"


def shot(page, name: str) -> None:
    (ARTIFACTS / "issue11").mkdir(parents=True, exist_ok=True)
    screenshot(page, f"issue11/{name}-after")


def captures_of(page, web_server: str, url: str) -> list[str]:
    return [c["timestamp"] for c in page.request.get(
        f"{web_server}/api/captures", params={"url": url}).json()]


def diff_path(page, web_server: str, url: str) -> str:
    times = captures_of(page, web_server, url)
    return f"{web_server}/diff/{times[0]}/{times[-1]}_full/{url}"


def box(page, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def assert_in_sight_below_the_bar(page, selector: str) -> None:
    """The element is on screen, and neither the bar nor a sticky header covers it."""
    bar = box(page, "#diff-controls")
    shown = box(page, selector)
    assert shown["y"] >= bar["y"] + bar["height"] - 0.5, (selector, shown, bar)
    assert shown["y"] < page.viewport_size["height"], (selector, shown)


def current(page) -> str:
    return page.evaluate("location.hash")


def test_first_change_and_n_p_land_below_the_sticky_bar_on_a_desktop(web_server, desktop):
    page = desktop
    page.goto(diff_path(page, web_server, MANY_CHANGES))
    page.mouse.wheel(0, 400)  # the bar is stuck at the top from here on
    page.get_by_role("link", name="First change").click()
    assert current(page) == "#change-1"
    assert_in_sight_below_the_bar(page, "#change-1")
    shot(page, "diff-first-change-desktop")
    for expected in ("#change-2", "#change-3"):
        page.keyboard.press("n")
        assert current(page) == expected
        assert_in_sight_below_the_bar(page, expected)
    page.keyboard.press("p")
    assert current(page) == "#change-2"
    assert_in_sight_below_the_bar(page, "#change-2")
    shot(page, "diff-n-desktop")
    bar = box(page, "#diff-controls")
    assert bar["height"] < 50, "the bar holds one line on a desktop"

    # side by side: "First change" stays there, and the headers stay in sight below the bar
    page.get_by_role("link", name="Side by side").click()
    page.get_by_role("link", name="First change").click()
    assert current(page) == "#side-change-1"
    head = "#side-by-side thead th"
    seen = []
    for _ in range(3):
        seen.append(current(page))
        assert_in_sight_below_the_bar(page, head)
        head_box = box(page, head)
        row = box(page, current(page))
        assert row["y"] >= head_box["y"] + head_box["height"] - 0.5, (row, head_box)
        assert "Before" in page.locator(head).nth(1).inner_text()
        page.keyboard.press("n")
    # (a row of side by side may hold two changes: the row of the first is the one named)
    assert len(set(seen)) == 3 and all(h.startswith("#side-change-") for h in seen)
    shot(page, "diff-side-desktop")


def test_on_a_phone_the_bar_is_one_line_and_side_by_side_gives_way_to_inline(web_server, phone):
    page = phone
    path = diff_path(page, web_server, MANY_CHANGES)
    page.goto(path)
    bar = box(page, "#diff-controls")
    line = page.locator("#diff-controls").evaluate(
        "el => parseFloat(getComputedStyle(el).lineHeight)")
    assert bar["height"] < 2 * line + 16, f"the bar is {bar['height']}px high"
    assert not page.get_by_role("link", name="Side by side").is_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    page.get_by_role("link", name="First change").click()
    assert current(page) == "#change-1"
    assert_in_sight_below_the_bar(page, "#change-1")
    shot(page, "diff-first-change-phone")
    page.get_by_role("button", name="next change").tap()
    assert current(page) == "#change-2"
    assert_in_sight_below_the_bar(page, "#change-2")

    # a side by side link opens the same change inline
    page.goto(path + "#side-change-3")
    page.wait_for_function("() => location.hash === '#change-3'")
    assert page.locator("#inline").is_visible()
    assert not page.locator("#side-by-side").is_visible()
    assert_in_sight_below_the_bar(page, "#change-3")
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    shot(page, "diff-side-phone")
    page.goto(path + "#side-by-side")
    assert page.locator("#inline").is_visible()
    page.get_by_label("Changes only").check()
    assert page.locator("#excerpts").is_visible() and not page.locator("#inline").is_visible()


def test_the_timeline_fits_a_phone(web_server, phone):
    page = phone
    page.goto(f"{web_server}/web/*/{EDITED}")
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    # the columns themselves fit: the table does not scroll inside its box either
    assert page.locator(".table-scroll").evaluate("el => el.scrollWidth <= el.clientWidth")
    assert page.locator("table.timeline tbody tr").count() == 3
    first = page.locator("table.timeline tbody tr").first
    assert first.get_by_label(re.compile("compare from")).is_visible()
    assert first.get_by_role("link", name=re.compile(r"\d{4}-\d\d-\d\d")).is_visible()
    shot(page, "timeline-phone")


def test_the_footer_cdx_link_explains_the_api_with_examples_that_answer(web_server, desktop):
    page = desktop
    page.goto(f"{web_server}/web/*/{EDITED}")
    page.locator("footer").get_by_role("link", name="CDX API").click()
    assert page.locator("h1").inner_text() == "The CDX API"
    examples = page.locator(".cdx-examples a")
    assert examples.count() >= 6
    for href in examples.evaluate_all("links => links.map(a => a.href)"):
        answer = page.request.get(href)
        assert answer.status == 200, href
        assert answer.text().strip().splitlines(), f"{href} answers no line"
    shot(page, "cdx-api")
    # a real query is answered as before, and a query without url= says where help is
    answer = page.request.get(f"{web_server}/cdx", params={"url": EDITED, "output": "json"})
    assert answer.headers["content-type"].startswith("text/x-ndjson")
    assert answer.text().count("\n") == 3
    error = page.request.get(f"{web_server}/cdx?output=json")
    assert error.status == 400 and "/cdx alone" in error.json()["error"]


def test_comparing_a_capture_with_itself_explains_itself_on_the_timeline(web_server, desktop):
    page = desktop
    page.goto(f"{web_server}/web/*/{EDITED}")
    row = page.locator("table.timeline tbody tr").last
    row.get_by_label(re.compile("compare from")).check()
    page.get_by_role("button", name="Compare the two selected captures").click()
    problem = page.locator("#compare-problem")
    assert "same capture" in problem.inner_text()
    assert page.locator("table.timeline tbody tr").count() == 3  # still the timeline
    row = page.locator("table.timeline tbody tr").last
    assert row.get_by_label(re.compile("compare from")).is_checked()
    assert row.get_by_label(re.compile("compare to")).is_checked()
    shot(page, "same-capture-twice")
    # picked again, the form leads to the diff
    page.locator("table.timeline tbody tr").first.get_by_label(
        re.compile("compare from")).check()
    page.get_by_role("button", name="Compare the two selected captures").click()
    page.wait_for_url(re.compile(r"/diff/\d{14}/\d{14}/"))
    # a column left empty says so too
    answer = page.request.get(f"{web_server}/diff/compare", params={"url": EDITED,
                                                                   "from": "20250101000000"})
    assert answer.status == 400 and "in the To column" in answer.text()


def test_the_warc_record_is_a_download_link_with_its_name_and_size(web_server, desktop):
    page = desktop
    latest = captures_of(page, web_server, EDITED)[-1]
    page.goto(f"{web_server}/web/{latest}/{EDITED}")
    link = page.get_by_role("link", name=re.compile(r"Download WARC record \(\d[\d.,]* KB\)"))
    name = link.get_attribute("download")
    assert re.fullmatch(rf"{latest}-\d+\.warc\.gz", name)
    assert link.get_attribute("type") == "application/warc"
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == name
    shot(page, "capture-tabs")


def test_the_text_tab_shows_the_full_text_and_marks_the_search(web_server, desktop):
    page = desktop
    disclosure = manifest(1).disclosure
    first = captures_of(page, web_server, ABOUT)[0]
    page.goto(f"{web_server}/view/text/{first}/{ABOUT}")
    text = page.locator("article.extracted .text")
    assert disclosure not in text.inner_text()
    page.get_by_role("link", name=re.compile("Full visible text")).click()
    assert disclosure in " ".join(text.inner_text().split())
    assert page.locator(".text-modes [aria-current]").inner_text().startswith("Full")

    # from a search: its words marked as the search found them (stemmed), the full text
    # chosen because they stand only in the footer
    page.goto(f"{web_server}/view/text/{first}/{ABOUT}?q=%22foreign+principal%22+distribute")
    marks = page.locator("article.extracted mark").all_inner_texts()
    assert {"foreign", "principal", "distributed"} <= set(marks) and "of" not in marks
    assert "outside the main text" in page.locator("#search-marks").inner_text()
    page.get_by_role("link", name="the first").click()
    assert page.locator("#first-mark").is_visible()
    assert page.locator("#first-mark").bounding_box()["y"] < DESKTOP["height"]
    shot(page, "text-tab-marked")
    page.get_by_role("link", name="Main text").click()
    assert page.locator("article.extracted mark").count() == 0
    assert "the full visible text has them" in page.locator("#search-marks").inner_text()

    # what the search says is text, never markup
    page.goto(f"{web_server}/view/text/{first}/{ABOUT}?q=%3Cimg+src%3Dx%3E+foreign")
    assert page.locator("article.extracted img").count() == 0
    assert "<img src=x> foreign" in page.locator("#search-marks").inner_text()


def test_the_text_tab_keeps_an_archived_urls_own_query_string(tmp_path):
    # an archived search page whose own query is q=: the tab's q= comes after it
    pages = {"http://quirky.test/search?q=harbor": b"Results about the harbor and talks.",
             "http://quirky.test/page": b"Harbors and talks about harbors."}
    warc = tmp_path / "quirky.warc.gz"
    with open(warc, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, text in pages.items():
            body = b"<html><body><main><p>" + text + b"</p></main></body></html>"
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=BytesIO(body), http_headers=head,
                warc_headers_dict={"WARC-Date": "2025-01-01T00:00:00Z"}))
    collection = Collection(tmp_path / "c")
    add_warcs(collection, [warc])
    client = create_app({"COLLECTION": str(collection.root), "TESTING": True}).test_client()

    def marks(path: str) -> list[str]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        return lxml.html.fromstring(answer.data).xpath("//article//mark/text()")

    search, page = pages
    assert marks(f"/view/text/20250101000000/{search}") == []  # its own q= is the URL's
    assert marks(text_tab_url("20250101000000", search, q="talk")) == ["talks"]
    assert text_tab_url("20250101000000", search, q="talk") == \
        f"/view/text/20250101000000/{search}&q=talk"
    assert marks(text_tab_url("20250101000000", page, True, "harbor")) == ["Harbors", "harbors"]
    assert marks(text_tab_url("20250101000000", page, q="harb* NOT talks")) == [
        "Harbors", "harbors"]  # a wildcard stands for the page's words; NOT is not marked
    assert client.get("/view/text/20250101000000/http://quirky.test/search?q=other"
                      ).status_code == 404
