"""`palimpsest crawl --browser`: a script-rendered site crawled for real in headless Chromium,
every request the browser made recorded on the wire, the rendered DOM and screenshots kept.

The site is an HTML shell whose words arrive by fetch() of a gzip-encoded JSON endpoint; its
script adds an image and a link; a lazy-loaded image sits far below the fold; a page loops in
script forever. It is crawled twice (per-site `capture = "browser"`, then `--browser`).
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import signal
import struct
import subprocess
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from index.config import load_config
from tests.conftest import ROOT, CrawledCrawl, Record, palimpsest, run_coroutine
from tests.hostile_server import HostileServer, crawl_sites, page
from tests.test_warc_format import _as_warc_1_0

WORDS = "Palimpsest heard these words only because the script fetched them"
WORDS_JSON = gzip.compress(json.dumps({"words": WORDS}).encode(), mtime=0)

SHELL = """<!doctype html><html><head><title>shell</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main id="words">loading</main>
<div style="height: 6000px">spacer</div>
<img loading="lazy" src="/lazy.png" alt="far below" width="10" height="10">
<script src="/app.js"></script>
<a href="/loop.html">a page that never finishes</a>
</body></html>"""

APP = """fetch('/api/words.json').then(r => r.json()).then(data => {
  document.getElementById('words').textContent = data.words;
  const img = document.createElement('img');
  img.src = '/scripted.png';
  document.body.appendChild(img);
  const a = document.createElement('a');
  a.href = '/only-script-links-here.html';
  a.textContent = 'more';
  document.body.appendChild(a);
});"""

LOOP = "<html><body><p>busy</p><script>for (;;) {}</script></body></html>"


def _png(width: int = 10, height: int = 10) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG, LAZY_PNG = _png(), _png(12, 12)


def _served(server: HostileServer) -> None:
    server.route("/", page(SHELL))
    server.route("/style.css", page("body { font-family: serif }", content_type="text/css"))
    server.route("/app.js", page(APP, content_type="application/javascript"))
    server.route("/api/words.json", lambda ex: ex.send(
        200, WORDS_JSON, "application/json", headers={"Content-Encoding": "gzip"}))
    server.route("/scripted.png", lambda ex: ex.send(200, PNG, "image/png"))
    server.route("/lazy.png", lambda ex: ex.send(200, LAZY_PNG, "image/png"))
    server.route("/only-script-links-here.html",
                 page("<html><body><p>reached by the script's link</p></body></html>"))
    server.route("/loop.html", page(LOOP))


@dataclass
class BrowserCrawls:
    server: HostileServer
    first: CrawledCrawl
    second: CrawledCrawl
    hits_after_first: Counter
    config_text: str


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> BrowserCrawls:
    root = tmp_path_factory.mktemp("browser")
    with HostileServer() as server:
        _served(server)
        palimpsest("init", "--collection", str(root), "--site", f"app={server.url('/')}",
                   "--browser")
        config_text = (root / "palimpsest.toml").read_text()
        first, _ = crawl_sites(root, {}, timeout=5, init=False)  # capture = "browser"
        hits = Counter(server.hits)
        second, _ = crawl_sites(root, {}, "--browser", timeout=5, init=False)
        yield BrowserCrawls(server, first, second, hits, config_text)


def _url(crawls: BrowserCrawls, path: str) -> str:
    return crawls.server.url(path)


def _of(records: list[Record], url: str, kind: str) -> list[Record]:
    return [r for r in records if r.url == url and r.type == kind]


def test_init_browser_writes_capture_browser_for_the_site(crawls, tmp_path):
    assert '\ncapture = "browser"\n' in crawls.config_text
    path = tmp_path / "palimpsest.toml"
    path.write_text(crawls.config_text)
    assert load_config(path).sites[0].capture == "browser"


def test_fetched_json_is_in_the_warc_byte_for_byte_as_served(crawls):
    records = crawls.first.records()
    (response,) = _of(records, _url(crawls, "/api/words.json"), "response")
    assert response.body == WORDS_JSON  # still gzip: Content-Encoding kept
    assert ("Content-Encoding", "gzip") in response.http_headers
    assert response.head == "HTTP/1.1 200 X"  # the server's own reason phrase
    (request,) = _of(records, _url(crawls, "/api/words.json"), "request")
    assert request.head.startswith("GET /api/words.json HTTP/1.1")


def test_every_resource_the_browser_loaded_has_request_and_response_records(crawls):
    records = crawls.first.records()
    log = crawls.first.log()
    browser_fetched = {e["url"] for e in log if e.get("reason") == "browser"}
    expected = {_url(crawls, p) for p in ("/style.css", "/app.js", "/api/words.json",
                                          "/scripted.png", "/lazy.png")}
    assert expected <= browser_fetched
    for url in browser_fetched:
        assert len(_of(records, url, "request")) == 1, url
        assert len(_of(records, url, "response")) == 1, url


def test_what_the_browser_fetched_is_not_fetched_again_by_the_crawler(crawls):
    for path in ("/", "/style.css", "/app.js", "/api/words.json", "/lazy.png"):
        assert crawls.hits_after_first[0, path] == 1, path


def test_rendered_dom_holds_the_words_only_script_put_there(crawls):
    records = crawls.first.records()
    shell = _url(crawls, "/")
    (dom,) = _of(records, f"urn:dom:{shell}", "resource")
    assert WORDS.encode() in dom.body
    assert dom.headers["Content-Type"] == "text/html; charset=utf-8"
    (page_response,) = _of(records, shell, "response")
    assert WORDS.encode() not in page_response.body
    assert dom.headers["WARC-Concurrent-To"] == page_response.headers["WARC-Record-ID"]


def test_each_rendered_page_has_a_full_page_screenshot_and_a_thumbnail(crawls):
    records = crawls.first.records()
    rendered = [e["url"] for e in crawls.first.log() if e["outcome"] == "rendered"]
    assert _url(crawls, "/") in rendered
    assert _url(crawls, "/only-script-links-here.html") in rendered
    for url in rendered:
        (full,) = _of(records, f"urn:fullPage:{url}", "resource")
        (thumb,) = _of(records, f"urn:thumbnail:{url}", "resource")
        for shot in (full, thumb):
            assert shot.headers["Content-Type"] == "image/png"
            assert shot.body.startswith(b"\x89PNG")
        assert struct.unpack(">I", thumb.body[16:20])[0] == 320
        assert struct.unpack(">I", full.body[16:20])[0] == 1280
        if url == _url(crawls, "/"):  # the whole page, spacer and lazy image too
            assert struct.unpack(">I", full.body[20:24])[0] > 6000


def test_link_only_the_script_adds_is_crawled(crawls):
    url = _url(crawls, "/only-script-links-here.html")
    assert crawls.hits_after_first[0, "/only-script-links-here.html"] == 1
    (entry,) = [e for e in crawls.first.log() if e["url"] == url and "status" in e]
    assert entry["reason"] == "link" and entry["status"] == 200


def test_warcio_check_and_warcvalid_pass_on_the_browser_crawl(crawls, tmp_path):
    for crawl in (crawls.first, crawls.second):
        done = subprocess.run([str(ROOT / ".venv/bin/warcio"), "check", *map(str, crawl.warcs)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        for warc in crawl.warcs:
            copy = _as_warc_1_0(warc, tmp_path)
            done = subprocess.run([str(ROOT / ".venv/bin/warcvalid"), str(copy)],
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr


def test_recrawl_writes_revisits_for_unchanged_browser_fetched_resources(crawls):
    records = crawls.second.records()
    for path in ("/app.js", "/api/words.json", "/style.css"):
        url = _url(crawls, path)
        assert _of(records, url, "revisit"), path
        assert not _of(records, url, "response"), path
    entries = {e["url"]: e for e in crawls.second.log() if e.get("reason") == "browser"}
    assert entries[_url(crawls, "/api/words.json")]["outcome"] == "unchanged-revisit"


def test_a_page_that_never_finishes_is_bounded_and_logged(crawls):
    url = _url(crawls, "/loop.html")
    for crawl in (crawls.first, crawls.second):
        (entry,) = [e for e in crawl.log() if e["url"] == url and e["outcome"] == "render-failed"]
        assert entry["why"].startswith("timeout")
        assert entry["browser"]["seconds"] < 30
        assert crawl.summary()["finish_reason"] == "finished"
        # the page itself was recorded before the browser gave up on it
        assert _of(crawl.records(), url, "response") or _of(crawl.records(), url, "revisit")


def test_crawl_log_records_each_page_browser_outcome(crawls):
    outcomes = {e["url"]: e for e in crawls.first.log()
                if e["outcome"] in ("rendered", "render-failed")}
    shell = outcomes[_url(crawls, "/")]
    assert shell["browser"]["resources"] >= 5 and shell["browser"]["scrolls"] >= 1
    assert set(outcomes) == {_url(crawls, p) for p in
                             ("/", "/only-script-links-here.html", "/loop.html")}


def test_plain_crawl_renders_nothing(tmp_path: Path):
    with HostileServer() as server:
        _served(server)
        crawled, _ = crawl_sites(tmp_path, {"app": server.url("/")}, timeout=5)
    records = crawled.records()
    assert not [r for r in records if r.type == "resource"]
    assert not _of(records, server.url("/api/words.json"), "response")


def test_recording_proxy_stores_chunked_body_dechunked_and_stops_at_the_resource_limit():
    from scrapy.signalmanager import SignalManager

    from crawler import signals as our_signals
    from crawler.dedup import PayloadHistory
    from crawler.recording_proxy import PageOfRequests, RecordingProxy, WireRecorder

    chunked = (b"HTTP/1.1 200 Fine\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    written, logged = [], []

    def write(records):
        written.extend(records)

    def log(entry):
        logged.append(entry)

    signals = SignalManager()
    signals.connect(write, our_signals.warc_records)
    signals.connect(log, our_signals.crawl_event)

    async def fetch(proxy_url: str, url: str) -> bytes:
        host, port = proxy_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n"
                     .encode())
        answer = await reader.read()
        writer.close()
        return answer

    async def session(server: HostileServer) -> tuple[bytes, bytes]:
        page_of = PageOfRequests(server.url("/"), "app", "")
        proxy = RecordingProxy(WireRecorder(signals, PayloadHistory(), proxied=False), page_of,
                               None, timeout=5, max_resources=1, max_bytes=1000)
        proxy_url = await proxy.start()
        try:
            return (await fetch(proxy_url, server.url("/chunked")),
                    await fetch(proxy_url, server.url("/one-too-many")))
        finally:
            await proxy.close()

    with HostileServer() as server:
        server.route("/chunked", lambda ex: ex.raw(chunked))
        first, second = run_coroutine(session(server))
    assert first.endswith(b"\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")  # as sent
    request, response = written
    assert request.http_headers.protocol == "GET"
    assert request.http_headers.get_header("Proxy-Connection") is None
    assert response.http_headers.statusline == "200 Fine"
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert response.raw_stream.read() == b"hello world"
    assert second.startswith(b"HTTP/1.1 503")
    assert [e["why"] for e in logged if e["outcome"] == "excluded"] == ["limit:browser-resources"]


def test_browser_crawl_of_the_sample_network_goes_through_its_proxy(tmp_path: Path):
    from index.collection import Collection
    from palimpsest.sample_network import SampleNetwork
    from palimpsest.setup import write_config
    from tests.conftest import crawl, crawl_ids

    collection = Collection(tmp_path)
    with SampleNetwork(revision=1) as network:
        write_config(collection, (), network.url, rendered=True)
        crawl(collection, "--site", "civiscope", "--browser", "--max-pages", "3")
    (crawled,) = crawl_ids(collection)
    log = crawled.log()
    fetched = [e for e in log if e.get("reason") == "browser"]
    assert any(e["url"].endswith(".json") and e["status"] == 200 for e in fetched)
    assert len([e for e in log if e["outcome"] == "rendered"]) == 3
    assert not [e for e in log if e["url"].startswith("https://")]  # Chromium's calls home
    records = crawled.records()
    for entry in fetched:  # through the network's proxy: the absolute URI on the wire
        requests = [r for r in records if r.type == "request" and r.url == entry["url"]]
        assert any(r.head.startswith(f"GET {entry['url']} HTTP/1.1") for r in requests)


def _our_browsers() -> set[int]:
    """The main process of each Chromium this test process started (through a crawl, or
    Playwright's driver)."""
    parents = {}
    names = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            pid, rest = int(proc.name), stat.rsplit(")", 1)[1].split()
            parents[pid], names[pid] = int(rest[1]), stat.split("(", 1)[1].rsplit(")", 1)[0]

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return {pid for pid, name in names.items()
            if "chrom" in name and "chrom" not in names.get(parents.get(pid, 0), "")
            and ours(pid)}


def test_browser_crash_is_retried_once_then_logged(tmp_path: Path):
    spared = _our_browsers()  # the session's own (the UI tests' browser): not the crawl's

    def kill_the_crawls_browser() -> None:  # a browser crash, as the crawl sees it
        for pid in _our_browsers() - spared:
            os.kill(pid, signal.SIGKILL)

    def crash_once(exchange) -> None:
        if exchange.server.hits[0, "/crash-once.js"] == 1:
            kill_the_crawls_browser()
        exchange.send(200, b"1;", "application/javascript")

    def crash_always(exchange) -> None:
        kill_the_crawls_browser()
        exchange.send(200, b"1;", "application/javascript")

    with HostileServer() as server:
        server.route("/", page('<a href="/once.html">once</a> <a href="/always.html">always</a>'))
        server.route("/once.html", page('<script src="/crash-once.js"></script><p>once</p>'))
        server.route("/always.html", page('<script src="/crash-always.js"></script>'))
        server.route("/crash-once.js", crash_once)
        server.route("/crash-always.js", crash_always)
        crawled, _ = crawl_sites(tmp_path, {"app": server.url("/")}, "--browser",
                                 "--concurrency-per-site", "1", timeout=10)
    outcomes = {e["url"]: e for e in crawled.log()
                if e["outcome"] in ("rendered", "render-failed")}
    once = outcomes[server.url("/once.html")]
    assert once["outcome"] == "rendered" and once["browser"]["attempts"] == 2
    always = outcomes[server.url("/always.html")]
    assert always["outcome"] == "render-failed" and always["browser"]["attempts"] == 2
    assert always["why"].startswith("browser crashed")
    assert outcomes[server.url("/")]["outcome"] == "rendered"
    assert crawled.summary()["finish_reason"] == "finished"
    records = crawled.records()
    assert _of(records, f"urn:dom:{server.url('/once.html')}", "resource")
    assert _of(records, server.url("/always.html"), "response")  # what was written stays


# an endless-scroll page: reaching its end fetches more, which brings a lazy image of its own
GROWS = """<!doctype html><html><body><div style="height: 3000px">the first part</div>
<script>
let asked = false;
window.addEventListener('scroll', () => {
  const end = document.documentElement.scrollHeight - 10;
  if (asked || window.scrollY + window.innerHeight < end) return;
  asked = true;
  fetch('/more.json').then(r => r.json()).then(data => {
    const more = document.createElement('div');
    more.innerHTML = '<div style="height: 5000px">' + data.words + '</div>'
      + '<img loading="lazy" src="/end-of-more.png" width="10" height="10">';
    document.body.appendChild(more);
  });
});
</script></body></html>"""


def test_a_page_that_grows_as_it_is_scrolled_is_scrolled_to_its_new_end(tmp_path: Path):
    """What the page adds once scrolled to its end is scrolled through too (lazy loading
    below it starts), within the same bounded wait."""
    with HostileServer() as server:
        server.route("/", page(GROWS))
        more = page(json.dumps({"words": "the part scrolling fetched"}),
                    content_type="application/json")

        def slow_more(exchange) -> None:  # slower than the scroll's frames
            time.sleep(0.15)
            more(exchange)
        server.route("/more.json", slow_more)
        server.route("/end-of-more.png", lambda ex: ex.send(200, LAZY_PNG, "image/png"))
        crawled, _ = crawl_sites(tmp_path, {"app": server.url("/")}, "--browser", timeout=5)
    records = crawled.records()
    (dom,) = _of(records, f"urn:dom:{server.url('/')}", "resource")
    assert b"the part scrolling fetched" in dom.body
    (image,) = _of(records, server.url("/end-of-more.png"), "response")
    assert image.body == LAZY_PNG
    (entry,) = [e for e in crawled.log() if e["outcome"] == "rendered"]
    assert entry["browser"]["quiet"] and entry["browser"]["scrolls"] >= 4
    # loaded before the screenshot, not by it: the image is in the picture
    (shot,) = _of(records, f"urn:fullPage:{server.url('/')}", "resource")
    with Image.open(io.BytesIO(shot.body)) as picture:
        assert picture.height > 8000
        below = picture.crop((0, 7900, 100, picture.height)).convert("RGB")
        assert (128, 32, 32) in {color for _, color in below.getcolors(1 << 20)}


SMOOTH = """<!doctype html><html style="scroll-behavior: smooth"><head><title>smooth</title>
</head><body><div style="height: 6000px">a tall page that scrolls smoothly</div>
<img id="far" data-src="/far.png" width="10" height="10" alt="far below">
<script>
new IntersectionObserver((entries, watcher) => {
  for (const entry of entries) if (entry.isIntersecting) {
    entry.target.src = entry.target.dataset.src;
    watcher.disconnect();
  }
}).observe(document.getElementById('far'));
</script></body></html>"""


def test_a_page_that_scrolls_smoothly_is_scrolled_through_all_the_same(tmp_path: Path):
    """`scroll-behavior: smooth` makes a scripted scroll an animation: the page had not moved
    when the scroller looked, which took it for a page that does not scroll, and lazy loading
    below the fold was left to the full-page screenshot. Scrolled at once now."""
    with HostileServer() as server:
        server.route("/", page(SMOOTH))
        server.route("/far.png", lambda ex: ex.send(200, LAZY_PNG, "image/png"))
        crawled, _ = crawl_sites(tmp_path, {"app": server.url("/")}, "--browser", timeout=5)
    (entry,) = [e for e in crawled.log() if e["outcome"] == "rendered"]
    assert entry["browser"]["quiet"] and entry["browser"]["scrolls"] >= 5
    (image,) = _of(crawled.records(), server.url("/far.png"), "response")
    assert image.body == LAZY_PNG


OPENS = """<html><body><p>a page that opens a window</p>
<script>window.open('/popup.html');</script>
<a href="/next.html">next</a></body></html>"""
POPUP = """<html><body><p>a window that goes on asking</p>
<script>let n = 0; setInterval(() => fetch('/beacon?n=' + (n++)), 50);</script></body></html>"""


def test_a_window_the_page_opened_is_closed_before_the_next_page(tmp_path: Path):
    """A page's window.open() (Playwright's Chromium blocks no popup) opens a window in the
    tab's context, which ran on after the tab went to about:blank: its requests kept the next
    page's wait for quiet from ending and were recorded as the next page's."""
    with HostileServer() as server:
        server.route("/", page(OPENS))
        server.route("/popup.html", page(POPUP))
        server.route("/next.html", page("<html><body><p>the next page</p></body></html>"))
        server.route("/beacon", page("{}", content_type="application/json"))
        crawled, _ = crawl_sites(tmp_path, {"app": server.url("/")}, "--browser",
                                 "--concurrency-per-site", "1", timeout=8)
    log = crawled.log()
    (after,) = [e for e in log if e["outcome"] == "rendered"
                and e["url"] == server.url("/next.html")]
    assert after["browser"]["quiet"]
    assert not [e for e in log if e.get("via") == server.url("/next.html")
                and "/beacon" in e["url"]]
