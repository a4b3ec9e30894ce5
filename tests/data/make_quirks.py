"""Write the small archives of tests/data that other tools read and a strict reader might not:
ARC files, and WARCs with the quirks met in real collections. Deterministic, so rerunning it
rewrites the same bytes:

    .venv/bin/python tests/data/make_quirks.py

- `quirks.arc`, `quirks.arc.gz`   ARC 1.0 (Internet Archive, old Heritrix): a filedesc record and
                                  three responses; the `.gz` one gzipped one member per record
- `quirk-crcrlf.warc`             every WARC and HTTP header line ending in CR CR LF
- `quirk-no-reason.warc`          an HTTP status line without a reason phrase (`HTTP/1.1 200`)
- `quirk-bad-chunked.warc`        `Transfer-Encoding: chunked` on a body stored de-chunked, whose
                                  first line ("2001") reads as a chunk size
- `quirk-junk.warc`, `.warc.gz`   a record followed by a line of junk instead of its blank lines
- `quirk-warcinfo-unended.warc`,  a warcinfo record without the blank lines that end it (the
  `.warc.gz`                      plain one stops cdxj-indexer at the next record)
- `palimpsest-…~host.warc.gz`     a good WARC named as Palimpsest's crawler names its files

Each WARC holds a warcinfo record and the same three responses (RECORDS); a quirk of one record
is in the second response.
"""

from __future__ import annotations

import gzip
from io import BytesIO
from pathlib import Path

from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
PAGE = (b"<html><head><title>Quirky page</title></head><body><p>An old capture of site D, "
        b"kept by a tool with habits of its own.</p></body></html>")
NOTES = b"Plain notes of site D.\n"
# (url, HTTP status line, content type, body); the quirk goes into the second one
RECORDS = [("http://site-d.test/", "200 OK", "text/html", PAGE),
           ("http://site-d.test/notes.txt", "200 OK", "text/plain", NOTES),
           ("http://site-d.test/gone", "404 Not Found", "text/html", b"gone")]
QUIRKY_URL = RECORDS[1][0]
OWN_NAME = "palimpsest-20240301100000-20240301100000000-00000-4242~host.warc.gz"
JUNK = b"junk left by a crawler\r\n"
# stored de-chunked under `Transfer-Encoding: chunked`; its first line reads as a chunk size
UNCHUNKED = b"2001\r\nNotes of site D, kept since that year.\r\n"


def http(status: str, content_type: str, body: bytes, *, extra: str = "",
         eol: str = "\r\n") -> bytes:
    head = (f"HTTP/1.1 {status}{eol}Content-Type: {content_type}{eol}{extra}"
            f"Content-Length: {len(body)}{eol}{eol}")
    return head.encode("latin-1") + body


def arc(gzipped: bool) -> bytes:
    """An ARC 1.0 file as the Internet Archive's crawlers wrote them."""
    spec = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [(b"filedesc://quirks.arc 0.0.0.0 20010101000000 text/plain %d\n" % len(spec),
                spec)]
    for n, (url, status, content_type, body) in enumerate(RECORDS):
        message = http(status, content_type, body)
        line = f"{url} 192.0.2.{n + 1} 2001010112000{n} {content_type} {len(message)}\n"
        records.append((line.encode(), message))
    members = [head + block + b"\n" for head, block in records]
    if gzipped:
        return b"".join(gzip.compress(m, mtime=0) for m in members)
    return b"".join(members)


def warc(*, quirk: dict[str, bytes] | None = None, gzipped: bool = False,
         eol: str = "\r\n") -> list[bytes]:
    """The records of a WARC, each as its bytes (one gzip member each when `gzipped`);
    `quirk` maps a record's URL to the HTTP message to write instead, `eol` ends the lines
    of the HTTP heads."""
    records = []
    ids = iter(range(1, 100))

    def add(record) -> None:
        n = next(ids)
        record.rec_headers.replace_header(
            "WARC-Record-ID", f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>")
        record.rec_headers.replace_header("WARC-Date", f"2024-03-01T10:00:{n:02d}Z")
        out = BytesIO()
        WARCWriter(out, gzip=gzipped, warc_version="1.0").write_record(record)
        records.append(out.getvalue())

    writer = WARCWriter(BytesIO(), gzip=False, warc_version="1.0")
    add(writer.create_warcinfo_record("quirks.warc", {"software": "make_quirks.py"}))
    for url, status, content_type, body in RECORDS:
        message = (quirk or {}).get(url) or http(status, content_type, body, eol=eol)
        add(writer.create_warc_record(url, "response", payload=BytesIO(message),
                                      length=len(message)))
    return records


def _gzip(records: list[bytes]) -> bytes:
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def _crcrlf_head(record: bytes) -> bytes:
    """`record` with every line of its WARC head (the blank one too) ending in CR CR LF."""
    head, _, block = record.partition(b"\r\n\r\n")
    return head.replace(b"\r\n", b"\r\r\n") + b"\r\r\n\r\r\n" + block


def build() -> dict[str, bytes]:
    plain = warc()
    files = {"quirks.arc": arc(False), "quirks.arc.gz": arc(True),
             OWN_NAME: b"".join(warc(gzipped=True))}
    files["quirk-crcrlf.warc"] = b"".join(_crcrlf_head(r) for r in warc(eol="\r\r\n"))
    files["quirk-no-reason.warc"] = b"".join(warc(quirk={QUIRKY_URL: http(
        "200", "text/plain", NOTES)}))
    files["quirk-bad-chunked.warc"] = b"".join(warc(quirk={QUIRKY_URL: http(
        "200 OK", "text/plain", UNCHUNKED, extra="Transfer-Encoding: chunked\r\n")}))
    junk = list(plain)
    junk[2] = junk[2][:-4] + JUNK
    files["quirk-junk.warc"] = b"".join(junk)
    zipped = [gzip.decompress(m) for m in warc(gzipped=True)]
    files["quirk-junk.warc.gz"] = _gzip([*zipped[:2], zipped[2][:-4] + JUNK, *zipped[3:]])
    files["quirk-warcinfo-unended.warc"] = plain[0][:-4] + b"".join(plain[1:])
    files["quirk-warcinfo-unended.warc.gz"] = _gzip([zipped[0][:-4], *zipped[1:]])
    return files


def main() -> None:
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"wrote tests/data/{name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
