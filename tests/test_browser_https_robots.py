"""The browser's https requests recorded through the recording proxy's TLS interception, and
robots.txt obeyed for every request the browser makes, as the plain crawler obeys it.

Two loopback HTTPS servers with self-signed certificates made here: the site, whose shell
gets its words by fetch() of a gzip JSON endpoint and also asks for JSON under a path its
robots.txt disallows; and another origin, whose robots.txt disallows one of the two images
the site's script asks it for. Crawled once with `--browser` (robots obeyed) and once more
with `--no-robots`.
"""

from __future__ import annotations

import datetime
import gzip
import json
import ssl
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update
from tests.conftest import ROOT, CrawledCrawl, Record, palimpsest, run_coroutine
from tests.hostile_server import HostileServer, crawl_sites, page
from tests.test_browser_crawl import PNG

WORDS = "These words came over TLS, by fetch, and the archive kept them"
WORDS_JSON = gzip.compress(json.dumps({"words": WORDS}).encode(), mtime=0)
HIDDEN_JSON = json.dumps({"words": "robots.txt asked crawlers not to read this"}).encode()


def _shell(other: str) -> str:
    return f"""<!doctype html><html><head><title>tls shell</title></head>
<body><main id="words">loading</main>
<a href="/private/linked.html">a link robots.txt disallows</a>
<a href="/second.html">the next page, in the same tab</a>
<script>
document.cookie = 'left=behind; path=/';
localStorage.setItem('left', 'behind');
sessionStorage.setItem('left', 'behind');
fetch('/api/words.json').then(r => r.json()).then(data => {{
  document.getElementById('words').textContent = data.words;
}});
fetch('/private/hidden.json').catch(() => null);
for (const path of ['/open.png', '/blocked/pic.png']) {{
  const img = document.createElement('img');
  img.src = '{other}' + path;
  document.body.appendChild(img);
}}
</script></body></html>"""


# what the next page in the tab sees of what the first one stored
SECOND = """<!doctype html><html><body><p id="seen">?</p><script>
document.getElementById('seen').textContent = 'seen: [' + document.cookie + '|'
  + localStorage.getItem('left') + '|' + sessionStorage.getItem('left') + ']';
</script></body></html>"""


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A TLS server context with a certificate for 127.0.0.1 that nothing trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed test origin")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "origin.pem", folder / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


