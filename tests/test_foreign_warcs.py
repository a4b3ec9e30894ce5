"""WARCs written by other tools, and damaged ones, are read and catalogued whole.

wget and warcio's capture_http write their WARCs here, in the tests, against a loopback site;
tests/data holds WARC/1.0, WARC/1.1, wget's angle-bracket URIs and deliberately damaged files
(see tests/data/make_warcs.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update
from index.warc_import import add_warcs
from index.warc_reader import WarcReader, read_payload
from palimpsest.cli import main
from tests.data import make_warcs
from tests.data.make_warcs import capture_http_warc, loopback_site, wget_warc

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A loopback site, mirrored by wget (gzipped and plain WARCs) and fetched through
    capture_http, and a collection those WARCs were added to."""
    tmp = tmp_path_factory.mktemp("foreign")
    (tmp / "site").mkdir()
    with loopback_site(tmp / "site") as base:
        warcs = {"wget-gz": wget_warc(base, tmp), "wget-plain": wget_warc(base, tmp,
                                                                          compress=False),
                 "capture": capture_http_warc(base, tmp / "capture.warc.gz")}
    collection = Collection(tmp / "collection")
    summary = add_warcs(collection, warcs.values(), fulltext=False)
    yield {"base": base, "warcs": warcs, "collection": collection, "summary": summary}


def _by_url(catalog: Catalog, crawl: str) -> dict[str, tuple]:
    return {c.url: (c.status, c.mime, c.record_type) for c in catalog.by_crawl(crawl)}


@pytest.mark.parametrize("name", ["wget-gz", "wget-plain"])
def test_wget_warcs_are_catalogued_page_by_page(foreign, name):
    base = foreign["base"]
    with Catalog.open(foreign["collection"]) as catalog:
        found = _by_url(catalog, f"imported/{name}")
    assert found[base] == (200, "text/html", "response")
    assert found[base + "page2.html"] == (200, "text/html", "response")
    assert found[base + "notes.txt"] == (200, "text/plain", "response")
    assert found[base + "pixel.png"] == (200, "image/png", "response")
    assert found[base + "gone.html"][0] == 404
    assert found[base + "dir"][0] == 301
    assert found[base + "dir/"][0] == 200
    # wget writes `WARC-Target-URI: <http://...>`: the brackets never reach the catalog
    assert not [url for url in found if "<" in url or ">" in url]
    assert foreign["summary"].damaged == []


def test_capture_http_warc_is_catalogued(foreign):
    base = foreign["base"]
    with Catalog.open(foreign["collection"]) as catalog:
        found = _by_url(catalog, "imported/capture")
        home = catalog.captures(base)
    assert found == {base: (200, "text/html", "response"),
                     base + "page2.html": (200, "text/html", "response"),
                     base + "notes.txt": (200, "text/plain", "response")}
    # the same page fetched by three tools: one digest
    assert len({c.digest for c in home}) == 1 and len(home) == 3


def test_warc_1_0_uncompressed_and_1_1_gzipped_give_the_same_captures(tmp_path):
    collection = Collection(tmp_path)
    add_warcs(collection, [DATA / "sample-1.0.warc", DATA / "sample-1.1.warc.gz"],
              fulltext=False)
    with Catalog.open(collection) as catalog:
        def seen(crawl: str) -> list[tuple]:
            return sorted((c.url, c.timestamp, c.status, c.mime, c.digest, c.record_type,
                           c.payload_file is not None) for c in catalog.by_crawl(crawl))

        assert seen("imported/sample-1.0") == seen("imported/sample-1.1")
        assert len(seen("imported/sample-1.0")) == 9  # 6 responses, 2 revisits, 1 resource


def test_angle_bracket_target_uri_is_catalogued_without_brackets(tmp_path):
    collection = Collection(tmp_path)
    add_warcs(collection, [DATA / "angle-brackets.warc"], fulltext=False)
    with Catalog.open(collection) as catalog:
        [capture] = catalog.captures("http://site-c.test/page")
    assert (capture.url, capture.surt, capture.status) == ("http://site-c.test/page",
                                                           "test,site-c)/page", 200)


def _ids(path: Path) -> tuple[list[str], list]:
    reader = WarcReader(path)
    ids = [r.record_id[-3:-1] for r in reader]
    return ids, reader.damage


ALL = [f"{n:02d}" for n in range(1, 14)]


