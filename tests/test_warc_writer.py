"""The WARC file writer on its own: exact bytes, rotation, `.open` naming, repair after a kill."""

from __future__ import annotations

import gzip
import itertools
import zlib
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from crawler.warc_writer import OPEN_SUFFIX, RotatingWarcWriter, repair_open_file

GOLDEN = Path(__file__).parent / "data" / "writer-golden.warc"
MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _writer(directory: Path, max_bytes: int = 1 << 30) -> RotatingWarcWriter:
    ids = (f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>" for n in itertools.count())
    return RotatingWarcWriter(directory, prefix="test", info=[("software", "test")],
                              max_bytes=max_bytes, record_id=lambda: next(ids),
                              clock=lambda: MOMENT, origin="4242~archive")


def _response(writer: RotatingWarcWriter, n: int):
    body = f"<html>page {n}</html>".encode() * 50
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    return writer._serializer.create_warc_record(
        f"http://example.test/{n}", "response", payload=BytesIO(body), length=len(body),
        http_headers=http, warc_headers_dict={"WARC-Record-ID": writer.record_id(),
                                              "WARC-Date": "2026-01-02T03:04:05.678000Z"})


def test_written_bytes_are_exactly_the_golden_file(tmp_path):
    writer = _writer(tmp_path)
    writer.write([_response(writer, 1)])
    writer.close()
    (path,) = writer.closed_files
    assert path.name == "test-20260102030405678-00000-4242~archive.warc.gz"
    written = gzip.decompress(path.read_bytes())
    # the golden file was written by this code once, checked with `warcio check`, and reviewed
    assert written == GOLDEN.read_bytes()


def test_files_rotate_at_the_size_limit_and_lose_open_when_closed(tmp_path):
    writer = _writer(tmp_path, max_bytes=500)
    for n in range(6):
        writer.write([_response(writer, n)])
        assert len(list(tmp_path.glob("*" + OPEN_SUFFIX))) <= 1
    writer.close()
    assert len(writer.closed_files) >= 3
    assert not list(tmp_path.glob("*" + OPEN_SUFFIX))
    for path in writer.closed_files:
        with open(path, "rb") as stream:
            assert next(iter(ArchiveIterator(stream))).rec_type == "warcinfo"


def test_a_torn_last_record_is_cut_and_every_complete_record_kept(tmp_path):
    writer = _writer(tmp_path)
    for n in range(5):
        writer.write([_response(writer, n)])
    open_file = next(tmp_path.glob("*" + OPEN_SUFFIX))
    writer._current.handle.close()  # what a kill -9 leaves: no close, no rename
    data = open_file.read_bytes()
    open_file.write_bytes(data[:-40])  # the last member torn mid-write
    closed, cut = repair_open_file(open_file)
    assert cut > 40 and not open_file.exists()
    with open(closed, "rb") as stream:
        urls = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)]
    assert urls == [None, "http://example.test/0", "http://example.test/1",
                    "http://example.test/2", "http://example.test/3"]


def test_a_payload_compressed_already_is_stored_in_its_gzip_member(tmp_path):
    # a screenshot's PNG (or a gzipped body) gains nothing from deflate: its member is stored
    # (deflate's stored blocks), read back byte for byte by any gzip reader; text is deflated
    writer = _writer(tmp_path)
    png = bytes(range(256)) * 400  # stands for compressed bytes
    shot = writer._serializer.create_warc_record(
        "urn:fullPage:http://example.test/", "resource", payload=BytesIO(png),
        length=len(png), warc_content_type="image/png",
        warc_headers_dict={"WARC-Record-ID": writer.record_id(),
                           "WARC-Date": "2026-01-02T03:04:05.678000Z"})
    writer.write([shot, _response(writer, 1)])
    writer.close()
    (path,) = writer.closed_files
    data = path.read_bytes()
    members = []
    while data:
        inflate = zlib.decompressobj(31)
        members.append((inflate.decompress(data), len(data) - len(inflate.unused_data)))
        data = inflate.unused_data
    _info, (stored, stored_size), (page, page_size) = members
    assert png in stored and stored_size > len(stored)  # not deflated: a little larger
    assert page_size < len(page) / 3  # the HTML, deflated
    with open(path, "rb") as stream:
        records = [(r.rec_type, r.content_stream().read()) for r in ArchiveIterator(stream)]
    assert records[1] == ("resource", png)