class TLSServer(HostileServer):
    """The hostile server's routes and counts, spoken over TLS."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        for httpd in self._servers:
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)

    def url(self, path: str = "/", port: int = 0) -> str:
        return super().url(path, port).replace("http://", "https://", 1)


@dataclass
class Crawls:
    site: TLSServer
    other: TLSServer
    obeyed: CrawledCrawl
    ignored: CrawledCrawl
    root: Path
    hits: Counter  # of both servers, (server, path), after the crawl that obeyed robots.txt


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> Crawls:
    root = tmp_path_factory.mktemp("tls")
    context = _self_signed(tmp_path_factory.mktemp("certs"))
    with TLSServer(context) as site, TLSServer(context) as other:
        site.route("/", page(_shell(other.url("").rstrip("/"))))
        site.route("/second.html", page(SECOND))
        site.route("/robots.txt", page("User-agent: *\nDisallow: /private/\n",
                                       content_type="text/plain"))
        site.route("/api/words.json", lambda ex: ex.send(
            200, WORDS_JSON, "application/json", headers={"Content-Encoding": "gzip"}))
        site.route("/private/hidden.json", lambda ex: ex.send(200, HIDDEN_JSON,
                                                              "application/json"))
        other.route("/robots.txt", page("User-agent: *\nDisallow: /blocked/\n",
                                        content_type="text/plain"))
        for path in ("/open.png", "/blocked/pic.png"):
            other.route(path, lambda ex: ex.send(200, PNG, "image/png"))
        # one page at a time: both pages in the one tab, one after the other
        obeyed, _ = crawl_sites(root, {"app": site.url("/")}, "--browser",
                                "--concurrency-per-site", "1", timeout=10)
        hits = Counter({("site", path): n for (_, path), n in site.hits.items()}
                       | {("other", path): n for (_, path), n in other.hits.items()})
        ignored, _ = crawl_sites(root, {}, "--browser", "--no-robots", timeout=10,
                                 init=False)
    return Crawls(site, other, obeyed, ignored, root, hits)


def _of(records: list[Record], url: str, kind: str) -> list[Record]:
    return [r for r in records if r.url == url and r.type == kind]


def test_json_fetched_over_https_is_in_the_warc_byte_for_byte(crawls):
    url = crawls.site.url("/api/words.json")
    records = crawls.obeyed.records()
    (response,) = _of(records, url, "response")
    assert url.startswith("https://127.0.0.1:")
    assert response.body == WORDS_JSON  # as the server sent it, still gzip
    assert ("Content-Encoding", "gzip") in response.http_headers
    assert response.head == "HTTP/1.1 200 X"  # the server's own reason phrase
    (request,) = _of(records, url, "request")
    assert request.head.startswith("GET /api/words.json HTTP/1.1")  # as sent in the tunnel
    (entry,) = [e for e in crawls.obeyed.log() if e["url"] == url]
    assert entry["reason"] == "browser" and entry["status"] == 200
    assert entry["via"] == crawls.site.url("/")
    (dom,) = _of(records, "urn:dom:" + crawls.site.url("/"), "resource")
    assert WORDS.encode() in dom.body


def test_the_crawls_ca_certificate_is_kept_with_the_crawl(crawls):
    (crawl_dir,) = {w.parent for w in crawls.obeyed.warcs}
    ca = x509.load_pem_x509_certificate((crawl_dir / "tls-ca.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"PRIVATE KEY" not in b"".join(p.read_bytes() for p in crawl_dir.iterdir()
                                          if p.suffix == ".pem")


def test_warcio_check_and_our_index_read_the_https_records(crawls):
    done = subprocess.run([str(ROOT / ".venv/bin/warcio"), "check",
                           *map(str, crawls.obeyed.warcs)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    collection = Collection(crawls.root)
    update(collection)
    with Catalog.open(collection) as catalog:
        captures = catalog.captures(crawls.site.url("/api/words.json"))
    assert captures and captures[0].status == 200 and captures[0].url.startswith("https://")
    found = json.loads(palimpsest("search", "--collection", str(crawls.root), "--json",
                                  '"came over TLS"').stdout)
    assert crawls.site.url("/") in json.dumps(found)


def test_browser_requests_disallowed_by_robots_are_refused_and_logged(crawls):
    log = crawls.obeyed.log()
    hidden = crawls.site.url("/private/hidden.json")
    blocked = crawls.other.url("/blocked/pic.png")
    assert crawls.hits["site", "/private/hidden.json"] == 0
    assert crawls.hits["other", "/blocked/pic.png"] == 0
    records = crawls.obeyed.records()
    for url in (hidden, blocked):
        assert not [r for r in records if r.url == url]
        # the browser's request (via the page); the crawler, reading the rendered DOM, may
        # ask for the image too, and is refused as well
        (entry,) = [e for e in log if e["url"] == url and "via" in e]
        assert (entry["outcome"], entry["why"], entry["site"]) == ("excluded", "robots", "app")
        assert entry["via"] == crawls.site.url("/")
        assert {e["outcome"] for e in log if e["url"] == url} == {"excluded"}
    # the same shape as the plain crawler's refusal of a link under the same rule
    (linked,) = [e for e in log if e["url"] == crawls.site.url("/private/linked.html")]
    assert (linked["outcome"], linked["why"]) == ("excluded", "robots")
    assert set(linked) - {"via"} <= set(entry)


def test_other_origins_robots_txt_is_fetched_once_and_obeyed(crawls):
    assert crawls.hits["other", "/robots.txt"] == 1
    assert crawls.other.hits[0, "/robots.txt"] == 1  # not by the crawl that ignores it
    opened = crawls.other.url("/open.png")
    for crawl in (crawls.obeyed, crawls.ignored):
        assert _of(crawl.records(), opened, "response") or _of(crawl.records(), opened,
                                                               "revisit")
    robots = [e for e in crawls.obeyed.log() if e["url"] == crawls.other.url("/robots.txt")]
    assert [e["status"] for e in robots] == [200]
    assert robots[0]["site"] == "app"


def test_no_robots_lets_the_browser_fetch_what_robots_disallows(crawls):
    records = crawls.ignored.records()
    (hidden,) = _of(records, crawls.site.url("/private/hidden.json"), "response")
    assert hidden.body == HIDDEN_JSON
    blocked = crawls.other.url("/blocked/pic.png")
    assert _of(records, blocked, "revisit")  # the same bytes as /open.png
    assert not [e for e in crawls.ignored.log() if e.get("why") == "robots"]


def test_a_page_sees_nothing_the_tabs_last_page_stored(crawls):
    records = crawls.obeyed.records()
    (dom,) = _of(records, "urn:dom:" + crawls.site.url("/second.html"), "resource")
    assert b"seen: [|null|null]" in dom.body  # no cookie, localStorage, sessionStorage left
    rendered = [e["url"] for e in crawls.obeyed.log() if e["outcome"] == "rendered"]
    assert rendered == [crawls.site.url("/"), crawls.site.url("/second.html")]


def test_https_through_an_upstream_proxy_is_recorded_inside_its_connect_tunnel(tmp_path):
    """The network's proxy, when there is one, is asked for a CONNECT tunnel to the origin,
    and the exchange inside it is recorded as a direct one is."""
    import asyncio

    from scrapy.signalmanager import SignalManager

    from crawler import signals as our_signals
    from crawler.crawl_ca import CrawlCA
    from crawler.dedup import PayloadHistory
    from crawler.recording_proxy import PageOfRequests, RecordingProxy, WireRecorder

    written, tunnels = [], []
    signals = SignalManager()
    signals.connect(lambda records: written.extend(records), our_signals.warc_records,
                    weak=False)

    async def pipe(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def upstream(reader, writer):  # a bare CONNECT proxy
        line = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0].decode()
        tunnels.append(line)
        host, port = line.split()[1].rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def session(url: str) -> bytes:
        parts = url.removeprefix("https://").split("/", 1)[0]
        server = await asyncio.start_server(upstream, "127.0.0.1", 0)
        ca = CrawlCA()
        proxy = RecordingProxy(
            WireRecorder(signals, PayloadHistory(), proxied=True), PageOfRequests(url, "a", ""),
            f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", timeout=5,
            max_resources=10, max_bytes=10_000, ca=ca)
        host, port = (await proxy.start()).removeprefix("http://").split(":")
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"CONNECT {parts} HTTP/1.1\r\nHost: {parts}\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            trusting = ssl.create_default_context(cadata=ca.pem.decode())
            await writer.start_tls(trusting, server_hostname="127.0.0.1")  # our CA's leaf
            writer.write(f"GET /api/words.json HTTP/1.1\r\nHost: {parts}\r\n\r\n".encode())
            answer = await reader.read()
            writer.close()
            return answer
        finally:
            await proxy.close()
            server.close()

    with TLSServer(_self_signed(tmp_path)) as origin:
        origin.route("/api/words.json", lambda ex: ex.send(200, WORDS_JSON, "application/json"))
        url = origin.url("/api/words.json")
        answer = run_coroutine(session(url))
    assert answer.endswith(WORDS_JSON)
    assert tunnels == [f"CONNECT {url.split('/')[2]} HTTP/1.1"]
    request, response = written
    assert response.rec_headers.get_header("WARC-Target-URI") == url
    assert (request.http_headers.protocol, request.http_headers.statusline) == (
        "GET", "/api/words.json HTTP/1.1")  # origin-form, inside the tunnel
    assert response.raw_stream.read() == WORDS_JSON
