"""The sample network's script-rendered sister site (civiscope.test), as a crawler and a
browser reach it through the proxy: shells without the words, JSON with them, images only the
script asks for, and revisions that change only what the script fetches."""

from __future__ import annotations

import gzip
import html
import json
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from index.collection import Collection
from index.config import Site as ConfigSite
from index.config import load_config
from palimpsest.sample_network import (
    SCRIPT_SITE,
    SITES,
    SampleNetwork,
    manifest,
    rendered_changes,
    rendered_manifest,
)
from palimpsest.sample_network.prose import plain
from palimpsest.sample_network.revisions import edition
from palimpsest.sample_network.sites import Article
from palimpsest.sample_network.snapshot import snapshot
from palimpsest.setup import write_config
from tests.conftest import ARTIFACTS, crawl, crawl_ids
from tests.test_sample_network import KB, fetch, links

PORT_LEVY = "http://civiscope.test/figures/the-port-levy-in-five-lines/"
PORT_LEVY_JSON = "http://civiscope.test/api/articles/the-port-levy-in-five-lines.json"
BALLOTS_JSON = "http://civiscope.test/api/articles/counting-ballots-in-orvane.json"
SITE_JSON = "http://civiscope.test/api/site.json"
_TAG = re.compile(r"<[^>]+>")
# write_config(rendered=True) writes capture = "browser", which only a config with the per-site
# capture option loads.
_NO_CAPTURE_OPTION = "capture" not in {f.name for f in fields(ConfigSite)}
needs_capture_option = pytest.mark.skipif(
    _NO_CAPTURE_OPTION, reason="index/config.py has no per-site capture option yet")


@pytest.fixture(scope="module")
def network() -> Iterator[SampleNetwork]:
    with SampleNetwork(revision=1) as net:
        yield net


def _articles(revision: int = 1) -> tuple[Article, ...]:
    (site,) = edition(revision).rendered
    return site.articles


def _words(article: Article) -> list[str]:
    """Sentences of the article's own prose, as a reader sees them (links reduced to text)."""
    texts = (article.lede, *article.takeaways, *(p for _, p in article.parts),
             article.conclusion)
    return [plain(t) for t in texts]


def _visible(body: bytes) -> str:
    """All text of an HTML document or fragment, markup and entities undone."""
    return html.unescape(_TAG.sub(" ", body.decode()))


def _json_text(data: object) -> str:
    """Every string in a JSON value, HTML fragments reduced to their text."""
    if isinstance(data, str):
        return html.unescape(_TAG.sub("", data))
    if isinstance(data, dict):
        return "\n".join(_json_text(v) for v in data.values())
    if isinstance(data, list):
        return "\n".join(_json_text(v) for v in data)
    return ""


def test_shells_carry_the_frame_but_not_the_article_words(network: SampleNetwork) -> None:
    found = rendered_manifest(1)
    assert found.site == SCRIPT_SITE and found.seed == "http://civiscope.test/"
    shells = {a.url: a for a in _articles()}
    assert set(shells) <= found.pages | found.script_only
    for url, article in shells.items():
        status, headers, body = fetch(network.url, url)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert 20 * KB <= len(body) <= 60 * KB, (url, len(body))
        assert b'<script src="/assets/app.js" defer></script>' in body
        assert f'data-article="/api/articles/{article.slug}.json"'.encode() in body
        text = _visible(body)
        for sentence in _words(article):
            assert sentence not in text, (url, sentence)
        # the network's navigation: every sister's home page, in the bar and the footer
        assert {seed for _, seed in SITES} <= links(url, body)
        # no link leads a plain crawler to the JSON: only the script asks for it
        assert not [u for u in links(url, body) if "/api/" in u], url


def test_the_json_endpoints_hold_the_words(network: SampleNetwork) -> None:
    found = rendered_manifest(1)
    for article in _articles():
        url = f"http://civiscope.test/api/articles/{article.slug}.json"
        assert url in found.endpoints
        status, headers, body = fetch(network.url, url)
        assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
        data = json.loads(body)
        assert data["title"] == article.title and data["url"] == article.url
        text = _json_text(data)
        for sentence in _words(article):
            assert sentence in text, (url, sentence)
        zipped = fetch(network.url, url, {"Accept-Encoding": "gzip"})
        assert zipped[1]["Content-Encoding"] == "gzip" and gzip.decompress(zipped[2]) == body
    # the script-rendered articles cross-link to the sisters, as the plain sites do
    sisters = {urlsplit(seed).hostname for _, seed in SITES}
    outside = set()
    for endpoint in found.endpoints - {SITE_JSON}:
        for fragment in re.findall(r'href=\\"([^"\\]+)', fetch(network.url, endpoint)[2].decode()):
            outside.add(urlsplit(fragment).hostname)
    assert len(outside & sisters) >= 2


