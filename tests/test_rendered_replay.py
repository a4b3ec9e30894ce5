"""A browser crawl of the script-rendered sister site (civiscope.test), searched, compared,
watched and replayed as rendered: the words its script put on the page are found by search,
shown by the diff and the watched phrase, and by the capture view in Chromium, where no
archived script runs; pywb replays the page from the same WARCs."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update
from palimpsest.sample_network import SCRIPT_SITE, SampleNetwork, manifest, rendered_manifest
from palimpsest.sample_network.prose import plain
from palimpsest.sample_network.revisions import edition
from palimpsest.sample_network.snapshot import snapshot
from palimpsest.setup import write_config
from tests.conftest import PYWB, ROOT, crawl, crawl_ids, palimpsest, screenshot, serve_pywb

PORT_LEVY = "http://civiscope.test/figures/the-port-levy-in-five-lines/"
FIGURES = "http://civiscope.test/figures/"
EDITED_BEFORE = "under four percent in each of the last three years"
EDITED_AFTER = "just over five percent in the third"


@dataclass
class Rendered:
    collection: Collection
    crawls: list[str]  # revision 1's, then revision 2's


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """civiscope crawled with the browser at revision 1, then at revision 2, and indexed."""
    collection = Collection(tmp_path_factory.mktemp("rendered"))
    with SampleNetwork(revision=1) as network:
        write_config(collection, (), network.url, rendered=True)
        crawl(collection, "--browser", "--site", SCRIPT_SITE)
        network.set_revision(2)
        crawl(collection, "--browser", "--site", SCRIPT_SITE)
    update(collection)
    yield Rendered(collection, collection.crawl_ids())


def _search(collection: Collection, query: str) -> dict:
    done = palimpsest("search", "--collection", str(collection.root), "--json", "--limit",
                      "100", query)
    return json.loads(done.stdout)


def _article():
    (site,) = edition(1).rendered
    return next(a for a in site.articles if a.url == PORT_LEVY)


def test_the_catalog_ties_each_browser_capture_to_its_rendered_dom(rendered):
    with Catalog.open(rendered.collection) as catalog:
        captures = catalog.captures(PORT_LEVY)
        assert len(captures) == 2 and all(c.rendered for c in captures)
        # the shells are the same bytes in both revisions; what the script fetched is not
        assert captures[0].digest == captures[1].digest
        assert captures[0].dom_digest != captures[1].dom_digest
        (dom,) = [c for c in catalog.captures("urn:dom:" + PORT_LEVY)
                  if c.timestamp >= captures[1].timestamp]
        assert (dom.warc_file, dom.offset, dom.digest) == (
            captures[1].dom_file, captures[1].dom_offset, captures[1].dom_digest)
    # the urn: records stay catalogued, as cdxj-indexer lists them
    cdxj = palimpsest("cdxj", "--collection", str(rendered.collection.root)).stdout
    assert cdxj.count(f'"url": "urn:dom:{PORT_LEVY}"') == 2
    assert cdxj.count(f'"url": "urn:fullPage:{PORT_LEVY}"') == 2


def test_the_browser_crawl_s_warcs_hold_the_json_as_served_and_a_screenshot_per_page(rendered):
    first, second = crawl_ids(rendered.collection)
    for crawl_done in (first, second):
        done = subprocess.run([str(ROOT / ".venv/bin/warcio"), "check",
                               *map(str, crawl_done.warcs)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    records = first.records()
    served = snapshot(1).resources
    found = rendered_manifest(1)
    for url in found.endpoints:  # the first fetch of each: a response record, as served
        record = next(r for r in records if r.url == url and r.type == "response")
        coding = dict((k.lower(), v) for k, v in record.http_headers).get("content-encoding")
        assert record.status == 200 and coding in (None, "gzip"), url
        assert record.body == (served[url].gzipped() if coding else served[url].body), url
    pages = {r.headers["WARC-Record-ID"]: r.url for r in records
             if r.type in ("response", "revisit") and r.url in found.pages | found.script_only}
    assert set(pages.values()) == found.pages | found.script_only
    for kind in ("fullPage", "thumbnail"):
        shots = [r for r in records if r.url.startswith(f"urn:{kind}:")]
        assert all(r.type == "resource" and r.body.startswith(b"\x89PNG") for r in shots)
        tied = {pages.get(r.headers.get("WARC-Concurrent-To")) for r in shots}
        assert tied == set(pages.values()) and len(shots) == len(tied), kind  # one a page


def test_index_ties_pages_to_their_doms_for_the_files_it_reads_only(rendered, tmp_path):
    # a copy (times kept): the module's collection stays as it is
    copy = Collection(tmp_path / "copy")
    shutil.copytree(rendered.collection.root, copy.root)
    again = json.loads(palimpsest("index", "--collection", str(copy.root), "--json").stdout)
    assert (again["files"], again["renderings_examined"], again["renderings_tied"]) == (0, 0, 0)
    # one crawl's WARC file read again: only the DOMs of that file are examined and tied
    first_warc = next((copy.root / "crawls" / rendered.crawls[0]).glob("*.warc.gz"))
    stat = first_warc.stat()
    os.utime(first_warc, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    rel = first_warc.relative_to(copy.root).as_posix()
    with Catalog.open(copy) as catalog:
        doms = [c for c in catalog.captures_in_file(rel) if c.url.startswith("urn:dom:")]
        rendered_pages = sum(c.rendered for c in catalog.all_captures())
    assert doms and len(doms) < rendered_pages
    again = update(copy)
    assert again.files == 1
    assert again.renderings_examined == again.renderings_tied == len(doms)
    with Catalog.open(copy) as catalog:
        assert sum(c.rendered for c in catalog.all_captures()) == rendered_pages
        assert catalog.captures(PORT_LEVY)[0].dom_file == rel
        all_doms = len(catalog.query("urn:dom:", "prefix"))
    assert all_doms > len(doms)
    assert update(copy).renderings_examined == 0
    # a catalog of the version before (no pending files kept) looks at all its DOMs once
    with closing(sqlite3.connect(copy.derived_dir / "catalog.sqlite")) as db:
        db.executescript("DROP TABLE renderings_pending; PRAGMA user_version = 1")
    again = update(copy)
    assert (again.renderings_examined, again.renderings_tied) == (all_doms, 0)
    assert update(copy).renderings_examined == 0


def test_search_finds_the_words_only_the_script_put_on_the_page(rendered):
    found = rendered_manifest(1)
    (hidden,) = found.script_only
    # the article only the script links to, and a sentence only its JSON holds
    for query, page in ((f'"{" ".join(plain(_article().lede).split()[:8])}"', PORT_LEVY),
                        (f'"{EDITED_AFTER}"', PORT_LEVY)):
        answer = _search(rendered.collection, query)
        urls = {r["url"] for r in answer["results"]}
        assert page in urls, (query, answer)
        assert not [u for u in urls if u.startswith("urn:")], urls
    hidden_title = next(a.title for a in edition(1).rendered[0].articles if a.url == hidden)
    answer = _search(rendered.collection, f'"{hidden_title}"')
    assert hidden in {r["url"] for r in answer["results"]}
    # the disclosure line is in every footer, put there by script from site.json
    answer = _search(rendered.collection, f'"{manifest(1).disclosure}"')
    urls = {r["url"] for r in answer["results"]}
    assert PORT_LEVY in urls and all(u.startswith("http://civiscope.test/") for u in urls)
    assert not [u for u in urls if u.startswith("urn:")]


def test_the_diff_shows_the_sentence_edited_in_the_json(rendered):
    done = palimpsest("diff", "--collection", str(rendered.collection.root), "--json",
                      PORT_LEVY)
    diff = json.loads(done.stdout)
    before = " ".join(op["text"] for op in diff["text"] if op["op"] != "insert")
    after = " ".join(op["text"] for op in diff["text"] if op["op"] != "delete")
    assert EDITED_BEFORE in " ".join(before.split()) and EDITED_BEFORE not in after
    assert EDITED_AFTER in " ".join(after.split()) and EDITED_AFTER not in before
    assert diff["ratio"] > 0 and diff["changes"] >= 1


def test_the_watched_disclosure_disappears_from_civiscope_in_revision_2(rendered):
    done = palimpsest("watch", "--collection", str(rendered.collection.root), "--json",
                      "disclosure")
    history = json.loads(done.stdout)
    first, second = history["crawls"]
    assert PORT_LEVY in first["carrying"] and not second["carrying"]
    assert PORT_LEVY in {m["url"] for m in second["disappeared"]}
    report = json.loads(palimpsest("changes", "--collection", str(rendered.collection.root),
                                   "--json").stdout)
    changed = {c["url"] for c in report["changed"]}
    assert PORT_LEVY in changed and not [u for u in changed if u.startswith("urn:")]
    assert PORT_LEVY in {m["url"] for m in report["watch"]["disclosure"]["disappeared"]}


def catalog_captures(rendered: Rendered) -> list:
    with Catalog.open(rendered.collection) as catalog:
        return catalog.captures(PORT_LEVY)


def _words(article) -> list[str]:
    texts = (article.lede, *article.takeaways, *(p for _, p in article.parts),
             article.conclusion)
    return [" ".join(plain(t).split()) for t in texts]


@pytest.fixture(scope="module")
def ui(rendered) -> Iterator[str]:
    """The web UI over the rendered collection, on waitress, on an ephemeral loopback port."""
    import threading

    from waitress import create_server

    from web import create_app

    app = create_app({"COLLECTION": str(rendered.collection.root)})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def test_the_rendered_view_is_served_with_no_script_allowed(rendered):
    from web import create_app

    client = create_app({"COLLECTION": str(rendered.collection.root)}).test_client()
    with Catalog.open(rendered.collection) as catalog:
        first = catalog.captures(PORT_LEVY)[0]
    answer = client.get(f"/web/{first.timestamp}dom_/{PORT_LEVY}")
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox") and "allow-scripts" not in policy
    assert "script-src 'none'" in policy
    body = answer.get_data(as_text=True)
    assert _words(_article())[0] in " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    assert "<noscript" not in body  # the browser that rendered it showed none
    # links open the linked capture's view in the top window; a fragment stays in the frame
    assert f'href="/web/{first.timestamp}/{FIGURES}" target="_top"' in body
    assert 'href="#main" target="_self"' in body
    assert not re.search(r'<a [^>]*href="/web/\d{14}dom_/', body)
    view = client.get(f"/web/{first.timestamp}/{PORT_LEVY}").get_data(as_text=True)
    assert f'src="/web/{first.timestamp}dom_/{PORT_LEVY}"' in view
    assert 'sandbox="allow-popups allow-top-navigation-by-user-activation"' in view
    assert "allow-top-navigation-by-user-activation;" in policy
    assert f"/view/served/{first.timestamp}/" in view
    served = client.get(f"/view/served/{first.timestamp}/{PORT_LEVY}").get_data(as_text=True)
    assert f'src="/web/{first.timestamp}mp_/{PORT_LEVY}"' in served
    # the shells are the same bytes, the pages are not: the banner offers the diff
    second = catalog_captures(rendered)[1]
    later = client.get(f"/web/{second.timestamp}/{PORT_LEVY}").get_data(as_text=True)
    assert f"/diff/{first.timestamp}/{second.timestamp}/{PORT_LEVY}" in later
    # the text tab shows the text search found: the DOM's
    text = client.get(f"/view/text/{first.timestamp}/{PORT_LEVY}").get_data(as_text=True)
    assert _words(_article())[0] in " ".join(html.unescape(text).split())


def test_chromium_shows_the_article_as_rendered_and_runs_no_archived_script(rendered, ui,
                                                                            browser):
    with Catalog.open(rendered.collection) as catalog:
        first = catalog.captures(PORT_LEVY)[0]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(ui + "/")
    page.evaluate("() => { document.cookie = 'ours=1; path=/'; "
                  "localStorage.setItem('ours', '1') }")
    page.goto(f"{ui}/web/{first.timestamp}/{PORT_LEVY}")
    page.wait_for_load_state("networkidle")
    replay = page.locator("iframe.replay")
    assert replay.get_attribute("src") == f"/web/{first.timestamp}dom_/{PORT_LEVY}"
    assert "allow-scripts" not in replay.get_attribute("sandbox")
    frame = page.frame_locator("iframe.replay")
    shown = " ".join(frame.locator("main").inner_text().split())
    for sentence in _words(_article()):
        assert sentence in shown, sentence
    assert frame.locator("h1").first.inner_text() == _article().title
    # the disclosure the script wrote at capture time, once: the script did not run again
    assert frame.locator(".c-site-footer .disclosure").count() == 1
    assert "please enable it" not in shown  # no <noscript> notice either
    screenshot(page, "rendered-replay-article")
    # no archived script was even fetched, and none reached our origin
    assert not [u for u in asked if u.endswith("/assets/app.js")], asked
    assert page.evaluate("() => document.cookie") == "ours=1"
    assert page.evaluate("() => Object.keys(localStorage)") == ["ours"]
    assert re.fullmatch(rf"{ui}/web/{first.timestamp}/{re.escape(PORT_LEVY)}", page.url)
    # the page as served: the shell, whose script finds no JSON to fetch in the archive
    page.get_by_role("link", name=re.compile("As served")).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("iframe.replay").get_attribute("src") == (
        f"/web/{first.timestamp}mp_/{PORT_LEVY}")
    served = " ".join(page.frame_locator("iframe.replay").locator("main").inner_text().split())
    assert _words(_article())[0] not in served
    assert page.evaluate("() => document.cookie") == "ours=1"
    context.close()


def _banner(page) -> dict[str, str | None]:
    """What the capture banner says the frame shows: the URL, the time and thumbnail it
    links, the text tab, and the frame's own address."""
    banner = page.locator("section.banner")
    shot = banner.locator(".banner-shot img")
    return {"url": banner.locator(".url-title .url").inner_text(),
            "time": banner.locator("time").get_attribute("datetime"),
            "thumbnail": shot.get_attribute("src") if shot.count() else None,
            "text tab": banner.get_by_role("link", name="Extracted text").get_attribute("href"),
            "frame": page.locator("iframe.replay").get_attribute("src")}