@pytest.mark.parametrize("name", ["damaged.warc.gz", "damaged.warc"])
def test_damaged_warc_gives_back_every_intact_record_and_reports_the_damage(name):
    # make_warcs damaged records 4 and 7 (one flipped byte or bytes cut out, one cut in half
    # or a wrong Content-Length); everything else must come back
    ids, damage = _ids(DATA / name)
    assert ids == [i for i in ALL if i not in ("04", "07")]
    assert len(damage) == 2
    for report in damage:
        assert report.file.endswith(name) and report.resumed_at > report.offset
        assert "offset" in str(report) and report.what


def test_damaged_file_is_indexed_with_its_damage_in_the_summary(tmp_path, capsys):
    collection = Collection(tmp_path)
    assert main(["add", "--collection", str(tmp_path), str(DATA / "damaged.warc.gz")]) == 0
    out = capsys.readouterr().out
    assert "2 damaged stretches skipped" in out and "at offset 990" in out
    with Catalog.open(collection) as catalog:
        urls = {c.url for c in catalog.by_crawl("imported/damaged")}
    assert "http://site-a.test/news.txt" not in urls  # record 4, damaged
    assert {"http://site-a.test/", "http://site-a.test/logo.png"} <= urls


@pytest.mark.parametrize("name", ["sample-1.1.warc.gz", "sample-1.0.warc"])
def test_file_cut_inside_its_last_record_keeps_all_the_others(tmp_path, name):
    data = (DATA / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[:-120])
    ids, damage = _ids(cut)
    assert ids == ALL[:-1]
    [report] = damage
    assert report.resumed_at is None and "nothing readable after it" in str(report)


def test_damaged_first_record_and_garbage_between_records_lose_nothing_else(tmp_path):
    data = bytearray((DATA / "sample-1.1.warc.gz").read_bytes())
    data[100] ^= 0xFF  # inside the warcinfo record's gzip member
    first = tmp_path / "first.warc.gz"
    first.write_bytes(bytes(data))
    assert _ids(first)[0] == ALL[1:]

    plain = (DATA / "sample-1.0.warc").read_bytes()
    starts = make_warcs.record_offsets(plain)
    junk = tmp_path / "junk.warc"
    junk.write_bytes(plain[:starts[5]] + b"\x00garbage WARC/1.0 not a record\r\n" * 3
                     + plain[starts[5]:])
    ids, damage = _ids(junk)
    assert ids == ALL and len(damage) == 1


def test_read_payload_decodes_chunked_gzip_and_brotli_bodies():
    path = DATA / "sample-1.1.warc.gz"
    records = {r.target_uri: r for r in WarcReader(path) if r.warc_type in
               ("response", "resource")}
    news = records["http://site-a.test/news.txt"]
    head, body = read_payload(path, news.offset, news.length)
    assert head.get_statuscode() == "200" and body == make_warcs.NEWS
    page = records["https://www.site-b.test/"]
    assert read_payload(path, page.offset, page.length)[1] == make_warcs.B_PAGE.encode()
    notes = records["http://site-a.test/notes.txt"]
    head, body = read_payload(path, notes.offset, notes.length)
    assert body.startswith(b"Plain notes") and head.get_header("Content-Type").startswith(
        "text/plain")


def test_non_warc_file_given_to_add_is_a_one_line_error(tmp_path, capsys):
    fake = tmp_path / "page.warc.gz"
    fake.write_bytes(b"<html>not a WARC</html>")
    assert main(["add", "--collection", str(tmp_path / "c"), str(fake)]) == 2
    err = capsys.readouterr().err
    assert "not a WARC file" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_add_never_overwrites_a_different_file_of_the_same_name(tmp_path, capsys):
    root = tmp_path / "c"
    assert main(["add", "--collection", str(root), str(DATA / "sample-1.0.warc")]) == 0
    # the same file again: nothing to do
    assert main(["add", "--collection", str(root), str(DATA / "sample-1.0.warc")]) == 0
    other = tmp_path / "sample-1.0.warc"
    shutil.copy(DATA / "angle-brackets.warc", other)
    capsys.readouterr()
    assert main(["add", "--collection", str(root), str(other)]) == 2
    assert "already holds a different file" in capsys.readouterr().err
    kept = root / "imported/sample-1.0/sample-1.0.warc"
    assert kept.read_bytes() == (DATA / "sample-1.0.warc").read_bytes()
    assert main(["add", "--collection", str(root), "--name", "../escape", str(other)]) == 2
    assert not (tmp_path / "escape").exists()
    assert main(["add", "--collection", str(root), "--name", "brackets", str(other)]) == 0
    assert (root / "imported/brackets/sample-1.0.warc").is_file()


def test_index_after_add_reads_nothing_again(foreign):
    again = update(foreign["collection"], fulltext=False)
    assert (again.files, again.captures) == (0, 0)
