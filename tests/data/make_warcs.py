"""Write the small WARC files of tests/data: good ones in the shapes other tools write, and
deliberately damaged copies. Deterministic (fixed record ids and dates), so rerunning it
rewrites the same bytes:

    .venv/bin/python tests/data/make_warcs.py

- `sample-1.1.warc.gz`   WARC/1.1, one gzip member per record (as warcio and our crawler write)
- `sample-1.0.warc`      WARC/1.0, uncompressed, the same records
- `angle-brackets.warc`  a wget 1.19 record: `WARC-Target-URI: <http://...>`
- `damaged.warc.gz`      sample-1.1 with a byte flipped inside record 3 and record 6 cut short
- `damaged.warc`         sample-1.0 with bytes cut out of record 3 and a wrong Content-Length
                         on record 6

It also holds what the tests use to have other tools write WARCs: a loopback web site,
`wget --warc-file` against it, and warcio's `capture_http`.

The records: warcinfo; request + response (HTML); a chunked, gzip-encoded text response; a
brotli-encoded page; a 404; a redirect; a revisit naming its original; a revisit naming nothing
(found by URL and digest); a resource; a text metadata record (listed by cdxj-indexer); a
warc-fields metadata record (not listed); an image.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import urllib.request
from base64 import b32encode
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from threading import Thread

import brotli
from warcio.capture_http import capture_http
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
PAGE = (b"<!doctype html><html><head><meta charset='utf-8'><title>Home of A</title></head>"
        b"<body><nav>Menu</nav><p>Site A keeps a record of the disclosure line.</p>"
        b"<footer>Distributed on behalf of a foreign principal.</footer></body></html>")
NEWS = b"News of the day: the archive grew by one page.\n" * 20
B_PAGE = ("<html><head><title>Site B</title></head><body><p>Bonjour, l'\u00e9t\u00e9.</p>"
          "</body></html>")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def http(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def chunked(data: bytes, size: int = 100) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
             for i in range(0, len(data), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def write_sample(out: BytesIO, *, gzipped: bool, version: str) -> None:
    """The sample records, written with warcio in the given WARC version and compression."""
    writer = WARCWriter(out, gzip=gzipped, warc_version=version)
    frac = ".000000" if version == "1.1" else ""
    serial = iter(range(1, 100))

    def headers(day: int, **extra: str) -> dict[str, str]:
        n = next(serial)
        return {"WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
                "WARC-Date": f"2024-01-{day:02d}T12:00:{n:02d}{frac}Z", **extra}

    def write(url: str, kind: str, block: bytes, day: int, content_type: str = "") -> dict:
        warc_headers = headers(day)
        writer.write_record(writer.create_warc_record(
            url, kind, payload=BytesIO(block), length=len(block),
            warc_content_type=content_type, warc_headers_dict=warc_headers))
        return warc_headers

    info = writer.create_warcinfo_record("sample.warc", {"software": "make_warcs.py"})
    for name, value in headers(1).items():
        info.rec_headers.replace_header(name, value)
    writer.write_record(info)
    write("http://site-a.test/", "request",
          b"GET / HTTP/1.1\r\nHost: site-a.test\r\n\r\n", 1)
    home = write("http://site-a.test/", "response", http("200 OK", [
        ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE)))],
        PAGE), 1)
    write("http://site-a.test/news.txt", "response", http("200 OK", [
        ("Content-Type", "text/plain"), ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked")], chunked(gzip.compress(NEWS, mtime=0))), 1)
    b_body = brotli.compress(B_PAGE.encode("utf-8"))
    write("https://www.site-b.test/", "response", http("200 OK", [
        ("Content-Type", "text/html; charset=UTF-8"), ("Content-Encoding", "br"),
        ("Content-Length", str(len(b_body)))], b_body), 1)
    write("http://site-a.test/missing", "response", http("404 Not Found", [
        ("Content-Type", "text/html"), ("Content-Length", "9")], b"not found"), 1)
    write("http://site-b.test/old", "response", http("301 Moved Permanently", [
        ("Location", "https://www.site-b.test/"), ("Content-Length", "0")], b""), 1)
    digest = "sha1:" + b32encode(hashlib.sha1(PAGE).digest()).decode()
    head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Length", str(len(PAGE)))],
                            protocol="HTTP/1.1")
    # a recrawl naming its original (as our crawler and warcio write it)...
    writer.write_record(writer.create_revisit_record(
        "http://site-a.test/", digest, "http://site-a.test/", home["WARC-Date"],
        http_headers=head, warc_headers_dict=headers(8)))
    # ...and one naming nothing, with no HTTP headers (older tools): found by URL and digest
    bare = writer.create_revisit_record("http://site-a.test/", digest, "", "",
                                        warc_headers_dict=headers(9))
    for name in ("WARC-Refers-To-Target-URI", "WARC-Refers-To-Date"):
        bare.rec_headers.remove_header(name)
    writer.write_record(bare)
    write("http://site-a.test/notes.txt", "resource",
          b"Plain notes kept as a resource record.\n", 2, "text/plain; charset=utf-8")
    write("metadata://make-warcs/log.txt", "metadata", b"crawl log line\n", 2, "text/plain")
    write("http://site-a.test/", "metadata", b"outlink: http://site-b.test/old L a/@href\r\n",
          2, "application/warc-fields")
    write("http://site-a.test/logo.png", "response", http("200 OK", [
        ("Content-Type", "image/png"), ("Content-Length", str(len(PNG)))], PNG), 2)


def angle_brackets() -> bytes:
    """One wget 1.19 style response: the target URI written in angle brackets."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=False, warc_version="1.0")
    body = b"<html><head><title>C</title></head><body>Site C page</body></html>"
    message = http("200 OK", [("Content-Type", "text/html"),
                              ("Content-Length", str(len(body)))], body)
    writer.write_record(writer.create_warc_record(
        "http://site-c.test/page", "response", payload=BytesIO(message), length=len(message),
        warc_headers_dict={"WARC-Record-ID": "<urn:uuid:00000000-0000-4000-8000-0000000000c1>",
                           "WARC-Date": "2024-02-01T00:00:00Z"}))
    data = out.getvalue()
    return data.replace(b"WARC-Target-URI: http://site-c.test/page",
                        b"WARC-Target-URI: <http://site-c.test/page>")