def _banner_of(capture, modifier: str) -> dict[str, str | None]:
    return {"url": capture.url, "time": capture.to_json()["warc_date"],
            "thumbnail": f"/screenshot/thumbnail/{capture.timestamp}/{capture.url}",
            "text tab": f"/view/text/{capture.timestamp}/{capture.url}",
            "frame": f"/web/{capture.timestamp}{modifier}/{capture.url}"}


def test_a_link_followed_in_the_frame_brings_the_banner_of_the_page_it_opens(rendered, ui,
                                                                             browser):
    with Catalog.open(rendered.collection) as catalog:
        first = catalog.captures(PORT_LEVY)[0]
        figures = catalog.nearest(FIGURES, first.timestamp)
    assert figures.rendered
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    # as rendered: no script runs in the frame, the link itself opens the capture view
    # (and as served: the archive's frame script asks the capture view to open it)
    for start in (f"/web/{first.timestamp}/{PORT_LEVY}",
                  f"/view/served/{first.timestamp}/{PORT_LEVY}"):
        page.goto(ui + start)
        assert _banner(page)["url"] == PORT_LEVY
        frame = page.frame_locator("iframe.replay")
        with page.expect_navigation(url=f"{ui}/web/{figures.timestamp}/{FIGURES}"):
            frame.locator("nav a.c-nav-link", has_text="By the Numbers").click()
        assert _banner(page) == _banner_of(figures, "dom_"), start
        page.frame_locator("iframe.replay").locator("h1").first.wait_for()
    context.close()