def test_an_article_only_the_script_links_to(network: SampleNetwork) -> None:
    found = rendered_manifest(1)
    (hidden,) = found.script_only
    assert hidden not in found.pages
    assert fetch(network.url, hidden)[0] == 200
    latest = json.loads(fetch(network.url, SITE_JSON)[2])["latest"]
    assert f"http://civiscope.test{latest[0]['url']}" == hidden  # the newest
    sitemap = fetch(network.url, "http://civiscope.test/sitemap.xml")[2].decode()
    assert hidden not in sitemap
    for page in found.pages:
        assert hidden not in links(page, fetch(network.url, page)[2]), page


def test_the_json_changes_between_revisions_as_the_manifest_says() -> None:
    first, second, third = (rendered_manifest(r) for r in (1, 2, 3))
    assert first.pages == second.pages == third.pages
    assert rendered_changes(1, 2).changed == {PORT_LEVY_JSON, SITE_JSON}
    assert rendered_changes(2, 3).changed == {BALLOTS_JSON, SITE_JSON}
    for diff in (rendered_changes(1, 2), rendered_changes(2, 3)):
        assert not diff.added and not diff.removed
        assert first.pages <= diff.unchanged  # the shells: a plain crawl sees no change
    with SampleNetwork(revision=1) as net:
        shells = {url: fetch(net.url, url)[2] for url in first.pages}
        before = _json_text(json.loads(fetch(net.url, PORT_LEVY_JSON)[2]))
        net.set_revision(2)
        after = _json_text(json.loads(fetch(net.url, PORT_LEVY_JSON)[2]))
        assert "under four percent in each of the last three years" in before
        assert "under four percent in each of the last three years" not in after
        assert "just over five percent in the third" in after
        assert {url: fetch(net.url, url)[2] for url in first.pages} == shells
        net.set_revision(3)
        assert "forty-one ballots" in _json_text(json.loads(fetch(net.url, BALLOTS_JSON)[2]))


def test_the_disclosure_is_only_in_what_the_script_fetches() -> None:
    line = manifest(1).disclosure
    for revision, shown in ((1, True), (2, False), (3, True)):
        found = rendered_manifest(revision)
        assert found.disclosure == (line if shown else None)
        with SampleNetwork(revision=revision) as net:
            assert json.loads(fetch(net.url, SITE_JSON)[2])["disclosure"] == found.disclosure
            for url in found.pages | found.script_only:
                assert line not in html.unescape(fetch(net.url, url)[2].decode()), url
            script = fetch(net.url, "http://civiscope.test/assets/app.js")[2].decode()
            assert '"c-disclosure disclosure"' in script and "site.disclosure" in script
    # the five sisters carry the line in plain HTML, and civiscope's change is not theirs
    assert manifest(2).disclosure_sites == {name for name, _ in SITES} - {"allyvia"}


def test_script_and_lazy_images_answer_with_real_images(network: SampleNetwork) -> None:
    found = rendered_manifest(1)
    assert len(found.script_images) == len(_articles())
    maps = {u for u in found.lazy_images if u.endswith("-map.png")}
    charts = {u for u in found.lazy_images if u.endswith("-chart.png")}
    assert len(maps) == len(charts) == len(_articles())
    shells = b"".join(fetch(network.url, u)[2] for u in found.pages | found.script_only)
    for url in found.script_images | found.lazy_images:
        status, headers, body = fetch(network.url, url)
        assert status == 200 and headers["Content-Type"] == "image/png", url
        assert body.startswith(b"\x89PNG\r\n\x1a\n") and body.endswith(b"IEND\xaeB`\x82")
        assert 20 * KB <= len(body) <= 60 * KB, (url, len(body))
    for url in found.script_images | charts:  # named only in the JSON
        assert urlsplit(url).path.encode() not in shells, url
    for url in maps:  # named in the shell, but for the script: no src a plain crawl follows
        path = urlsplit(url).path
        assert f'data-lazy-src="{path}"'.encode() in shells
        assert re.search(rb'\ssrc="' + re.escape(path.encode()) + b'"', shells) is None


def test_the_rendered_site_is_opt_in(tmp_path: Path, network: SampleNetwork) -> None:
    assert SCRIPT_SITE not in {name for name, _ in SITES}
    for revision in (1, 2, 3):  # the five sites neither link to it nor name it
        found, snap = manifest(revision), snapshot(revision)
        assert not any("civiscope" in url for url in found.pages | found.requisites)
        assert not any(b"civiscope" in snap.resources[url].body.lower() for url in found.pages)
    plain_config = load_config(write_config(Collection(tmp_path / "plain"), (), network.url))
    assert [s.name for s in plain_config.sites] == [name for name, _ in SITES]
    if _NO_CAPTURE_OPTION:
        pytest.skip("index/config.py has no per-site capture option yet")
    config = load_config(write_config(Collection(tmp_path / "rendered"), (), network.url,
                                      rendered=True))
    captures = {s.name: s.capture for s in config.sites}
    assert captures == {**{name: "plain" for name, _ in SITES}, SCRIPT_SITE: "browser"}


