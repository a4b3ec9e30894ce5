"""A site is what its seed URL names: scheme, host, port and path. Crawled for real against
the hostile server on loopback, two sites on one host told apart by port, and a site that is
one folder of a host."""

from __future__ import annotations

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update
from tests.hostile_server import HostileServer, crawl_sites, links, meeting, page


def _captured(crawl) -> set[str]:
    return {r.url for r in crawl.records() if r.type in ("response", "revisit")}


def _metadata_site(crawl, url: str) -> str:
    record = next(r for r in crawl.records() if r.url == url and r.type == "metadata")
    fields = dict(line.split(": ", 1) for line in record.body.decode().splitlines())
    return fields["site"]


def test_two_sites_on_one_host_by_port_are_two_sites_in_the_summary_and_log(tmp_path):
    with HostileServer(ports=2) as server:
        a, b = server.url("/", 0), server.url("/", 1)
        server.route("/", links("/a-only", "/both", server.url("/from-a", 1)), port=0)
        server.route("/", links("/b-only", "/both"), port=1)
        for path in ("/a-only", "/b-only", "/both", "/from-a"):
            server.route(path, links(title=path))
        crawl, _ = crawl_sites(tmp_path, {"a": a, "b": b})

    summary = crawl.summary()["sites"]
    assert set(summary) == {"a", "b"}
    assert summary["a"]["pages"] == 3  # /, /a-only, /both on the first port
    assert summary["b"]["pages"] == 4  # /, /b-only, /both and /from-a on the second
    for entry in crawl.log():
        assert entry["site"] == ("a" if entry["url"].startswith(a) else "b"), entry
    assert _metadata_site(crawl, server.url("/from-a", 1)) == "b"
    # and the catalog files each capture under the same site as the crawl did
    collection = Collection(tmp_path)
    update(collection)
    with Catalog.open(collection) as catalog:
        filed = {c.url: c.site for c in catalog.by_crawl(crawl.crawl_id)}
    assert filed[a] == "a" and filed[b] == "b" and filed[server.url("/both", 1)] == "b"


def test_site_given_as_a_folder_stays_in_it_but_takes_its_requisites(tmp_path):
    with HostileServer() as server:
        server.route("/blog/", links("/blog/post", "/shop/", embeds=("/static/logo.png",)))
        server.route("/blog/post", links("/shop/cart", "/blog/"))
        server.route("/static/logo.png", page("PNG", content_type="image/png"))
        for path in ("/shop/", "/shop/cart"):
            server.route(path, links(title="shop"))
        crawl, _ = crawl_sites(tmp_path, {"blog": server.url("/blog/")})

    captured = _captured(crawl)
    assert {server.url("/blog/"), server.url("/blog/post"),
            server.url("/static/logo.png")} <= captured
    assert not {server.url("/shop/"), server.url("/shop/cart")} & captured
    excluded = {e["url"]: e["why"] for e in crawl.log() if e["outcome"] == "excluded"}
    assert excluded[server.url("/shop/")] == "scope"
    assert excluded[server.url("/shop/cart")] == "scope"
    assert server.hits[0, "/shop/"] == 0
    # a requisite outside the folder is the site's that needed it, as is its robots.txt
    for path in ("/static/logo.png", "/robots.txt"):
        assert {e["site"] for e in crawl.log() if e["url"] == server.url(path)} == {"blog"}


def test_each_site_has_its_own_download_slot_even_on_one_host(tmp_path):
    # each seed answers only once the other is being fetched too: with one slot for the
    # host and one connection per site, they would each wait alone
    with HostileServer(ports=2) as server:
        server.route("/", meeting("seeds"))
        crawl, _ = crawl_sites(tmp_path, {"a": server.url("/", 0), "b": server.url("/", 1)},
                               "--concurrency-per-site", "1")

    bodies = [r.body for r in crawl.records()
              if r.type == "response" and r.url in (server.url("/", 0), server.url("/", 1))]
    assert len(bodies) == 2
    assert all(b"together" in body for body in bodies)


@pytest.mark.parametrize("robots", ["obeyed", "ignored"])
def test_robots_txt_and_sitemaps_come_from_the_seeds_own_port(tmp_path, robots):
    with HostileServer(ports=2) as server:
        server.route("/", links("/private/a"), port=0)
        server.route("/", links("/private/b"), port=1)
        server.route("/robots.txt", page("User-agent: *\nAllow: /\n", content_type="text/plain"),
                     port=0)
        server.route("/robots.txt", page(
            f"User-agent: *\nDisallow: /private/\nSitemap: {server.url('/map.xml', 1)}\n",
            content_type="text/plain"), port=1)
        server.route("/map.xml", page(
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{server.url('/only-in-map', 1)}</loc></url></urlset>",
            content_type="application/xml"), port=1)
        for path in ("/private/a", "/private/b", "/only-in-map"):
            server.route(path, links(title=path))
        options = () if robots == "obeyed" else ("--no-robots",)
        crawl, _ = crawl_sites(tmp_path, {"a": server.url("/", 0), "b": server.url("/", 1)},
                               *options)

    assert server.hits[1, "/robots.txt"] == 1
    only = server.url("/only-in-map", 1)
    assert only in _captured(crawl)
    assert _metadata_site(crawl, only) == "b"
    assert {e["site"] for e in crawl.log() if e["url"] == only} == {"b"}
    assert server.url("/private/a", 0) in _captured(crawl)
    blocked = server.url("/private/b", 1)
    if robots == "obeyed":
        assert blocked not in _captured(crawl)
        assert any(e["url"] == blocked and e.get("why") == "robots" for e in crawl.log())
    else:
        assert blocked in _captured(crawl)
