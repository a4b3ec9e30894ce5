"""Archived pages are hostile input. Captures with non-ASCII target URIs, statuses that are no
HTTP status, header names and values that no HTTP message may carry, and target URIs written to
break out of a Link header are replayed, listed and linked without a 500, an invalid status
line or header, or a Memento link they can forge; a CDX filter that would match for ever is
refused in bounded time; `palimpsest serve --host` answers to the name it listens on only.

The WARC records are written byte by byte here, so that nothing tidies them on the way.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
import subprocess
import sys
import time
from base64 import b32encode
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

from index.collection import Collection
from index.warc_import import add_warcs
from tests.conftest import ROOT
from web import create_app, host_name, served_names

HOST = "http://hostile.test/"
NON_ASCII = HOST + "café/ünï?q=ж"
BREAKOUT = HOST + 'x>; rel="first memento", <http://evil.test/>; rel="original'
STATUSES = {"abc": HOST + "status-abc", "99999": HOST + "status-99999", "0": HOST + "status-0",
            "101": HOST + "status-101"}
HEADERS = HOST + "headers"
ODD_TYPE = HOST + "odd-type"
REDIRECT = HOST + "moved"
BROKEN_LINKS = HOST + "broken-links"
BROKEN_REDIRECT = HOST + "moved-nowhere"
NO_URL = "http://[hostile.test/"
# links that urljoin refuses ("Invalid IPv6 URL") everywhere a page may hold one
BROKEN_PAGE = (b'<!doctype html><html><head><base href="http://[base/"><link rel="stylesheet" '
               b'href="http://[css/"><style>p { background: url(http://[bg/) }</style></head>'
               b'<body><p><a href="http://[oops/">x</a><img src="//[::1"> '
               b'<img srcset="http://[s/ 1x" src="a.png"></p></body></html>')
PAGE = b"<!doctype html><html><head><title>Hostile</title></head><body><p>hi</p></body></html>"
HTML = b"Content-Type: text/html"
# RFC 7230: a header name is a token; a value is visible ASCII, spaces and tabs (obs-text
# aside, which no archive should send on)
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e]*")
STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-5][0-9][0-9] [\t\x20-\x7e]*")
# RFC 8288 link-values, every parameter quoted as Memento writes them
LINK_VALUE = re.compile(r'\s*<([^<>]*)>((?:\s*;\s*[a-z]+="[^"]*")*)\s*(?:,|\Z)')


def _response(status_line: bytes, *headers: bytes, body: bytes = PAGE) -> bytes:
    return b"\r\n".join([status_line, *headers, b"Content-Length: %d" % len(body), b"",
                         body])


# the captures, one a second from 2026-01-01T00:00:00Z, their HTTP messages byte for byte
CAPTURES = [
    (NON_ASCII, _response(b"HTTP/1.1 200 OK", HTML)),
    (BREAKOUT, _response(b"HTTP/1.1 200 OK", HTML)),
    *((url, _response(b"HTTP/1.1 %s Strange" % code.encode(), HTML))
      for code, url in STATUSES.items()),
    (HEADERS, _response(b"HTTP/1.1 200 OK", HTML, b"Bad Name: spaced out", b"X-Folded: one",
                        b"  two", b"X-\xc3\x9cn\xc3\xaf: a non-ASCII name", b"X(y): not a token",
                        b"X-Latin: caf\xe9", b"X-Utf8: \xd0\xb6", b"X-Cr: one\rtwo",
                        b"X-Ctl: bell\x07", b"X-Fine: kept")),
    (ODD_TYPE, _response(b"HTTP/1.1 200 OK", b"Content-Type: application/\xd0\xb6")),
    (REDIRECT, _response(b"HTTP/1.1 302 Found", HTML, b'Location: /d\xc3\xa9st x>"; rel=x')),
    (BROKEN_LINKS, _response(b"HTTP/1.1 200 OK", HTML, body=BROKEN_PAGE)),
    (BROKEN_REDIRECT, _response(b"HTTP/1.1 302 Found", HTML, b"Location: http://[oops/")),
    (NO_URL, _response(b"HTTP/1.1 200 OK", HTML, body=BROKEN_PAGE)),
]
TIMESTAMPS = {url: f"202601010000{n:02d}" for n, (url, _) in enumerate(CAPTURES)}


def _warc_record(uri: str, timestamp: str, block: bytes) -> bytes:
    """A WARC/1.1 response record of exactly these bytes (no escaping, no validation)."""
    body = block.partition(b"\r\n\r\n")[2]
    digest = "sha1:" + b32encode(hashlib.sha1(body).digest()).decode()
    date = f"{timestamp[:4]}-{timestamp[4:6]}-{timestamp[6:8]}T{timestamp[8:10]}:" \
           f"{timestamp[10:12]}:{timestamp[12:]}Z"
    head = (f"WARC/1.1\r\nWARC-Type: response\r\n"
            f"WARC-Record-ID: <urn:uuid:{hashlib.md5(uri.encode()).hexdigest()}>\r\n"
            f"WARC-Date: {date}\r\nWARC-Target-URI: {uri}\r\nWARC-Payload-Digest: {digest}\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(block)}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    """A collection of the hostile captures' WARC, added as a user adds any tool's WARCs."""
    tmp = tmp_path_factory.mktemp("hostile")
    warc = tmp / "hostile.warc"
    warc.write_bytes(b"".join(_warc_record(url, TIMESTAMPS[url], block)
                              for url, block in CAPTURES))
    collection = Collection(tmp / "collection")
    summary = add_warcs(collection, [warc], fulltext=False)
    assert summary.damaged == []
    return collection


@pytest.fixture(scope="module")
def client(hostile: Collection):
    return create_app({"COLLECTION": str(hostile.root), "TESTING": True}).test_client()


@contextmanager
def serving(collection: Collection, *options: str) -> Iterator[tuple[str, int]]:
    """`palimpsest serve` over `collection` in a child process, as a user runs it: the host
    and port of the address it prints."""
    server = subprocess.Popen([sys.executable, "-m", "palimpsest.cli", "serve", "--collection",
                               str(collection.root), "--port", "0", *options], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ready = server.stdout.readline()
        found = re.search(r"http://(\S+):(\d+)/ \(Ctrl-C", ready)
        assert found, f"palimpsest serve said {ready!r}"
        yield found.group(1), int(found.group(2))
    finally:
        server.kill()
        server.wait(10)


def _path(url: str) -> str:
    """The archived URL as a client puts it in a request path (percent-encoded UTF-8)."""
    return quote(url, safe=":/?=&")


def _routes(url: str) -> list[str]:
    ts, path = TIMESTAMPS[url], _path(url)
    return [f"/web/{ts}mp_/{path}", f"/web/{ts}id_/{path}", f"/web/{ts}/{path}",
            f"/web/*/{path}", f"/timemap/link/{path}", f"/timegate/{path}",
            f"/view/headers/{ts}/{path}", f"/view/text/{ts}/{path}",
            f"/api/captures?url={quote(url, safe='')}", f"/cdx?url={quote(url, safe='')}",
            f"/cdx?url={quote(url, safe='')}&output=link"]


def _raw_get(address: str, port: int, path: str, host: str) -> tuple[bytes, list[bytes]]:
    """The status line and header lines of the server's answer, as bytes on the wire."""
    with socket.create_connection((address, port), timeout=30) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    lines = answer.partition(b"\r\n\r\n")[0].split(b"\r\n")
    return lines[0], lines[1:]


