"""A hostile site of gzip bombs, crawled, indexed, searched and replayed for real.

The site (loopback, ephemeral port, a site of the network config, no proxy) serves pages whose
~250 kB bodies inflate to 256 MiB (gzip, gzip twice, br) and a gzipped sitemap that does the
same; the network config's limits.max_response_bytes is 2 MB. Every stage must finish, keep what
fits the limit and say it was cut, in memory well below the inflated size.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import tempfile
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.inflate import inflate
from palimpsest.setup import write_config
from tests.conftest import FAST, ROOT, CrawledCrawl, crawl_ids
from web import create_app

MIB = 1 << 20
BOMB = 256 * MIB  # what each test bomb inflates to
LIMIT = 2_000_000  # limits.max_response_bytes of the test network
PADDING = b" " * MIB
KEPT_WORDS = "zeppelin marmalade"  # at the head of every bomb page: inside what fits
BOMB_PAGES = {"/bomb.html": "gzip", "/nested.html": "gzip, gzip", "/brotli.html": "br"}


def gzip_bomb(head: bytes, size: int) -> bytes:
    """`head` padded with spaces to `size` bytes, gzipped (about 1,000:1), never held whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(head)]
    left = size - len(head)
    while left > 0:
        parts.append(packer.compress(PADDING[:left]))
        left -= len(PADDING)
    return b"".join(parts) + packer.flush()


def brotli_bomb(head: bytes, size: int) -> bytes:
    packer = brotli.Compressor(quality=4)
    parts = [packer.process(head)]
    left = size - len(head)
    while left > 0:
        parts.append(packer.process(PADDING[:left]))
        left -= len(PADDING)
    return b"".join(parts) + packer.finish()


class BombSite:
    """A site on loopback whose pages and sitemap are decompression bombs of `size` bytes."""

    def __init__(self, size: int = BOMB) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _BombHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.size = size
        page = ("<html><head><title>Inflated beyond reason</title></head><body>"
                f"<p>{KEPT_WORDS} open the page.</p><a href='/behind-the-bomb.html'>next</a>"
                ).encode()
        sitemap = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns='
                   '"http://www.sitemaps.org/schemas/sitemap/0.9">'
                   f"<url><loc>{self.url}only-in-sitemap.html</loc></url>").encode()
        bomb = gzip_bomb(page, size)
        html = {"Content-Type": "text/html; charset=utf-8"}
        self.routes: dict[str, tuple[dict[str, str], bytes]] = {
            "/": (html, b"<html><head><title>Bomb site</title></head><body>"
                  + b"".join(f"<a href='{p}'>{p}</a>".encode() for p in BOMB_PAGES)
                  + b"</body></html>"),
            "/robots.txt": ({"Content-Type": "text/plain"},
                            f"User-agent: *\nDisallow:\nSitemap: {self.url}sitemap.xml.gz\n"
                            .encode()),
            "/bomb.html": ({**html, "Content-Encoding": "gzip"}, bomb),
            "/nested.html": ({**html, "Content-Encoding": "gzip, gzip"},
                             gzip.compress(bomb, mtime=0)),
            "/brotli.html": ({**html, "Content-Encoding": "br"}, brotli_bomb(page, size)),
            "/sitemap.xml.gz": ({"Content-Type": "application/x-gzip"},
                                gzip_bomb(sitemap, size)),
            "/behind-the-bomb.html": (html, b"<html><title>Behind</title><p>reached</p>"),
            "/only-in-sitemap.html": (html, b"<html><title>Listed</title><p>listed</p>"),
        }
        self.server.routes = self.routes  # type: ignore[attr-defined]

    def __enter__(self) -> BombSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _BombHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        headers, body = self.server.routes.get(  # type: ignore[attr-defined]
            self.path, ({"Content-Type": "text/plain"}, b"not here"))
        self.send_response(200 if self.path in self.server.routes else 404)  # type: ignore
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


# a small launcher runs the command and reports its peak: a child forked straight from this
# process would count this process's own memory in its peak
_LAUNCHER = """import os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss(*argv: str, cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess, int]:
    """Run `argv`: how it ended, and the peak resident memory (bytes) of it and of the
    descendants it waited for, as the kernel accounted them."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak"
        done = subprocess.run([sys.executable, "-c", _LAUNCHER, str(report), *argv], cwd=cwd,
                              capture_output=True, text=True, timeout=600)
        return done, int(report.read_text()) if report.exists() else 0


