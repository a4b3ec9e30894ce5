"""The capture catalog: what `palimpsest index` records, and every lookup later features use."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from io import BytesIO
from pathlib import Path

import pytest
from warcio.warcwriter import WARCWriter

from index.catalog import CATALOG_NAME, Catalog
from index.catalog_records import CaptureRow
from index.collection import Collection
from index.errors import UsageError
from index.indexer import update
from index.search.engines import open_index
from palimpsest.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
HOME = "http://site-a.test/"
HOME_DIGEST = "sha1:CVF5TYQZQKNLTW2JA4YYZ25LELMUT7S4"
CONFIG = """name = "test"
[[sites]]
name = "a"
seeds = ["http://site-a.test/"]
"""


def make_collection(root: Path, *names: str, crawl: str = "20240101000000") -> Collection:
    """A collection whose crawl folder holds copies of tests/data files."""
    folder = root / "crawls" / crawl
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(DATA / name, folder / name)
    (root / "palimpsest.toml").write_text(CONFIG)
    return Collection(root)


@pytest.fixture()
def sample(tmp_path: Path) -> Collection:
    collection = make_collection(tmp_path, "sample-1.1.warc.gz")
    update(collection, fulltext=False)
    return collection


def on_disk(collection: Collection, sql: str, *args: object) -> list[tuple]:
    """What the catalog file holds, read as any SQLite client reads it
    (docs/catalog-contract.md)."""
    with closing(sqlite3.connect(collection.derived_dir / CATALOG_NAME)) as db:
        return db.execute(sql, args).fetchall()


def rows(collection: Collection) -> list[tuple]:
    return on_disk(collection, "SELECT * FROM captures ORDER BY id")


def test_captures_of_a_url_oldest_first_with_revisits_resolved_to_their_payload(sample):
    with Catalog.open(sample) as catalog:
        found = catalog.captures(HOME)
    assert [(c.timestamp, c.record_type) for c in found] == [
        ("20240101120003", "response"), ("20240108120008", "revisit"),
        ("20240109120009", "revisit")]
    original = found[0]
    # one revisit names its original (URI + date), the other only shares its digest
    for revisit in found[1:]:
        assert (revisit.payload_file, revisit.payload_offset, revisit.payload_length) == (
            original.warc_file, original.offset, original.length)
        assert (revisit.status, revisit.mime, revisit.digest) == (200, "text/html",
                                                                  HOME_DIGEST)
    assert original.site == "a" and original.crawl == "20240101000000"
    assert original.warc_file == "crawls/20240101000000/sample-1.1.warc.gz"


def test_capture_json_has_the_captures_shape_of_the_design(sample):
    with Catalog.open(sample) as catalog:
        [capture] = catalog.captures("http://site-a.test/logo.png")
    assert capture.to_json() == {
        "url": "http://site-a.test/logo.png", "timestamp": "20240102120013", "status": 200,
        "mime": "image/png", "digest": "sha1:7BFWI73336WYQCN3E5KYPRKSKYCKQJZY",
        "crawl": "20240101000000", "site": "a", "length": 374, "offset": 3970,
        "filename": "crawls/20240101000000/sample-1.1.warc.gz", "record_type": "response",
        "record_id": "<urn:uuid:00000000-0000-4000-8000-000000000013>",
        "warc_date": "2024-01-02T12:00:13.000000Z"}


def test_urls_match_by_surt_key_across_scheme_and_www(sample):
    with Catalog.open(sample) as catalog:
        assert [c.url for c in catalog.captures("http://site-b.test/")] == [
            "https://www.site-b.test/"]
        assert catalog.captures("http://nowhere.test/") == []


def test_nearest_capture_is_the_closest_in_time(sample):
    with Catalog.open(sample) as catalog:
        assert catalog.nearest(HOME, "20240101").timestamp == "20240101120003"
        assert catalog.nearest(HOME, "20240106").timestamp == "20240108120008"
        assert catalog.nearest(HOME, "20240104000000").timestamp == "20240101120003"
        assert catalog.nearest(HOME, "2030").timestamp == "20240109120009"
        assert catalog.nearest("http://nowhere.test/", "2024") is None
        with pytest.raises(UsageError):
            catalog.nearest(HOME, "2024-01")


def test_lookups_by_crawl_digest_and_match_type(tmp_path):
    collection = make_collection(tmp_path, "sample-1.1.warc.gz")
    make_collection(tmp_path, "angle-brackets.warc", crawl="20240201000000")
    update(collection, fulltext=False)
    with Catalog.open(collection) as catalog:
        assert catalog.crawls() == ["20240101000000", "20240201000000"]
        assert [c.url for c in catalog.by_crawl("20240201000000")] == ["http://site-c.test/page"]
        assert len(catalog.by_digest(HOME_DIGEST)) == 3
        urls = lambda found: sorted({c.url for c in found})  # noqa: E731
        assert urls(catalog.query("site-a.test/", "prefix")) == [
            HOME, "http://site-a.test/logo.png", "http://site-a.test/missing",
            "http://site-a.test/news.txt", "http://site-a.test/notes.txt"]
        assert urls(catalog.query("http://site-a.test/n*")) == [
            "http://site-a.test/news.txt", "http://site-a.test/notes.txt"]
        assert urls(catalog.query("http://www.site-b.test/x", "host")) == [
            "http://site-b.test/old", "https://www.site-b.test/"]
        assert len(urls(catalog.query("*.test"))) == 8
        assert urls(catalog.query(HOME, "exact", from_ts="20240108", to_ts="2024010823")) == [
            HOME]
        assert len(catalog.query(HOME, limit=2)) == 2
        with pytest.raises(UsageError):
            catalog.query(HOME, "everything")


def test_latest_payloads_give_the_latest_2xx_capture_of_every_url(sample):
    with Catalog.open(sample) as catalog:
        latest = {url: rest for url, *rest in catalog.latest_payloads()}
    # the latest capture of the home page is a revisit: it names the record with the payload
    assert latest[HOME] == [HOME_DIGEST, HOME, "2024-01-01T12:00:03.000000Z"]
    assert "http://site-a.test/missing" not in latest  # 404
    assert "http://site-b.test/old" not in latest  # 301
    assert set(latest) == {HOME, "http://site-a.test/news.txt", "https://www.site-b.test/",
                           "http://site-a.test/logo.png"}


def test_index_twice_changes_nothing_and_a_new_file_is_picked_up(tmp_path):
    collection = make_collection(tmp_path, "sample-1.1.warc.gz")
    first = update(collection, fulltext=False)
    assert (first.files, first.captures, first.revisits_resolved) == (1, 9, 2)
    before = rows(collection)
    again = update(collection, fulltext=False)
    assert (again.files, again.records, again.captures) == (0, 0, 0)
    assert rows(collection) == before
    make_collection(tmp_path, "sample-1.0.warc", crawl="20240301000000")
    later = update(collection, fulltext=False)
    assert (later.files, later.captures) == (1, 9)
    assert rows(collection)[:len(before)] == before


def test_a_deleted_warc_takes_its_captures_with_it(tmp_path):
    collection = make_collection(tmp_path, "sample-1.1.warc.gz")
    make_collection(tmp_path, "angle-brackets.warc", crawl="20240201000000")
    update(collection, fulltext=False)
    (tmp_path / "crawls/20240201000000/angle-brackets.warc").unlink()
    summary = update(collection, fulltext=False)
    assert summary.files_removed == 1
    with Catalog.open(collection) as catalog:
        assert catalog.captures("http://site-c.test/page") == []
        assert catalog.count() == 9


def test_a_file_is_catalogued_whole_or_not_at_all(sample):
    with Catalog.open(sample) as catalog:
        count = catalog.count()
        good = CaptureRow(
            url="http://x.test/", surt="test,x)/", timestamp="20240101000000",
            warc_date="2024-01-01T00:00:00Z", record_type="response", status=200,
            mime="text/html", digest="sha1:X", length=10, offset=0, warc_file="crawls/x.warc",
            payload_file=None, payload_offset=None, payload_length=None, crawl="x", site=None,
            record_id=None, refers_to=None, refers_to_uri=None, refers_to_date=None,
            cdx_mime="text/html", cdx_status="200")
        # the second row clashes with the first (same file and offset): the write fails
        with pytest.raises(sqlite3.IntegrityError):
            catalog.store_file("crawls/x.warc", 1, 1, "x", [good, good], [], [])
        assert catalog.count() == count and "crawls/x.warc" not in catalog.indexed_files()


def test_catalog_is_readable_while_a_write_is_under_way(sample):
    path = sample.derived_dir / CATALOG_NAME
    with Catalog.open(sample) as reader, \
            closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM captures")
        assert reader.count() == 9  # the reader sees the last committed state
        writer.execute("COMMIT")
        assert reader.count() == 0


def test_sites_follow_the_network_config(sample):
    (sample.root / "palimpsest.toml").write_text(CONFIG.replace('name = "a"', 'name = "alpha"'))
    update(sample, fulltext=False)
    with Catalog.open(sample) as catalog:
        assert {c.site for c in catalog.captures(HOME)} == {"alpha"}
        assert {c.site for c in catalog.captures("http://site-b.test/old")} == {None}


def test_full_text_is_extracted_once_per_url_and_payload(tmp_path):
    collection = make_collection(tmp_path, "sample-1.1.warc.gz")
    summary = update(collection)
    # home page, news (chunked, gzip), site B (brotli), notes (resource); 404/301/png skipped
    assert (summary.texts, summary.documents) == (4, 4)
    with Catalog.open(collection) as catalog:
        home = catalog.captures(HOME)
        keys = {c.text_key for c in home}
        assert len(keys) == 1 and None not in keys  # revisits share the original's text
        assert catalog.captures("http://site-a.test/logo.png")[0].text_key is None
        assert catalog.captures("http://site-a.test/missing")[0].text_key is None
    with open_index(collection, collection.load_config()) as texts:
        assert texts.has(keys.pop()) and texts.count() == 4
    # a recrawl of the same payloads: catalogued, no new extraction
    make_collection(tmp_path, "sample-1.0.warc", crawl="20240301000000")
    again = update(collection)
    assert (again.captures, again.texts, again.documents) == (9, 0, 0)
    with Catalog.open(collection) as catalog:
        assert len({c.text_key for c in catalog.captures(HOME)}) == 1


def test_cli_captures_lists_oldest_first_and_json(sample, capsys):
    assert main(["captures", "--collection", str(sample.root), HOME]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("20240101120003  200  response")
    assert main(["captures", "--collection", str(sample.root), "--json", HOME]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [c["timestamp"] for c in shown] == ["20240101120003", "20240108120008",
                                              "20240109120009"]
    assert shown[1]["record_type"] == "revisit" and shown[1]["crawl"] == "20240101000000"


def test_cli_captures_of_an_unknown_url_is_a_one_line_error(sample, capsys):
    assert main(["captures", "--collection", str(sample.root), "http://nowhere.test/"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().count("\n") == 0
    assert "no capture of http://nowhere.test/" in captured.err


def test_cli_index_prints_a_summary_and_twice_reads_nothing(tmp_path, capsys):
    collection = make_collection(tmp_path, "sample-1.1.warc.gz", "angle-brackets.warc")
    assert main(["index", "--collection", str(collection.root), "--catalog-only"]) == 0
    assert "2 WARC files read, 14 records, 10 captures added" in capsys.readouterr().out
    assert main(["index", "--collection", str(collection.root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["files"], summary["captures"], summary["damaged"]) == (0, 0, [])
    assert summary["documents"] == 5  # the full text catalog-only left out


def test_cli_commands_on_a_missing_collection_say_so(tmp_path, capsys):
    assert main(["index", "--collection", str(tmp_path / "none")]) == 2
    assert "no collection at" in capsys.readouterr().err


def _synthetic_crawl(root: Path, files: int, records: int) -> None:
    """`files` WARCs of `records` small distinct HTML pages each, in one crawl folder."""
    folder = root / "crawls" / "20240101000000"
    folder.mkdir(parents=True)
    for f in range(files):
        with open(folder / f"synthetic-{f}.warc.gz", "wb") as out:
            writer = WARCWriter(out, gzip=True, warc_version="1.1")
            for i in range(records):
                body = (f"<html><title>{f}-{i}</title><body>"
                        + f"<p>Page {i} of file {f}. " * 40 + "</body></html>").encode()
                message = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                writer.write_record(writer.create_warc_record(
                    f"http://site-a.test/{f}/{i}", "response", payload=BytesIO(message),
                    length=len(message),
                    warc_headers_dict={"WARC-Date": f"2024-01-01T00:{f:02d}:{i % 60:02d}Z"}))
    (root / "palimpsest.toml").write_text(CONFIG)


def _state(collection: Collection) -> tuple[list[tuple], int]:
    captures = on_disk(
        collection, "SELECT url, timestamp, warc_file, offset, payload_file, payload_offset, "
        "status, digest, text_key FROM captures ORDER BY warc_file, offset")
    with open_index(collection, collection.load_config()) as texts:
        assert all(texts.has(row[-1]) for row in captures if row[-1])
        return captures, texts.count()


def _reached(collection: Collection, sql: str) -> bool:
    try:
        return bool(on_disk(collection, sql)[0][0])
    except sqlite3.OperationalError:  # the run has not made its tables yet
        return False


@pytest.mark.parametrize("kill_when", [
    "SELECT COUNT(*) >= 2 FROM warc_files",  # during the catalog pass
    "SELECT COUNT(*) >= 1 FROM texts"])  # during the full-text pass
def test_an_index_run_killed_midway_is_completed_by_the_next_run(tmp_path, kill_when):
    killed, fresh = Collection(tmp_path / "killed"), Collection(tmp_path / "fresh")
    _synthetic_crawl(killed.root, files=4, records=600)
    shutil.copytree(killed.root / "crawls", fresh.root / "crawls")
    shutil.copy(killed.root / "palimpsest.toml", fresh.root)
    run = subprocess.Popen([sys.executable, "-m", "palimpsest.cli", "index", "--collection",
                            str(killed.root), "--workers", "1"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    catalog_path = killed.derived_dir / "catalog.sqlite"
    deadline = time.monotonic() + 60
    while run.poll() is None and time.monotonic() < deadline:
        if catalog_path.exists() and _reached(killed, kill_when):
            break
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    with Catalog.open(killed) as catalog:
        # whatever the kill left: whole files only
        for path in catalog.indexed_files():
            assert len(catalog.captures_in_file(path)) == 600
    update(killed)
    update(fresh)
    assert _state(killed) == _state(fresh)
    assert _state(fresh)[1] == 2400
