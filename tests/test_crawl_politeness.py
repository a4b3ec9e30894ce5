"""Politeness and the crawl log against a hostile server: robots.txt as RFC 9309 reads a
failing one, sitemaps in every shape sitemaps.org allows, a reason logged for every URL not
fetched, and bodies cut short by the server kept and marked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import CrawledCrawl
from tests.hostile_server import (
    HostileServer,
    crawl_sites,
    hang,
    huge_header,
    links,
    page,
    redirect,
    reset,
    reset_mid_body,
    short_body,
)

SITES = ("down", "gone", "dead", "slow", "main")  # one port each, in this order
TIMEOUT = 2.0
LONG = "/long/" + "a" * 3000
FTP = "ftp://127.0.0.1:1/file.txt"  # not a scheme crawled
SENT = b"the first part of a longer body " * 10


@dataclass
class HostileCrawl:
    server: HostileServer
    crawl: CrawledCrawl
    stderr: str

    def url(self, site: str, path: str) -> str:
        return self.server.url(path, SITES.index(site))

    def captured(self) -> set[str]:
        return {r.url for r in self.crawl.records() if r.type in ("response", "revisit")}

    def entries(self, url: str) -> list[dict]:
        return [e for e in self.crawl.log() if e["url"] == url]


def _text(body: str):
    return page(body, content_type="text/plain")


def _routes(server: HostileServer) -> None:
    down, gone, dead, slow, main = range(len(SITES))
    for port in range(len(SITES)):
        server.route("/", links("/page"), port=port)
        server.route("/page", links(title="page"), port=port)
    server.route("/robots.txt", page("busy", status=503), port=down)
    server.route("/robots.txt", page("no such file", status=404), port=gone)
    server.route("/robots.txt", reset, port=dead)
    server.route("/robots.txt", hang, port=slow)
    server.route("/robots.txt", _text("User-agent: *\nAllow: /\n" + "".join(
        f"Sitemap: {server.url(p, main)}\n" for p in ("/map.txt", "/empty.xml", "/blank.xml"))),
        port=main)
    server.route("/map.txt", _text(f"\n{server.url('/from-text-map', main)}\n\n"), port=main)
    server.route("/from-text-map", links(title="listed"), port=main)
    server.route("/empty.xml", page("", content_type="application/xml"), port=main)
    server.route("/blank.xml", page(" \n\t\n", content_type="application/xml"), port=main)
    server.route("/", links("/page", "/r/0", "/loop/a", LONG, "/big-head", "/short", "/reset",
                            "/to-ftp"), port=main)
    server.route("/to-ftp", redirect(FTP), port=main)
    for hop in range(30):
        server.route(f"/r/{hop}", redirect(f"/r/{hop + 1}"), port=main)
    server.route("/loop/a", redirect("/loop/b"), port=main)
    server.route("/loop/b", redirect("/loop/a"), port=main)
    server.route(LONG, links(title="long"), port=main)
    server.route("/big-head", huge_header(), port=main)
    server.route("/short", short_body(SENT, len(SENT) * 4), port=main)
    server.route("/reset", reset_mid_body(SENT, len(SENT) * 4), port=main)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> HostileCrawl:
    with HostileServer(ports=len(SITES)) as server:
        _routes(server)
        sites = {name: server.url("/", i) for i, name in enumerate(SITES)}
        crawl, stderr = crawl_sites(tmp_path_factory.mktemp("hostile"), sites, timeout=TIMEOUT)
        return HostileCrawl(server, crawl, stderr)


def test_robots_txt_answering_5xx_closes_the_site_and_4xx_opens_it(hostile):
    captured = hostile.captured()
    assert hostile.url("down", "/") not in captured
    [closed] = [e for e in hostile.entries(hostile.url("down", "/robots.txt"))
                if e["outcome"] == "disallow-all"]
    assert "503" in closed["why"] and closed["site"] == "down"
    [seed] = [e for e in hostile.entries(hostile.url("down", "/")) if "why" in e]
    assert seed["outcome"] == "excluded" and seed["why"] == "robots:unavailable"
    assert hostile.server.hits[SITES.index("down"), "/robots.txt"] == 1  # not retried
    assert {hostile.url("gone", "/"), hostile.url("gone", "/page")} <= captured
    down = hostile.crawl.summary()["sites"]["down"]
    assert down["outcomes"]["disallow-all"] == 1
    assert down["excluded"] == {"robots:unavailable": 1}  # the seed; no sitemap guessed at


@pytest.mark.parametrize("site, why", [("dead", "unreachable"), ("slow", "timeout")])
def test_unreachable_or_hanging_robots_txt_closes_the_site_once(hostile, site, why):
    assert hostile.url(site, "/") not in hostile.captured()
    [closed] = [e for e in hostile.entries(hostile.url(site, "/robots.txt"))
                if e["outcome"] == "disallow-all"]
    assert why in closed["why"]
    # one try, bounded by the download timeout: no retries, no traceback
    assert hostile.server.hits[SITES.index(site), "/robots.txt"] == 1
    assert "Traceback" not in hostile.stderr


def test_plain_text_sitemap_is_read_and_empty_ones_are_skipped_with_a_log_line(hostile):
    listed = hostile.url("main", "/from-text-map")
    assert listed in hostile.captured()
    assert {e.get("reason") for e in hostile.entries(listed)} == {"sitemap"}
    for path in ("/empty.xml", "/blank.xml"):
        assert any(e["outcome"] == "skipped" and e["why"] == "empty sitemap"
                   for e in hostile.entries(hostile.url("main", path))), path
    assert "Traceback" not in hostile.stderr and "StopIteration" not in hostile.stderr


@pytest.mark.parametrize("path, outcome, why", [
    ("/r/20", "excluded", "limit:redirects"),
    ("/loop/a", "excluded", "redirect-loop"),
    (LONG, "excluded", "limit:url-length"),
    ("/big-head", "error", "bad response head"),
])
def test_every_url_not_fetched_is_logged_with_its_reason(hostile, path, outcome, why):
    entries = [e for e in hostile.entries(hostile.url("main", path)) if "status" not in e]
    assert entries, f"nothing logged for {path}"
    assert entries[-1]["outcome"] == outcome
    assert entries[-1]["why"].startswith(why)
    assert entries[-1]["site"] == "main"


def test_redirect_to_a_scheme_not_crawled_is_logged_with_its_reason(hostile):
    [entry] = hostile.entries(FTP)
    assert entry["outcome"] == "excluded" and entry["why"] == "redirect:unsupported-scheme"
    assert entry["via"] == hostile.url("main", "/to-ftp") and entry["site"] == "main"


@pytest.mark.parametrize("path", ["/short", "/reset"])
def test_body_cut_short_by_the_server_is_kept_marked_truncated(hostile, path):
    url = hostile.url("main", path)
    [record] = [r for r in hostile.crawl.records() if r.url == url and r.type == "response"]
    assert record.headers["WARC-Truncated"] == "disconnect"
    assert record.status == 200 and record.body == SENT
    [entry] = [e for e in hostile.entries(url) if "status" in e]
    assert entry["truncated"] is True and entry["bytes"] == len(SENT)


def test_sitemap_fetches_do_not_count_against_the_page_limit(tmp_path):
    with HostileServer() as server:
        server.route("/", links(title="home"))
        server.route("/robots.txt", _text(f"Sitemap: {server.url('/index.xml')}\n"))
        server.route("/index.xml", page(
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{server.url('/one.xml')}</loc></sitemap>"
            f"<sitemap><loc>{server.url('/two.xml')}</loc></sitemap></sitemapindex>",
            content_type="application/xml"))
        for name in ("one", "two"):
            server.route(f"/{name}.xml", page(
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{server.url('/page-' + name)}</loc></url></urlset>",
                content_type="application/xml"))
            server.route(f"/page-{name}", links(title=name))
        crawl, _ = crawl_sites(tmp_path, {"site": server.url("/")}, "--max-pages", "3")

    captured = {r.url for r in crawl.records() if r.type in ("response", "revisit")}
    assert {server.url("/"), server.url("/page-one"), server.url("/page-two")} <= captured
    assert not any(e.get("why") == "limit:pages" for e in crawl.log())