def _links(value: str) -> list[tuple[str, dict[str, str]]]:
    """A Link header or link-format body parsed strictly (RFC 8288); fails on anything else."""
    links, pos, value = [], 0, value.strip()
    while pos < len(value):
        found = LINK_VALUE.match(value, pos)
        assert found, f"not a link-value: {value[pos:]!r}"
        uri = found.group(1)
        # nothing a lax parser splits on, either
        assert not set(uri) & set(' "<>;,'), uri
        links.append((uri, dict(re.findall(r'([a-z]+)="([^"]*)"', found.group(2)))))
        pos = found.end()
    return links


def test_strange_captures_get_valid_status_lines_and_headers_on_the_wire(hostile):
    with serving(hostile) as (_, port):
        for url, _ in CAPTURES:
            for path in _routes(url):
                status, headers = _raw_get("127.0.0.1", port, path, f"127.0.0.1:{port}")
                assert STATUS_LINE.fullmatch(status), (path, status)
                # none of these captures is a server error, and none may become one
                assert not status.startswith((b"HTTP/1.1 5", b"HTTP/1.0 5")), (path, status)
                for line in headers:
                    name, colon, value = line.partition(b":")
                    assert colon and TOKEN.fullmatch(name), (path, line)
                    assert FIELD_VALUE.fullmatch(value), (path, line)