def test_an_archived_page_cannot_make_the_banner_name_another_page(rendered, ui, browser):
    """Messages from the frame name at most a capture view to open, on a reader's click:
    the banner is always the server's, of the capture the frame then shows."""
    with Catalog.open(rendered.collection) as catalog:
        first = catalog.captures(PORT_LEVY)[0]
        about = catalog.nearest("http://civiscope.test/about/", first.timestamp)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    forgeries = [{"palimpsest": "open", "path": f"/web/{about.timestamp}/{about.url}"},
                 {"palimpsest": "open", "path": "https://evil.test/"},
                 {"palimpsest": "open", "path": "javascript:alert(1)//"},
                 {"palimpsest": "at", "path": "//evil.test/web/20260101000000/http://x.test/"},
                 {"palimpsest": "banner", "url": "http://evil.test/", "path": "/"}]
    post = "forged => forged.forEach(m => window.parent.postMessage(m, '*'))"
    # an archived script of the page as served posts them unprompted, round after round
    # once the page has loaded (each round said on the console, which the test reads
    # without running script in the page: that would count as a reader's action)
    context.add_init_script(f"""if (window.parent !== window && /mp_\\//.test(location.pathname))
        addEventListener('load', () => {{ let round = 0; const timer = setInterval(() => {{
            ({post})({json.dumps(forgeries)});
            console.log('forged ' + ++round); if (round === 5) clearInterval(timer) }}, 100) }})""")
    with page.expect_console_message(lambda m: m.text == "forged 5"):
        page.goto(f"{ui}/view/served/{first.timestamp}/{PORT_LEVY}")
    assert page.url == f"{ui}/view/served/{first.timestamp}/{PORT_LEVY}"
    assert _banner(page)["url"] == PORT_LEVY and page.locator("#frame-moved").is_hidden()
    frame = next(f for f in page.frames if f.url.endswith(f"mp_/{PORT_LEVY}"))
    # at a reader's click, an archived script may open another capture view: the banner is
    # that capture's, and so is the frame
    frame.evaluate("path => document.addEventListener('click', e => { e.preventDefault(); "
                   "e.stopImmediatePropagation(); window.parent.postMessage("
                   "{palimpsest: 'open', path: path}, '*') }, true)",
                   f"/web/{about.timestamp}/{about.url}")
    with page.expect_navigation(url=f"{ui}/web/{about.timestamp}/{about.url}"):
        page.frame_locator("iframe.replay").locator("h1").first.click()
    assert _banner(page) == _banner_of(about, "dom_")
    # the rendered view runs no script (so no archived one can post); even a message put
    # there by the browser's own debugger is not taken
    page.goto(f"{ui}/web/{first.timestamp}/{PORT_LEVY}")
    frame = next(f for f in page.frames if f.url.endswith(f"dom_/{PORT_LEVY}"))
    assert frame.evaluate("() => document.scripts.length") > 0  # the archived ones, inert
    frame.evaluate(post, forgeries)
    page.wait_for_timeout(300)
    assert page.url == f"{ui}/web/{first.timestamp}/{PORT_LEVY}"
    assert _banner(page) == _banner_of(first, "dom_")
    context.close()


