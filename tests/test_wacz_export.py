"""`palimpsest export FILE.wacz` (issue 14 points 1-2): the session's crawled history as a WACZ,
whole and as selections, checked by py-wacz's validator, by reading the zip and its ZipNum
index as a replay tool does, and by pywb replaying a page from it."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import urllib.request
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from conftest import (
    PYWB,
    REPLAYWEBPAGE,
    ROOT,
    palimpsest,
    replayed,
    serve_pywb,
    serve_replaywebpage,
)
from warcio.archiveiterator import ArchiveIterator

from index.catalog import Catalog
from index.cdxj import cdxj_lines
from index.collection import Collection
from index.wacz import zipnum
from index.wacz.selection import Selection
from index.wacz.writer import archive_names, export_wacz
from index.warc_import import add_warcs

WACZ = ROOT / ".venv-wacz/bin/wacz"
NAME = re.compile(r"^[-a-z0-9._/]+$")
DISCLOSURE = "on behalf of a foreign principal"


@pytest.fixture(scope="module")
def exports(indexed_history, tmp_path_factory):
    """The history exported whole, by crawl (the second: revisits of the first) and by query,
    with blocks of 40 lines so that the index has many; and by URL prefix and date by the
    command, signed."""
    out = tmp_path_factory.mktemp("wacz")
    collection = indexed_history.collection
    second = indexed_history.crawls[1].crawl_id
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipnum, "LINES_PER_BLOCK", 40)
        export_wacz(collection, out / "all.wacz", title="Sample network")
        export_wacz(collection, out / "crawl.wacz", Selection(crawl=second))
    palimpsest("export", "--collection", str(collection.root), str(out / "prefix.wacz"),
               "--url-prefix", "http://allyvia.test/", "--from", "2000-01", "--sign")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipnum, "LINES_PER_BLOCK", 40)
        export_wacz(collection, out / "query.wacz", Selection(query=f'"{DISCLOSURE}"'))
    return out


def _members(wacz: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wacz) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _records(data: bytes) -> list:
    """(type, record id, headers) of every record of a WARC's bytes."""
    return [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), dict(r.rec_headers.headers))
            for r in ArchiveIterator(BytesIO(data))]


