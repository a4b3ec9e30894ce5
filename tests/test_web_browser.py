"""The web UI in a real headless Chromium: search, filter, open, replay, timeline; and an
archived page's hostile scripts kept out of the archive's origin."""

from __future__ import annotations

import re

from palimpsest.sample_network import manifest
from tests.conftest import screenshot


def test_search_filter_open_replay_and_walk_to_the_timeline(web_server, page):
    page.goto(web_server + "/")
    page.get_by_label("Search the network's text").fill('"partners summit"')
    page.get_by_role("button", name="Search").click()
    assert page.locator(".hit").count() >= 1
    page.locator("select[name=site]").select_option("allyvia")
    page.get_by_role("button", name="Search").click()
    sites = page.locator(".hit .meta").all_inner_texts()
    assert sites and all("allyvia" in s for s in sites)
    assert page.locator(".hit mark").count() >= 1
    screenshot(page, "search-filtered")

    page.locator(".hit h3 a").first.click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"/web/\d{14}/http://allyvia\.test/", page.url)
    assert page.locator(".banner").inner_text().count("Captured") == 1
    frame = page.frame_locator("iframe.replay")
    frame.locator("h1").first.wait_for()
    images = frame.locator("img")
    assert images.count() >= 1
    # images and styles came from the archive: images decoded, the stylesheet applied
    loaded = frame.locator("body").evaluate(
        "() => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
    assert loaded >= 1
    font = frame.locator("body").evaluate("b => getComputedStyle(b).fontFamily")
    assert "Times" not in font and font
    screenshot(page, "capture-replayed")

    page.get_by_role("link", name=re.compile(r"all \d+ captures")).click()
    assert "/web/*/" in page.url
    assert page.locator("table.timeline tbody tr").count() >= 2
    screenshot(page, "timeline")


def test_hostile_archived_scripts_run_none_of_their_attacks_in_our_origin(web_server, page):
    hostile = manifest(1).hostile_page
    page.goto(web_server + "/")
    page.evaluate("() => { document.cookie = 'ours=1; path=/'; localStorage.setItem('ours', '1') }")
    page.goto(f"{web_server}/web/2100/{hostile}")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # the page tries to navigate the top window after 200 ms
    screenshot(page, "hostile-page")
    assert page.url.startswith(web_server + "/web/")
    assert "PWNED" not in page.title()
    assert page.locator("#pwned-marker").count() == 0
    assert page.evaluate("() => document.body.dataset.pwned") is None
    assert "stolen" not in page.evaluate("() => document.cookie")
    assert page.evaluate("() => Object.keys(localStorage)") == ["ours"]
    # the archived document itself is served sandboxed, whoever opens it
    answer = page.request.get(f"{web_server}/web/2100mp_/{hostile}", max_redirects=5)
    assert answer.headers["content-security-policy"].startswith("sandbox")


def test_from_the_timeline_to_a_diff_in_both_views(web_server, page):
    edited = "http://cognitura.test/psychology/the-certainty-trap/"
    page.goto(f"{web_server}/web/*/{edited}")
    changed = page.locator("table.timeline tr.changed")
    assert changed.count() >= 1
    assert re.search(r"changed \(\d+\.\d% of the text\)", changed.first.inner_text())
    changed.first.get_by_role("link", name="diff").click()
    page.wait_for_load_state()
    assert "/diff/" in page.url
    deleted = page.locator("#inline del", has_text="The simplicity is the point.")
    assert deleted.is_visible()
    assert deleted.evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
    assert "%" in page.locator(".summary").inner_text()
    page.locator("#inline del").first.scroll_into_view_if_needed()
    screenshot(page, "diff-inline")
    page.get_by_role("link", name="Side by side").click()
    side = page.locator("#side-by-side tr.change del", has_text="The simplicity is the point.")
    side.scroll_into_view_if_needed()
    assert side.is_visible()
    screenshot(page, "diff-side-by-side")
    page.get_by_label("Changes only").check()
    assert not page.locator("#inline .same").first.is_visible()
    assert page.locator(".receipt").inner_text().count("sha1:") >= 2


def test_change_report_page_has_a_section_per_site(web_server, page):
    page.goto(f"{web_server}/changes")
    assert page.locator("section.site-changes h2").count() >= 4
    assert "Disappeared from" in page.locator(".watch-summary").inner_text()
    screenshot(page, "change-report")