@pytest.mark.parametrize("code", list(STATUSES))
def test_a_status_that_is_no_http_status_replays_as_200_and_stays_visible(client, code):
    url = STATUSES[code]
    ts, path = TIMESTAMPS[url], _path(url)
    document = client.get(f"/web/{ts}mp_/{path}")
    assert document.status_code == 200
    assert document.headers["X-Archive-Orig-Status"] == f"{code} Strange"
    assert b"<p>hi</p>" in document.data
    banner = client.get(f"/web/{ts}/{path}")
    assert banner.status_code == 200
    assert f"status {code} (not a final HTTP status: replayed as 200)" in banner.text
    tab = client.get(f"/view/headers/{ts}/{path}")
    assert f"<td>{code} Strange</td>" in tab.text
    assert client.get(f"/api/captures?url={quote(url, safe='')}").status_code == 200


def test_headers_no_http_message_may_carry_are_shown_but_not_sent_on(client):
    ts, path = TIMESTAMPS[HEADERS], _path(HEADERS)
    document = client.get(f"/web/{ts}mp_/{path}")
    assert document.status_code == 200
    assert document.headers["X-Archive-Orig-X-Fine"] == "kept"
    for name, value in document.headers.items():
        assert TOKEN.fullmatch(name.encode()), name
        assert FIELD_VALUE.fullmatch(value.encode("latin-1")), (name, value)
    tab = client.get(f"/view/headers/{ts}/{path}").text
    for shown in ("Bad Name", "spaced out", "X-Ünï", "X(y)", "X-Latin", "café", "X-Utf8", "ж",
                  "X-Cr", "X-Ctl"):
        assert shown in tab, shown
    odd = client.get(f"/web/{TIMESTAMPS[ODD_TYPE]}id_/{_path(ODD_TYPE)}")
    assert odd.status_code == 200 and odd.headers["Content-Type"].isascii()


@pytest.mark.parametrize("url", [BROKEN_LINKS, NO_URL])
def test_links_that_are_no_urls_are_left_as_they_are(client, url):
    ts, path = TIMESTAMPS[url], _path(url)
    document = client.get(f"/web/{ts}mp_/{path}")
    assert document.status_code == 200
    assert b'href="http://[oops/"' in document.data and b"url(http://[bg/)" in document.data
    assert client.get(f"/web/{ts}/{path}").status_code == 200


def test_a_redirect_to_no_url_is_shown_as_archived(client):
    ts, path = TIMESTAMPS[BROKEN_REDIRECT], _path(BROKEN_REDIRECT)
    document = client.get(f"/web/{ts}mp_/{path}")
    assert document.status_code == 302 and "Location" not in document.headers
    assert document.headers["X-Archive-Orig-Location"] == "http://[oops/"
    view = client.get(f"/web/{ts}/{path}")
    assert view.status_code == 200 and "a redirect to" not in view.text