def run_measured(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    """`palimpsest ARGS` in a child process, and its peak resident memory in bytes."""
    done, peak = peak_rss(sys.executable, "-m", "palimpsest.cli", *args)
    if done.returncode:
        raise AssertionError(f"palimpsest {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done, peak


@dataclass
class Bombed:
    collection: Collection
    site: BombSite
    crawl: CrawledCrawl
    crawl_peak: int  # bytes
    index_peak: int


@pytest.fixture(scope="module")
def bombed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bombed]:
    """The bomb site crawled once and indexed, each as a child process, peaks measured."""
    with BombSite() as site:
        collection = Collection(tmp_path_factory.mktemp("bombs"))
        config = write_config(collection, (f"bombs={site.url}",), None)
        config.write_text(re.sub(r"(?m)^max_response_bytes = .*$",
                                 f"max_response_bytes = {LIMIT}", config.read_text()))
        root = ("--collection", str(collection.root))
        _, crawl_peak = run_measured("crawl", *root, *FAST)
        _, index_peak = run_measured("index", *root)
        (crawl,) = crawl_ids(collection)
        yield Bombed(collection, site, crawl, crawl_peak, index_peak)


def test_crawl_of_gzip_bombs_finishes_in_memory_well_below_what_they_inflate_to(bombed):
    assert bombed.crawl_peak < BOMB / 2, f"crawl peaked at {bombed.crawl_peak / MIB:.0f} MiB"
    captured = {r.url: r for r in bombed.crawl.records() if r.type == "response"}
    for path, coding in BOMB_PAGES.items():
        record = captured[bombed.site.url + path.lstrip("/")]
        assert dict(record.http_headers)["Content-Encoding"] == coding
        assert record.body == bombed.site.routes[path][1]  # stored as received, whole


def test_crawl_follows_links_from_what_fits_and_logs_each_cut(bombed):
    log = bombed.crawl.log()
    cut = {e["url"] for e in log if e["outcome"] == "cut"}
    url = bombed.site.url
    assert cut == {url + p.lstrip("/") for p in BOMB_PAGES} | {url + "sitemap.xml.gz"}
    assert all(str(LIMIT) in e["why"] for e in log if e["outcome"] == "cut")
    reasons = {e["url"]: e.get("reason") for e in log if "status" in e}
    assert reasons[url + "behind-the-bomb.html"] == "link"
    assert reasons[url + "only-in-sitemap.html"] == "sitemap"
    summary = bombed.crawl.summary()["sites"]["bombs"]
    assert summary["outcomes"]["cut"] == 4 and summary["errors"] == 0


def test_index_of_gzip_bombs_succeeds_in_bounded_memory_and_finds_the_kept_text(bombed):
    assert bombed.index_peak < BOMB / 2, f"index peaked at {bombed.index_peak / MIB:.0f} MiB"
    def found(query: str) -> set[str]:
        done, _ = run_measured("search", query, "--json", "--collection",
                               str(bombed.collection.root))
        return {r["url"] for r in json.loads(done.stdout)["results"]}

    assert found(KEPT_WORDS) == {bombed.site.url + p.lstrip("/") for p in BOMB_PAGES}
    # the pages beside the bombs are searchable too: the collection's index is whole
    assert found("reached OR listed") == {bombed.site.url + "behind-the-bomb.html",
                                          bombed.site.url + "only-in-sitemap.html"}


def test_replay_of_a_gzip_bomb_serves_the_cut_body_marked_in_bounded_memory(bombed):
    client = create_app({"COLLECTION": str(bombed.collection.root), "TESTING": True}
                        ).test_client()
    with Catalog.open(bombed.collection) as catalog:
        captures = {c.url: c for c in catalog.by_crawl(bombed.crawl.crawl_id)}
    for path in BOMB_PAGES:
        capture = captures[bombed.site.url + path.lstrip("/")]
        for modifier in ("id_", "mp_"):
            tracemalloc.start()
            answer = client.get(f"/web/{capture.timestamp}{modifier}/{capture.url}")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert answer.status_code == 200
            assert peak < BOMB / 16, f"{path} {modifier} peaked at {peak / MIB:.0f} MiB"
            assert answer.headers["X-Archive-Truncated"] == f"inflated past {LIMIT} bytes"
            assert KEPT_WORDS.encode() in answer.data
            if modifier == "id_":
                assert len(answer.data) == LIMIT
        view = client.get(f"/web/{capture.timestamp}/{capture.url}").get_data(as_text=True)
        assert f"the body inflates past {LIMIT} bytes" in view


def test_nested_and_mislabelled_codings_inflate_within_the_limit():
    page = b"<p>" + KEPT_WORDS.encode() + b"</p>"
    bomb = gzip_bomb(page, 8 * MIB)
    deflated = zlib.compress(page + PADDING * 8, 9)
    for body, coding in ((bomb, "gzip"), (gzip.compress(bomb), "gzip, gzip"),
                         (deflated, "deflate"), (brotli_bomb(page, 8 * MIB), "br"),
                         (gzip.compress(brotli_bomb(page, 8 * MIB)), "br, gzip")):
        inflated = inflate(body, coding, MIB)
        assert inflated.cut and len(inflated.body) == MIB and inflated.body.startswith(page)
        assert inflate([body[i:i + 999] for i in range(0, len(body), 999)], coding,
                       MIB).body == inflated.body
    whole = inflate(bomb, "gzip", 9 * MIB)
    assert not whole.cut and len(whole.body) == 8 * MIB
    assert inflate(page, "gzip", MIB).body == page  # not gzip at all: as stored
    two = gzip.compress(b"one ") + gzip.compress(b"two")
    assert inflate(two, "gzip").body == b"one two"  # gzip members one after another
