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


def test_following_a_link_in_the_archived_page_opens_its_capture_view(web_server, page):
    page.goto(f"{web_server}/web/2100/http://allyvia.test/")
    frame = page.frame_locator("iframe.replay")
    frame.get_by_role("link", name="About").first.click()
    page.wait_for_url(re.compile(r"/web/\d{14}/http://allyvia\.test/about/$"))
    assert page.locator(".banner .url").inner_text() == "http://allyvia.test/about/"
    frame.locator("h1").first.wait_for()
    assert "About" in frame.locator("h1").first.inner_text()
    screenshot(page, "capture-followed-link")


def test_hostile_archived_scripts_run_none_of_their_attacks_in_our_origin(web_server, page):
    hostile = manifest(1).hostile_page
    page.goto(web_server + "/")
    page.evaluate("() => { document.cookie = 'ours=1; path=/'; localStorage.setItem('ours', '1') }")
    # the page tries to navigate the top window 200 ms after it loads: wait until Chromium
    # has refused it (the sandbox has no allow-top-navigation)
    with page.expect_console_message(lambda m: "allow-top-navigation" in m.text):
        page.goto(f"{web_server}/web/2100/{hostile}")
        page.wait_for_load_state("networkidle")
        # a reader's click in the page gives it no more power (no top navigation on activation)
        page.frame_locator("iframe.replay").locator("h1").first.click()
    screenshot(page, "hostile-page")
    assert re.fullmatch(rf"{web_server}/web/\d{{14}}/{re.escape(hostile)}", page.url)
    assert "PWNED" not in page.title()
    assert page.locator("#pwned-marker").count() == 0
    assert page.evaluate("() => document.body.dataset.pwned") is None
    assert "stolen" not in page.evaluate("() => document.cookie")
    assert page.evaluate("() => Object.keys(localStorage)") == ["ours"]
    # the archived document itself is served sandboxed, whoever opens it
    answer = page.request.get(f"{web_server}/web/2100mp_/{hostile}", max_redirects=5)
    assert answer.headers["content-security-policy"].startswith("sandbox")


def test_pages_fit_a_narrow_screen_and_work_from_the_keyboard(web_server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{web_server}/search?q=security")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
        for path, name in [("/search?q=security", "narrow-search"),
                           ("/web/*/http://allyvia.test/", "narrow-timeline"),
                           ("/web/2100/http://allyvia.test/", "narrow-capture")]:
            page.goto(web_server + path)
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth")
            screenshot(page, name)
            assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
    finally:
        context.close()