def record_offsets(data: bytes) -> list[int]:
    """Where each record of a good sample file begins."""
    from warcio.archiveiterator import ArchiveIterator

    it = ArchiveIterator(BytesIO(data))
    offsets = []
    for _ in it:
        offsets.append(it.get_record_offset())
    return offsets


def damage_gzip(data: bytes) -> bytes:
    """Flip one byte inside the compressed data of record 3 and cut record 6 in half."""
    starts = record_offsets(data) + [len(data)]
    out = bytearray(data)
    middle = (starts[3] + starts[4]) // 2
    out[middle] ^= 0x55
    cut_from, cut_to = (starts[6] + starts[7]) // 2, starts[7]
    return bytes(out[:cut_from] + out[cut_to:])


def damage_plain(data: bytes) -> bytes:
    """Cut 40 bytes out of record 3's body; make record 6's Content-Length one digit wrong."""
    starts = record_offsets(data) + [len(data)]
    out = bytearray(data)
    record6 = bytes(out[starts[6]:starts[7]])
    head, _, rest = record6.partition(b"Content-Length: ")
    digits, _, tail = rest.partition(b"\r\n")
    wrong = str(int(digits) + 7).encode()
    record6 = head + b"Content-Length: " + wrong + b"\r\n" + tail
    out[starts[6]:starts[7]] = record6
    in_body = starts[4] - 100  # inside record 3's payload, clear of its headers
    del out[in_body:in_body + 40]
    return bytes(out)


SITE = {
    "index.html": b"<html><head><title>Loopback home</title></head><body><h1>Home</h1>"
                  b"<a href='page2.html'>two</a> <a href='notes.txt'>notes</a> "
                  b"<a href='dir'>dir</a> <a href='gone.html'>gone</a>"
                  b"<img src='pixel.png'></body></html>",
    "page2.html": b"<html><head><title>Page two</title></head><body><p>The second page of "
                  b"the loopback site.</p><a href='index.html'>home</a></body></html>",
    "notes.txt": b"Loopback notes, plain text.\n",
    "pixel.png": PNG,
    "dir/index.html": b"<html><head><title>A folder</title></head><body>inside</body></html>",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def loopback_site(root: Path) -> Iterator[str]:
    """Serve SITE from `root` on 127.0.0.1 at an ephemeral port; yields its base URL. Its
    pages link to a 404 and to a folder without its slash (a 301)."""
    for name, data in SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def wget_warc(base_url: str, out: Path, *, compress: bool = True) -> Path:
    """Mirror the loopback site with `wget --warc-file`; the WARC it wrote."""
    name = "wget-gz" if compress else "wget-plain"
    args = ["/usr/bin/wget", "--no-proxy", "--quiet", "--recursive", "--level=2",
            f"--directory-prefix={out / (name + '-mirror')}", f"--warc-file={out / name}"]
    if not compress:
        args.append("--no-warc-compression")
    # wget exits 8 when a page answers 404, as gone.html does: the WARC is what counts
    subprocess.run([*args, base_url], timeout=120, check=False)
    path = out / (name + (".warc.gz" if compress else ".warc"))
    assert path.is_file(), f"wget wrote no {path.name}"
    return path


def capture_http_warc(base_url: str, path: Path) -> Path:
    """Fetch three pages of the loopback site through warcio's capture_http."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with capture_http(str(path)):
        for page in ("", "page2.html", "notes.txt"):
            with opener.open(base_url + page) as response:
                response.read()
    return path


def build() -> dict[str, bytes]:
    files = {}
    for name, gzipped, version in (("sample-1.1.warc.gz", True, "1.1"),
                                   ("sample-1.0.warc", False, "1.0")):
        out = BytesIO()
        write_sample(out, gzipped=gzipped, version=version)
        files[name] = out.getvalue()
    files["angle-brackets.warc"] = angle_brackets()
    files["damaged.warc.gz"] = damage_gzip(files["sample-1.1.warc.gz"])
    files["damaged.warc"] = damage_plain(files["sample-1.0.warc"])
    return files


def main() -> None:
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"wrote tests/data/{name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