@pytest.fixture(scope="module")
def pywb_server(rendered, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pywb's own server over the rendered collection's WARC files."""
    if not PYWB.exists():
        pytest.skip("pywb venv not installed (make test installs it)")
    with serve_pywb(list(rendered.collection.warc_files()),
                    tmp_path_factory.mktemp("pywb-rendered"), "civiscope.test/") as server:
        yield server.base


def test_pywb_replays_the_browser_captured_page_from_our_warcs(rendered, pywb_server):
    with Catalog.open(rendered.collection) as catalog:
        first = catalog.captures(PORT_LEVY)[0]
    for url in (PORT_LEVY, "http://civiscope.test/api/articles/the-port-levy-in-five-lines.json"):
        with urllib.request.urlopen(f"{pywb_server}/{first.timestamp}id_/{url}",
                                    timeout=30) as answer:
            assert answer.status == 200, url
            body = answer.read()
        assert (b"data-article" in body) if url == PORT_LEVY else (b"percent" in body)
    # replayed in pywb's frame, rewritten by pywb: its wombat replays the script's fetches
    with urllib.request.urlopen(f"{pywb_server}/{first.timestamp}mp_/{PORT_LEVY}",
                                timeout=30) as answer:
        assert answer.status == 200
        assert _article().title.encode() in answer.read()


def test_pywb_replays_the_words_the_script_fetched_in_chromium(rendered, pywb_server, browser):
    with Catalog.open(rendered.collection) as catalog:
        first = catalog.captures(PORT_LEVY)[0]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    answered: dict[str, int] = {}
    page.on("response", lambda r: answered.__setitem__(r.url, r.status))
    # in pywb's frame, its client-side rewriting (wombat) answers the archived script's fetch()
    page.goto(f"{pywb_server}/{first.timestamp}/{PORT_LEVY}", wait_until="commit")
    frame = page.frame_locator("iframe#replay_iframe")
    frame.locator("[data-article][data-rendered]").wait_for(timeout=20000)
    shown = " ".join(frame.locator("main").inner_text().split())
    for sentence in _words(_article()):
        assert sentence in shown, sentence
    json_url = "civiscope.test/api/articles/the-port-levy-in-five-lines.json"
    assert [s for u, s in answered.items() if u.endswith(json_url)] == [200], answered
    context.close()