@pytest.mark.parametrize("url", [BREAKOUT, NON_ASCII])
def test_memento_links_of_strange_urls_parse_to_the_archive_s_own_links(client, url):
    ts, path = TIMESTAMPS[url], _path(url)
    replayed = client.get(f"/web/{ts}mp_/{path}")
    gate = client.get(f"/timegate/{path}")
    answers = {"memento": _links(replayed.headers["Link"]),
               "capture view": _links(client.get(f"/web/{ts}/{path}").headers["Link"]),
               "timegate": _links(gate.headers["Link"]),
               "timemap": _links(client.get(f"/timemap/link/{path}").text),
               "cdx": _links(client.get(f"/cdx?url={quote(url, safe='')}&output=link").text)}
    rels = {name: [params["rel"] for _, params in links] for name, links in answers.items()}
    assert rels == {"memento": ["original", "timegate", "timemap", "memento"],
                    "capture view": ["original", "timegate", "timemap", "memento"],
                    "timegate": ["original", "timemap", "memento"],
                    "timemap": ["original", "timegate", "self", "first last memento"],
                    "cdx": ["memento"]}
    assert gate.status_code == 302
    when = replayed.headers["Memento-Datetime"]
    for name, links in answers.items():
        for uri, params in links:
            assert not uri.startswith("http://evil.test"), (name, uri)
            if uri.startswith("http://localhost/"):
                # each link into the archive leads to this capture
                followed = client.get(uri.removeprefix("http://localhost"))
                assert followed.status_code in (200, 302), (name, uri)
                if params["rel"].endswith("memento"):
                    assert followed.headers["Memento-Datetime"] == when, (name, uri)


def test_a_costly_cdx_filter_is_refused_in_bounded_time(hostile):
    with serving(hostile) as (_, port):
        def cdx(spec: str) -> tuple[int, str]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", f"/cdx?url=hostile.test&matchType=host&output=json"
                                f"&filter={quote(spec, safe='')}")
            answer = conn.getresponse()
            return answer.status, answer.read().decode()

        started = time.monotonic()
        # a pattern that backtracks for ever, one whose nested counts take for ever to
        # compile, and one too long to look at
        for spec in [r"~url:(.{1,3}){1,40}\s", "~url:(((a{100}){100}){100}){100}",
                     "~url:" + "a" * 2000]:
            status, body = cdx(spec)
            assert status == 400, (spec, body)
            assert "filter" in body and "Traceback" not in body
        assert time.monotonic() - started < 20
        # the issue's own example, which the regex engine sees cannot match
        assert cdx("~url:(.*.*)*X") == (200, "")
        # and the server still answers
        status, body = cdx("~url:http://hostile.test/status-")
        assert status == 200 and len(body.splitlines()) == len(STATUSES)


def _get(address: str, port: int, host: str) -> int:
    conn = http.client.HTTPConnection(address, port, timeout=30)
    conn.request("GET", "/api/captures?url=http://hostile.test/headers", headers={"Host": host})
    return conn.getresponse().status


def test_serve_on_another_address_answers_to_it_and_to_no_other_name(hostile):
    # 127.0.0.2 is no loopback *name*, and the tests stay inside 127.0.0.0/8
    with serving(hostile, "--host", "127.0.0.2") as (printed, port):
        assert _get("127.0.0.2", port, f"127.0.0.2:{port}") == 200
        assert _get("127.0.0.2", port, "127.0.0.2") == 200
        assert _get("127.0.0.2", port, f"attacker.example:{port}") == 400
        assert _get("127.0.0.2", port, "127.0.0.2.attacker.example") == 400
        assert _get("127.0.0.2", port, "") == 400
        assert printed == "127.0.0.2"


def test_serve_answers_to_a_reverse_proxy_s_name_when_told(hostile):
    with serving(hostile, "--host", "127.0.0.2", "--allow-host", "Archive.Example") as (_, port):
        assert _get("127.0.0.2", port, "archive.example") == 200
        assert _get("127.0.0.2", port, f"archive.example:{port}") == 200
        assert _get("127.0.0.2", port, "attacker.example") == 400


def test_serve_on_every_address_answers_to_the_machine_s_names_only():
    names = served_names("0.0.0.0")
    assert {"127.0.0.1", "localhost", "::1", "0.0.0.0",
            host_name(socket.gethostname())} <= names
    assert "attacker.example" not in names
    assert host_name("[0:0::1]:8080") == "::1" and host_name("LocalHost.:80") == "localhost"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_serve_on_ipv6_loopback_answers_to_the_bracketed_address(hostile):
    with serving(hostile, "--host", "::1") as (printed, port):
        assert _get("::1", port, f"[::1]:{port}") == 200
        assert _get("::1", port, "[0:0::1]") == 200
        assert _get("::1", port, f"localhost:{port}") == 200
        assert _get("::1", port, f"attacker.example:{port}") == 400
        assert printed == "[::1]"