@needs_capture_option
def test_a_plain_crawl_gets_the_shells_and_misses_what_the_script_fetches(
        tmp_path: Path, network: SampleNetwork) -> None:
    collection = Collection(tmp_path)
    path = write_config(collection, (), network.url, rendered=True)
    # the same site configured for a plain crawl (whatever the crawler's browser mode does)
    path.write_text(path.read_text().replace('capture = "browser"\n', ""))
    crawl(collection, "--site", SCRIPT_SITE)
    (done,) = crawl_ids(collection)
    fetched = {r.url for r in done.records() if r.type == "response"}
    found = rendered_manifest(1)
    assert found.pages <= fetched
    missed = found.script_only | found.endpoints | found.script_images
    missed |= {u for u in found.lazy_images if u.endswith(("-chart.png", "-map.png"))}
    assert not missed & fetched, sorted(missed & fetched)


@needs_capture_option
def test_a_browser_crawl_records_everything_the_script_fetches(
        tmp_path: Path, network: SampleNetwork) -> None:
    collection = Collection(tmp_path)
    write_config(collection, (), network.url, rendered=True)
    crawl(collection, "--site", SCRIPT_SITE)
    (done,) = crawl_ids(collection)
    # the first fetch of a URL is a response record; later ones (site.json, fetched by every
    # page) may be revisits
    records = {}
    for record in done.records():
        if record.type == "response":
            records.setdefault(record.url, record)
    found = rendered_manifest(1)
    wanted = (found.pages | found.script_only | found.endpoints | found.script_images
              | found.lazy_images)
    assert not wanted - set(records), sorted(wanted - set(records))
    for url in found.endpoints:  # the JSON as served, content-encoding and all
        record = records[url]
        encoding = dict((k.lower(), v) for k, v in record.http_headers).get("content-encoding")
        served = fetch(network.url, url, {"Accept-Encoding": "gzip"} if encoding else None)[2]
        assert record.body == served, url


def test_chromium_shows_what_the_script_fetched(browser) -> None:
    article = next(a for a in _articles() if a.url == PORT_LEVY)
    line = manifest(1).disclosure
    with SampleNetwork(revision=1) as net:
        context = browser.new_context(proxy={"server": net.url},
                                      viewport={"width": 1200, "height": 900})
        page = context.new_page()
        answered: dict[str, int] = {}
        page.on("response", lambda r: answered.__setitem__(r.url, r.status))
        page.goto(PORT_LEVY)
        page.wait_for_selector("[data-article][data-rendered]", timeout=15000)
        page.wait_for_selector(".c-site-footer[data-rendered]", timeout=15000)
        page.wait_for_function("() => document.querySelector('.c-hero img')?.complete",
                               timeout=15000)
        text = page.inner_text("main")
        for sentence in _words(article):
            assert " ".join(sentence.split()) in " ".join(text.split()), sentence
        assert page.inner_text(".c-site-footer .disclosure") == line
        assert page.inner_text("h1") == article.title
        found = rendered_manifest(1)
        photo = next(u for u in found.script_images if article.slug in u)
        chart, map_url = (next(u for u in found.lazy_images if u.endswith(f"{article.slug}{x}"))
                          for x in ("-chart.png", "-map.png"))
        assert answered.get(photo) == 200 and answered.get(PORT_LEVY_JSON) == 200
        assert map_url not in answered  # below the fold: not before the reader scrolls
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "rendered-site-article-top.png"))
        for _ in range(10):
            page.mouse.wheel(0, 900)
            page.wait_for_timeout(150)
        page.wait_for_function(
            "() => [...document.images].filter(i => /-(chart|map)\\.png$/.test(i.src))"
            ".every(i => i.complete && i.naturalWidth > 0)", timeout=15000)
        assert answered.get(chart) == 200 and answered.get(map_url) == 200
        page.screenshot(path=str(ARTIFACTS / "rendered-site-article.png"), full_page=True)

        page.goto("http://civiscope.test/")
        page.wait_for_selector("[data-latest][data-rendered]", timeout=15000)
        (hidden,) = found.script_only
        hrefs = page.eval_on_selector_all("[data-latest] a", "els => els.map(e => e.href)")
        assert hidden in hrefs
        page.screenshot(path=str(ARTIFACTS / "rendered-site-home.png"), full_page=True)

        context.close()
        # Revision 2 drops the disclosure from site.json: the footer loses it. A new context,
        # as a new crawl has: the responses carry no Cache-Control, so a browser may reuse them.
        net.set_revision(2)
        context = browser.new_context(proxy={"server": net.url})
        page = context.new_page()
        page.goto(PORT_LEVY)
        page.wait_for_selector("[data-article][data-rendered]", timeout=15000)
        page.wait_for_selector(".c-site-footer[data-rendered]", timeout=15000)
        assert page.locator(".c-site-footer .disclosure").count() == 0
        assert "just over five percent in the third" in page.inner_text("main")
        context.close()