@pytest.mark.parametrize("name", ["all", "crawl", "prefix", "query"])
def test_py_wacz_validates_the_export(exports, name):
    done = subprocess.run([WACZ, "validate", "-f", exports / f"{name}.wacz"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the passed WACZ is valid" in done.stdout


def test_whole_export_holds_every_warc_stored_under_portable_names(exports, indexed_history):
    collection = indexed_history.collection
    with zipfile.ZipFile(exports / "all.wacz") as z:
        infos = {i.filename: i for i in z.infolist()}
    warcs = [n for n in infos if n.startswith("archive/")]
    assert len(warcs) == len(list(collection.warc_files()))
    for name in warcs:
        assert NAME.match(name) and infos[name].compress_type == zipfile.ZIP_STORED
    assert infos["indexes/index.cdx.gz"].compress_type == zipfile.ZIP_STORED
    package = json.loads(_members(exports / "all.wacz")["datapackage.json"])
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert package["title"] == "Sample network" and package["software"].startswith("palimpsest")
    listed = {r["path"]: r for r in package["resources"]}
    assert set(listed) == set(infos) - {"datapackage.json", "datapackage-digest.json"}
    for path, resource in listed.items():
        assert resource["bytes"] == infos[path].file_size
        assert resource["hash"].startswith("sha256:") and NAME.match(resource["name"])


def test_idx_lines_point_at_gzip_blocks_that_hold_the_collection_cdxj(exports,
                                                                   indexed_history):
    members = _members(exports / "all.wacz")
    cdx = members["indexes/index.cdx.gz"]
    idx = members["indexes/index.idx"].decode().splitlines()
    assert idx[0] == ('!meta 0 {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}')
    lines, end = [], 0
    for entry in idx[1:]:
        key, at = entry.rsplit(" {", 1)
        at = json.loads("{" + at)
        assert at["offset"] == end  # blocks follow one another, nothing between
        block = gzip.decompress(cdx[at["offset"]:at["offset"] + at["length"]])
        block_lines = block.decode().splitlines()
        assert len(block_lines) <= 40 and block_lines[0].startswith(key + " {")
        lines += block_lines
        end += at["length"]
    assert end == len(cdx) and len(idx) > 5
    with Catalog.open(indexed_history.collection) as catalog:
        names = archive_names(catalog.indexed_files())
        ours = sorted(re.sub(r'"filename": "([^"]+)"',
                             lambda m: f'"filename": "{names[m[1]]}"', line)
                      for line in cdxj_lines(catalog))
        dates = {(c.url, c.timestamp): c.warc_date
                 for c in catalog.query("http://allyvia.test/", "prefix")}
    # the collection's CDXJ, the timestamps to the millisecond of each record's WARC-Date
    # (what ReplayWeb.page finds a revisit's original by)
    assert [line[:line.index(" ") + 15] + line[line.index(" ") + 18:] for line in lines] == ours
    precise = {(json.loads(line.split(" ", 2)[2])["url"], line.split(" ")[1]) for line in lines}
    checked = [(url, ts) for (url, ts), date in dates.items() if date[19:20] == "."]
    assert checked
    for url, ts in checked:
        assert (url, ts + dates[url, ts][20:23]) in precise


def test_pages_carry_titles_and_extracted_text(exports):
    pages = _members(exports / "all.wacz")["pages/pages.jsonl"].decode().splitlines()
    assert json.loads(pages[0]) == {"format": "json-pages-1.0", "id": "pages",
                                    "title": "All Pages", "hasText": True}
    rows = [json.loads(p) for p in pages[1:]]
    assert rows and all({"url", "ts", "title", "id"} <= set(r) for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert any(DISCLOSURE in r.get("text", "") for r in rows)
    assert any(r["title"] and r["title"] != r["url"] for r in rows)
    # a text is given once per URL: a recrawl of the same text finds it in the page before
    by_url: dict[str, list[dict]] = {}
    for row in rows:
        by_url.setdefault(row["url"], []).append(row)
    for url, versions in by_url.items():
        assert versions == sorted(versions, key=lambda r: r["ts"])
        assert "text" in versions[0], url
    assert len(by_url) < len(rows) and any("text" not in r for r in rows)
    found = [json.loads(p) for p in
             _members(exports / "query.wacz")["pages/pages.jsonl"].decode().splitlines()[1:]]
    assert any("text" in r for r in found)
    assert all(DISCLOSURE in r["text"] for r in found if "text" in r)


def test_a_crawl_of_revisits_exports_the_records_they_refer_to(exports, indexed_history):
    members = _members(exports / "crawl.wacz")
    warcs = [n for n in members if n.startswith("archive/")]
    assert len(warcs) == 1 and NAME.match(warcs[0])
    records = _records(members[warcs[0]])
    assert records[0][0] == "warcinfo"
    revisits = [h for kind, _, h in records if kind == "revisit"]
    assert revisits, "the second crawl of revision 1 writes revisits"
    originals = _originals(records, indexed_history.collection)
    assert all(originals.values()), [url for url, found in originals.items() if not found]
    # each response and revisit comes with its request record
    requests = {h.get("WARC-Concurrent-To") for kind, _, h in records if kind == "request"}
    for kind, rid, _ in records:
        if kind in ("response", "revisit"):
            assert rid in requests
    # and only what the selection needs: the second crawl's captures and their originals
    second = indexed_history.crawls[1].crawl_id
    with Catalog.open(indexed_history.collection) as catalog:
        theirs = {c.record_id for c in catalog.by_crawl(second)}
    captured = {rid for kind, rid, _ in records if kind in ("response", "revisit")}
    assert theirs <= captured
    assert len(captured - theirs) <= len(revisits)


def _originals(records: list, collection: Collection) -> dict[str, bool]:
    """For each revisit among `records` (by URL and date), whether the record holding its
    payload, as the catalog resolved it, is among them too (by record id: WARC-Refers-To
    where written, else by URI and date, or by digest for a payload first seen at another
    URL, as the crawler writes revisits against the whole collection's history)."""
    ids = {rid for _, rid, _ in records}
    with Catalog.open(collection) as catalog:
        captures = {c.record_id: c for c in catalog.all_captures()}
        at = {(c.warc_file, c.offset): c.record_id for c in captures.values()}
    return {f'{h["WARC-Target-URI"]} {h["WARC-Date"]}':
            at[captures[rid].payload_file, captures[rid].payload_offset] in ids
            for kind, rid, h in records if kind == "revisit"}


def test_cdxj_of_a_selection_points_at_its_records(exports, indexed_history):
    members = _members(exports / "prefix.wacz")
    lines = gzip.decompress(members["indexes/index.cdx.gz"]).decode().splitlines()
    assert lines == sorted(lines) and all(" {" in line for line in lines)
    for line in lines:
        fields = json.loads(line.split(" ", 2)[2])
        data = members[f"archive/{fields['filename']}"]
        offset, length = int(fields["offset"]), int(fields["length"])
        (record,) = _records(data[offset:offset + length])
        assert record[2]["WARC-Target-URI"] == fields["url"]
    # allyvia's captures, and the records of other URLs that their revisits refer to (a
    # payload the crawl had seen at another URL: a sister site's same stylesheet)
    (warc,) = [n for n in members if n.startswith("archive/")]
    records = _records(members[warc])
    assert all(_originals(records, indexed_history.collection).values())
    hosts = {h["WARC-Target-URI"].split("/")[2] for kind, _, h in records
             if kind in ("response", "revisit")}
    assert "allyvia.test" in hosts and len(hosts) < 5  # of the five sites' shared assets


def test_a_signed_export_verifies(exports, indexed_history):
    digest = json.loads(_members(exports / "prefix.wacz")["datapackage-digest.json"])
    assert digest["path"] == "datapackage.json" and digest["signedData"]["signature"]
    done = palimpsest("verify", "--collection", str(indexed_history.collection.root),
                      str(exports / "prefix.wacz"))
    assert "intact" in done.stdout


@pytest.mark.skipif(not PYWB.exists(), reason="pywb venv not installed")
def test_pywb_replays_a_revisited_page_from_the_wacz(exports, tmp_path):
    # pywb 2.10 adds a WACZ with --unpack-wacz: its WARCs, and its own index rewritten
    with serve_pywb([exports / "crawl.wacz"], tmp_path, "paxpoint.test/",
                    add_flags=("--unpack-wacz",)) as pywb:
        with urllib.request.urlopen(f"{pywb.base}/2100mp_/http://paxpoint.test/",
                                    timeout=10) as answer:
            page = answer.read().decode("utf-8", "replace")
    assert answer.status == 200
    assert "<title>" in page.lower() and "paxpoint" in page.lower()


@pytest.mark.skipif(not REPLAYWEBPAGE.exists(), reason="ReplayWeb.page's package not installed")
def test_replaywebpage_replays_a_page_from_the_wacz(exports, page):
    # the app itself, offline, in Chromium: it reads the WACZ by ranges (the idx, then the
    # one CDXJ block and the records it needs) and replays in a frame of its service worker
    with serve_replaywebpage(exports) as base:
        shown = replayed(page, base, "crawl.wacz", "http://paxpoint.test/", "", "</footer>")
    assert "<title>Paxpoint" in shown, [f.url for f in page.frames]  # not "Not Found"
    assert "Following regional peace efforts" in shown


def test_files_of_the_old_names_are_exported_under_portable_ones(indexed_history, tmp_path):
    source = min((w for c in indexed_history.crawls for w in c.warcs),
                 key=lambda w: w.stat().st_size)
    # as the crawler named its files before: ...-<pid>~<host>.warc.gz
    old = tmp_path / re.sub(r"-(\d+)-[-a-z0-9.]+\.warc\.gz$", r"-\1~Old_Host.warc.gz",
                            source.name)
    shutil.copyfile(source, old)
    assert "~" in old.name
    collection = Collection(tmp_path / "imported-collection")
    add_warcs(collection, [old], config=None)
    assert any("~" in p.name for p in collection.warc_files())  # read as they are
    summary = export_wacz(collection, tmp_path / "old.wacz")
    with zipfile.ZipFile(summary.path) as z:
        names = [n for n in z.namelist() if n.startswith("archive/")]
    assert names == ["archive/" + old.name.replace("~Old_Host", "-old-host")]
    done = subprocess.run([WACZ, "validate", "-f", summary.path], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["x.txt"], "a WACZ file's name ends in .wacz"),
    (["x.wacz", "--from", "2024-1"], "--from: '2024-1' is not a date"),
    (["x.wacz", "--crawl", "19990101000000"], "no crawl '19990101000000' in the catalog"),
    (["x.wacz", "--url-prefix", "http://nowhere.test/"], "nothing to export: no capture"),
])
def test_bad_arguments_give_one_line(indexed_history, tmp_path, args, message):
    done = palimpsest("export", "--collection", str(indexed_history.collection.root),
                      *[str(tmp_path / a) if a.startswith("x.") else a for a in args],
                      check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())
