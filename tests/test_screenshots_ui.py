"""Screenshots in the UI, in a real headless Chromium: the script-rendered site (civiscope)
crawled with the browser at revision 1 and 2, beside a plainly crawled site (allyvia). Each
browser capture has its thumbnail on the timeline and in the capture banner; the diff page
shows both full-page screenshots and an overlay of where they differ; the change report sorts
civiscope's changed pages by the share of their pixels that differ; and a page without
screenshots works as before everywhere. Screenshots go to tests/artifacts/issue13/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from index.catalog import Catalog
from index.collection import Collection
from index.compare.visual import visual_diff
from index.indexer import update
from palimpsest.sample_network import SampleNetwork
from palimpsest.setup import write_config
from tests.conftest import ARTIFACTS, PHONE, crawl, screenshot

PORT_LEVY = "http://civiscope.test/figures/the-port-levy-in-five-lines/"
ABOUT = "http://allyvia.test/about/"  # plainly crawled: no screenshots; loses a line in rev. 2


@dataclass
class Served:
    collection: Collection
    base: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """civiscope (capture = "browser", as --browser would) and allyvia (plain) crawled
    together at revision 1, then at revision 2, indexed, and the web UI over them."""
    from waitress import create_server

    from web import create_app

    collection = Collection(tmp_path_factory.mktemp("screenshots"))
    with SampleNetwork(revision=1) as network:
        write_config(collection, (), network.url, rendered=True)
        for revision in (1, 2):
            network.set_revision(revision)
            crawl(collection, "--site", "civiscope", "--site", "allyvia")
    update(collection)
    app = create_app({"COLLECTION": str(collection.root)})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield Served(collection, f"http://127.0.0.1:{server.effective_port}")
    server.close()


def shot(page, name: str) -> Path:
    (ARTIFACTS / "issue13").mkdir(parents=True, exist_ok=True)
    return screenshot(page, f"issue13/{name}")


def pages_of(served: Served, url: str) -> list:
    """The captures of `url` that are pages (not its resources), oldest first."""
    with Catalog.open(served.collection) as catalog:
        return [c for c in catalog.captures(url) if c.record_type in ("response", "revisit")]


def loaded(page, selector: str) -> list[int]:
    """The natural widths of the images `selector` finds, once each has loaded (or failed)."""
    for image in page.locator(selector).all():
        image.scroll_into_view_if_needed()
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete)", arg=selector,
        timeout=15000)
    return page.eval_on_selector_all(selector, "els => els.map(e => e.naturalWidth)")


def test_the_timeline_shows_a_thumbnail_of_each_browser_capture(served, desktop, phone):
    for page, name in ((desktop, "timeline-desktop"), (phone, "timeline-phone")):
        page.goto(f"{served.base}/web/*/{PORT_LEVY}")
        widths = loaded(page, "table.timeline td.thumb img")
        assert len(widths) == len(pages_of(served, PORT_LEVY)) == 2
        assert all(w == 320 for w in widths), widths  # the thumbnail record, 320 px wide
        shot(page, name)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_capture_banner_shows_the_thumbnail_and_links_the_full_page(served, desktop):
    latest = pages_of(served, PORT_LEVY)[-1]
    desktop.goto(f"{served.base}/web/{latest.timestamp}/{PORT_LEVY}")
    (width,) = loaded(desktop, ".banner .banner-shot img")
    assert width == 320
    shot(desktop, "capture-banner-desktop")
    full = desktop.get_attribute(".banner .banner-shot", "href")
    answer = desktop.request.get(served.base + full)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    # archived content, as every capture is: sandboxed, never sniffed
    assert answer.headers["content-security-policy"].startswith("sandbox")
    assert answer.headers["x-content-type-options"] == "nosniff"
    image = Image.open(BytesIO(answer.body()))
    assert image.width > 320 and image.height > 900  # the whole page, not its top


def test_the_diff_page_shows_both_screenshots_and_where_they_differ(served, desktop, phone):
    a, b = pages_of(served, PORT_LEVY)
    for page, name in ((desktop, "diff-visual-desktop"), (phone, "diff-visual-phone")):
        page.goto(f"{served.base}/diff/{a.timestamp}/{b.timestamp}/{PORT_LEVY}")
        widths = loaded(page, "#visual figure img")
        assert len(widths) == 3 and all(widths), widths  # before, after, the overlay
        # each box scrolled to where the screenshots begin to differ (the edited paragraph)
        scrolled = page.eval_on_selector_all("#visual figure a", "els => els.map(e => e.scrollTop)")
        assert all(y > 0 for y in scrolled), scrolled
        page.locator("#visual").scroll_into_view_if_needed()
        shot(page, name)
    overlay = desktop.get_attribute("#visual .shot-overlay img", "src")
    answer = desktop.request.get(served.base + overlay)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["content-security-policy"].startswith("sandbox")
    assert Image.open(BytesIO(answer.body())).width <= 800  # bounded
    assert "of the pixels differ" in desktop.inner_text("#visual h2")
    assert desktop.locator("#summary a[href='#visual']").count() == 1


def test_the_change_report_sorts_civiscopes_changed_pages_by_visual_change(served, desktop):
    desktop.goto(f"{served.base}/changes?sort=visual")
    rows = desktop.locator("#site-civiscope li.changed")
    urls = rows.evaluate_all("els => els.map(e => e.querySelector('.url').textContent)")
    shown = rows.evaluate_all("els => els.map(e => parseFloat(e.dataset.visual))")
    assert len(urls) >= 2
    # the shares as computed from the archived screenshots, pair by pair
    with Catalog.open(served.collection) as catalog:
        computed = {}
        for url in urls:
            a, b = pages_of(served, url)[-2:]
            shots = catalog.page_resources([a, b], "fullPage")
            computed[url] = visual_diff(served.collection, shots[a.id], shots[b.id]).share
    assert shown == [computed[u] for u in urls]
    assert urls == sorted(urls, key=lambda u: -computed[u])
    assert desktop.locator("select#sort option[selected]").get_attribute("value") == "visual"
    assert desktop.locator("#site-civiscope .visual-share").count() == len(urls)
    desktop.locator("#site-civiscope").scroll_into_view_if_needed()
    shot(desktop, "changes-by-visual-desktop")
    api = desktop.request.get(f"{served.base}/api/changes?sort=visual").json()
    assert [e["url"] for e in api["changed"] if e["site"] == "civiscope"] == urls


def test_a_page_without_screenshots_works_everywhere(served, desktop):
    a, b = pages_of(served, ABOUT)
    desktop.goto(f"{served.base}/web/*/{ABOUT}")
    assert desktop.locator("table.timeline tbody tr").count() == 2
    assert desktop.locator("table.timeline td.thumb").count() == 0
    desktop.goto(f"{served.base}/web/{b.timestamp}/{ABOUT}")
    assert desktop.locator(".banner").count() == 1
    assert desktop.locator(".banner-shot").count() == 0
    answer = desktop.goto(f"{served.base}/diff/{a.timestamp}/{b.timestamp}/{ABOUT}")
    assert answer.status == 200 and desktop.locator("#visual").count() == 0
    assert desktop.locator("#summary").is_visible()
    for path in (f"/screenshot/thumbnail/{b.timestamp}/{ABOUT}",
                 f"/diff/overlay/{a.timestamp}/{b.timestamp}/{ABOUT}"):
        assert desktop.request.get(served.base + path).status == 404, path
    report = desktop.request.get(f"{served.base}/api/changes?sort=visual").json()
    changed = [e for e in report["changed"] if e["site"] == "allyvia"]
    assert changed and all(e["visual"] is None for e in changed)
    # pages without screenshots follow those with, by the share of their words changed
    firsts = [e["visual"] is None for e in report["changed"]]
    assert firsts == sorted(firsts)
    assert desktop.goto(f"{served.base}/changes?sort=visual").status == 200
    assert desktop.goto(f"{served.base}/changes?sort=sideways").status == 400
