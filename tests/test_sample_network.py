"""The bundled sample network, exercised through its proxy the way a crawler reaches it."""

from __future__ import annotations

import gzip
import hashlib
import html
import http.client
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from palimpsest.sample_network import SITES, SampleNetwork, changes, manifest
from palimpsest.sample_network.snapshot import snapshot

SEEDS = Path("/work/shared/seeds")
KB = 1024
_HREF = re.compile(r'<a\b[^>]*?\bhref="([^"]+)"')


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture(scope="module")
def network() -> Iterator[SampleNetwork]:
    with SampleNetwork(revision=1) as net:
        yield net


def fetch(proxy: str, url: str, headers: dict[str, str] | None = None,
          method: str = "GET") -> tuple[int, http.client.HTTPMessage, bytes]:
    """(status, headers, body) of `url` through the proxy, without following redirects."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy}), _NoRedirects()
    )
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def links(page_url: str, body: bytes) -> set[str]:
    """Absolute URLs of the <a href> links of an HTML body, without fragments."""
    found = set()
    for href in _HREF.findall(body.decode()):
        url = urljoin(page_url, html.unescape(href)).split("#")[0]
        if url.startswith("http://"):
            found.add(url)
    return found


def test_revision_1_has_60_pages_and_each_answers_200_html(network: SampleNetwork) -> None:
    pages = manifest(1).pages
    assert len(pages) >= 60
    for url in pages:
        status, headers, body = fetch(network.url, url)
        assert status == 200, url
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Server"] == "sample-network"
        assert int(headers["Content-Length"]) == len(body)
        assert b'<html lang="en">' in body


def test_pages_weigh_like_cms_pages(network: SampleNetwork) -> None:
    for url in manifest(1).pages:
        body = fetch(network.url, url)[2]
        assert 20 * KB <= len(body) <= 60 * KB, (url, len(body))
        assert b"<style" in body and b"<script>" in body and b"/assets/site.js" in body


def test_requisites_answer_and_images_weigh_20_to_60_kb(network: SampleNetwork) -> None:
    found = manifest(1)
    kinds = set()
    for url in found.requisites:
        status, headers, body = fetch(network.url, url)
        assert status == 200, url
        kinds.add(headers["Content-Type"].split(";")[0])
        if url.endswith(".png"):
            assert body.startswith(b"\x89PNG\r\n\x1a\n")
            assert 20 * KB <= len(body) <= 60 * KB, (url, len(body))
    assert {"text/css", "text/javascript", "image/png", "font/woff2"} <= kinds
    assert "http://paxpoint.test/assets/fonts/body.woff2" in found.requisites  # via site.css


def test_documents_are_linked_and_served(network: SampleNetwork) -> None:
    documents = manifest(1).documents
    assert any(u.endswith(".pdf") for u in documents)
    for url in documents:
        status, headers, body = fetch(network.url, url)
        assert status == 200
        if url.endswith(".pdf"):
            assert headers["Content-Type"] == "application/pdf"
            assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
            xref = int(body.rsplit(b"startxref", 1)[1].split()[0])
            assert body[xref:].startswith(b"xref")


def test_web_font_is_a_real_woff2(network: SampleNetwork) -> None:
    brotli = pytest.importorskip("brotli")
    status, headers, body = fetch(network.url, "http://allyvia.test/assets/fonts/body.woff2")
    assert status == 200 and headers["Content-Type"] == "font/woff2"
    assert body[:4] == b"wOF2" and int.from_bytes(body[8:12], "big") == len(body)
    offset, lengths = 48, []
    for _ in range(int.from_bytes(body[12:14], "big")):  # the table directory
        offset += 1  # flags: a known tag, stored untransformed
        value = 0
        while True:
            byte = body[offset]
            offset += 1
            value = value << 7 | byte & 0x7F
            if byte < 0x80:
                break
        lengths.append(value)
    compressed = int.from_bytes(body[20:24], "big")
    tables = brotli.decompress(body[offset : offset + compressed])
    assert len(tables) == sum(lengths)
    assert (0x5F0F3CF5).to_bytes(4, "big") in tables  # the head table's magic number


def test_robots_txt_disallows_the_disallowed_pages(network: SampleNetwork) -> None:
    found = manifest(1)
    assert found.disallowed
    for url in found.disallowed:
        host = urlsplit(url).hostname
        status, _, body = fetch(network.url, f"http://{host}/robots.txt")
        assert status == 200
        assert f"Sitemap: http://{host}/sitemap.xml" in body.decode()
        robots = RobotFileParser()
        robots.parse(body.decode().splitlines())
        assert not robots.can_fetch("Palimpsest", url)
        assert fetch(network.url, url)[0] == 200  # served all the same, to crawls without robots
    linked = set().union(*(links(u, fetch(network.url, u)[2]) for u in found.pages))
    assert found.disallowed <= linked


def test_sitemap_lists_a_page_no_page_links_to(network: SampleNetwork) -> None:
    found = manifest(1)
    (only,) = found.sitemap_only
    sitemap = fetch(network.url, urljoin(only, "/sitemap.xml"))[2].decode()
    assert f"<loc>{only}</loc>" in sitemap
    for url in found.pages | found.disallowed:
        if url != only:
            assert only not in links(url, fetch(network.url, url)[2]), url
    assert fetch(network.url, only)[0] == 200


def test_old_url_answers_301_to_the_new_one(network: SampleNetwork) -> None:
    ((old, new),) = manifest(1).redirects.items()
    status, headers, _ = fetch(network.url, old)
    assert status == 301
    assert headers["Location"] == new
    assert fetch(network.url, new)[0] == 200


def test_broken_link_answers_404(network: SampleNetwork) -> None:
    (broken,) = manifest(1).broken
    status, headers, body = fetch(network.url, broken)
    assert status == 404
    assert b"Page not found" in body


def test_calendar_never_ends(network: SampleNetwork) -> None:
    found = manifest(1)
    events = fetch(network.url, "http://paxpoint.test/events/")[2]
    (url,) = [u for u in links("http://paxpoint.test/events/", events)
              if u.startswith(found.trap_prefix)]
    seen = set()
    for _ in range(50):
        status, _, body = fetch(network.url, url)
        assert status == 200
        seen.add(url)
        (href,) = re.findall(r'<a rel="next" href="([^"]+)"', body.decode())
        url = urljoin(url, html.unescape(href))
    assert len(seen) == 50
    assert not any(u.startswith(found.trap_prefix) for u in found.pages)


def test_gzip_is_deterministic(network: SampleNetwork) -> None:
    url = "http://cognitura.test/psychology/belonging-before-belief/"
    first = fetch(network.url, url, {"Accept-Encoding": "gzip, deflate"})
    second = fetch(network.url, url, {"Accept-Encoding": "gzip"})
    assert first[1]["Content-Encoding"] == "gzip"
    assert first[1]["Vary"] == "Accept-Encoding"
    assert first[2] == second[2]
    assert gzip.decompress(first[2]) == fetch(network.url, url)[2]
    image = fetch(network.url, "http://cognitura.test/media/logo.png", {"Accept-Encoding": "gzip"})
    assert image[1]["Content-Encoding"] is None


def test_unknown_host_answers_502_and_connect_405(network: SampleNetwork) -> None:
    status, _, body = fetch(network.url, "http://example.com/")
    assert status == 502 and b"example.com" in body
    connection = http.client.HTTPConnection("127.0.0.1", network.port, timeout=10)
    connection.request("CONNECT", "paxpoint.test:443")
    assert connection.getresponse().status == 405
    connection.close()


def test_keep_alive_head_and_origin_form(network: SampleNetwork) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", network.port, timeout=10)
    connection.request("GET", "http://allyvia.test/about/")
    full = connection.getresponse()
    body = full.read()
    connection.request("HEAD", "http://allyvia.test/about/")  # same connection
    head = connection.getresponse()
    assert head.read() == b""
    assert head.getheader("Content-Length") == str(len(body))
    assert head.getheader("ETag") == full.getheader("ETag")
    assert head.getheader("Last-Modified") == full.getheader("Last-Modified")
    connection.request("GET", "/about/", headers={"Host": "allyvia.test"})
    assert connection.getresponse().read() == body
    connection.close()


def test_hostile_page_is_linked_and_reaches_for_the_framing_window(network: SampleNetwork) -> None:
    found = manifest(1)
    assert found.hostile_page in found.pages
    body = fetch(network.url, found.hostile_page)[2].decode()
    script = fetch(network.url, urljoin(found.hostile_page, "/assets/labs/embed-test.js"))[2]
    scripts = body + script.decode()
    for attempt in ("window.top", "window.parent.document", "document.cookie", "localStorage",
                    "top.location =", 'document.title = "PWNED"', "stolen=1"):
        assert attempt in scripts
    assert '<script src="/assets/labs/embed-test.js">' in body


def test_every_site_shares_navigation_and_cross_links(network: SampleNetwork) -> None:
    found = manifest(1)
    homes = {seed for _, seed in SITES}
    for _, seed in SITES:
        body = fetch(network.url, seed)[2]
        assert homes <= links(seed, body)  # the network bar and the footer
        assert found.disclosure in html.unescape(body.decode())
    article_links = set()
    for url in found.pages:
        host = urlsplit(url).hostname
        article_links |= {
            (url, u) for u in links(url, fetch(network.url, url)[2])
            if urlsplit(u).hostname != host and u not in homes
        }
    assert len({urlsplit(page).hostname for page, _ in article_links}) == 5


def test_same_revision_renders_the_same_bytes_in_another_process() -> None:
    def digest(revision: int) -> str:
        resources = snapshot(revision).resources
        return hashlib.sha256(b"".join(resources[u].body for u in sorted(resources))).hexdigest()

    code = (
        "import hashlib; from palimpsest.sample_network.snapshot import snapshot\n"
        "r = snapshot(2).resources\n"
        "print(hashlib.sha256(b''.join(r[u].body for u in sorted(r))).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, check=True)
    assert other.stdout.strip() == digest(2)


def _hosts_showing_the_disclosure(revision: int) -> set[str]:
    """The hosts of the pages that revision serves with the disclosure line in them."""
    found, snap = manifest(revision), snapshot(revision)
    return {urlsplit(url).hostname for url in found.pages
            if found.disclosure in html.unescape(snap.resources[url].body.decode())}


def test_changes_from_revision_1_to_2() -> None:
    diff = changes(1, 2)
    assert len(diff.added) == 1 and len(diff.removed) == 1
    assert "allyvia.test" in _hosts_showing_the_disclosure(1)
    assert "allyvia.test" not in _hosts_showing_the_disclosure(2)
    allyvia = {u for u in manifest(1).pages & manifest(2).pages if "allyvia.test" in u}
    assert allyvia and allyvia <= diff.changed
    assert len(diff.unchanged) > len(diff.changed) + len(diff.added) + len(diff.removed)
    assert manifest(2).noise_page in diff.changed
    assert manifest(1).pages == diff.unchanged | diff.changed | diff.removed
    later = changes(2, 3)
    assert len(later.added) == 1 and not later.removed
    assert _hosts_showing_the_disclosure(3) != _hosts_showing_the_disclosure(2)


def test_revision_2_through_the_proxy() -> None:
    before, after = manifest(1), manifest(2)
    with SampleNetwork(revision=1) as net:
        (removed,) = before.pages - after.pages
        (added,) = after.pages - before.pages
        assert fetch(net.url, removed)[0] == 200
        assert fetch(net.url, added)[0] == 404
        net.set_revision(2)
        assert fetch(net.url, removed)[0] == 404
        assert fetch(net.url, added)[0] == 200
        index = urljoin(added, "..")
        assert added in links(index, fetch(net.url, index)[2])
        for url in after.pages:
            body = fetch(net.url, url)[2]
            assert removed not in links(url, body)
            has_line = after.disclosure in html.unescape(body.decode())
            assert has_line == (urlsplit(url).hostname != "allyvia.test"), url


def test_revision_2_adds_one_cross_site_link() -> None:
    def cross(revision: int) -> set[tuple[str, str]]:
        found, snap = manifest(revision), snapshot(revision)
        homes = {seed for _, seed in SITES}
        pairs = set()
        for url in found.pages:
            for target in links(url, snap.resources[url].body):
                if urlsplit(target).hostname != urlsplit(url).hostname and target not in homes:
                    pairs.add((url, target))
        return pairs

    assert len(cross(2) - cross(1)) == 1


def test_noise_page_differs_only_by_its_date() -> None:
    url = manifest(1).noise_page
    one, two = (snapshot(r).resources[url].body.decode() for r in (1, 2))
    assert "Last updated:" in one and one != two
    pattern = re.compile(r"Last updated: <time[^>]*>[^<]*</time>")
    assert pattern.sub("", one) == pattern.sub("", two)


def test_revisions_past_the_last_serve_the_last() -> None:
    assert manifest(9).pages == manifest(3).pages
    with pytest.raises(ValueError):
        SampleNetwork(revision=0)


def _seed_sentences() -> set[str]:
    sentences = set()
    for path in SEEDS.glob("*.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for sentence in re.split(r"(?<=[.!?])\s+", line.strip()):
                if len(sentence) > 40:
                    sentences.add(sentence)
    return sentences


@pytest.mark.skipif(not SEEDS.is_dir(), reason="no seed pages on this machine")
def test_no_sentence_of_the_seeds_appears_in_the_network() -> None:
    sentences = _seed_sentences()
    assert sentences
    texts = []
    for revision in (1, 2, 3):
        snap = snapshot(revision)
        calendar = snap.lookup("paxpoint.test", "/events/calendar", "month=2026-03")
        for resource in [*snap.resources.values(), calendar, *snap.not_found.values()]:
            if resource.content_type.split("/")[0] not in ("text", "application"):
                continue  # images and fonts hold no sentences
            raw = resource.body.decode("latin-1")
            if raw.startswith("%PDF"):
                texts.append(raw)
                continue
            raw = resource.body.decode("utf-8")
            texts.append(raw)
            texts.append(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split()))
    network_text = "\n".join(texts)
    copied = [s for s in sentences if " ".join(s.split()) in network_text]
    assert not copied, copied[:3]
