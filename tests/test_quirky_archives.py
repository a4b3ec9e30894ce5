"""Never read less than the other tools: from the same files, the catalog holds every record
cdxj-indexer indexes, ARC files and quirky WARCs included (tests/data/make_quirks.py writes them).

Each quirk is checked the way a user meets it: `palimpsest add` the file, then `palimpsest
cdxj` must print what cdxj-indexer prints for it, and the record must read back. What is
irregular but readable is a warning naming the file and the record's offset, never damage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update
from index.warc_reader import WarcReader, read_payload
from palimpsest.cli import main
from tests.data import make_quirks

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
CDXJ_INDEXER = ROOT / ".venv/bin/cdxj-indexer"


def cdxj_indexer(root: Path) -> str:
    files = [str(p.relative_to(root)) for p in Collection(root).warc_files()]
    done = subprocess.run([CDXJ_INDEXER, "--sort", "--dir-root", ".", *files], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


def added(tmp_path: Path, capsys: pytest.CaptureFixture, name: str) -> tuple[Path, dict]:
    """`palimpsest add --json` of tests/data/`name` into a new collection: its root and the
    summary printed."""
    root = tmp_path / "collection"
    assert main(["add", "--json", "--collection", str(root), str(DATA / name)]) == 0
    return root, json.loads(capsys.readouterr().out)


def ours(root: Path, capsys: pytest.CaptureFixture) -> str:
    assert main(["cdxj", "--collection", str(root)]) == 0
    return capsys.readouterr().out


def payload_of(root: Path, url: str) -> tuple:
    with Catalog.open(Collection(root)) as catalog:
        [capture] = catalog.captures(url)
    return read_payload(root / capture.payload_file, capture.payload_offset,
                        capture.payload_length)


@pytest.mark.parametrize("name", ["quirks.arc", "quirks.arc.gz"])
def test_arc_file_is_catalogued_as_cdxj_indexer_indexes_it(tmp_path, capsys, name):
    root, summary = added(tmp_path, capsys, name)
    assert (summary["captures"], summary["damaged"], summary["warnings"]) == (3, [], [])
    cdxj = ours(root, capsys)
    assert cdxj == cdxj_indexer(root) and cdxj.count("\n") == 3
    head, body = payload_of(root, make_quirks.QUIRKY_URL)
    assert (head.get_statuscode(), body) == ("200", make_quirks.NOTES)
    with Catalog.open(Collection(root)) as catalog:
        [gone] = catalog.captures("http://site-d.test/gone")
    assert (gone.status, gone.timestamp) == (404, "20010101120002")


def test_arc_capture_replays_as_captured(tmp_path, capsys):
    from web import create_app

    root, _ = added(tmp_path, capsys, "quirks.arc.gz")
    client = create_app({"COLLECTION": str(root), "TESTING": True}).test_client()
    response = client.get(f"/web/20010101120001id_/{make_quirks.QUIRKY_URL}")
    assert (response.status_code, response.data) == (200, make_quirks.NOTES)


def test_arc_files_in_the_collection_are_indexed_and_their_text_searchable(tmp_path, capsys):
    folder = tmp_path / "imported" / "ia-2001"
    folder.mkdir(parents=True)
    shutil.copy(DATA / "quirks.arc.gz", folder)
    assert main(["index", "--json", "--collection", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["files"], summary["captures"], summary["documents"]) == (1, 3, 2)
    assert main(["search", "--json", "--collection", str(tmp_path), "habits"]) == 0
    [hit] = json.loads(capsys.readouterr().out)["results"]
    assert hit["url"] == "http://site-d.test/"


def test_header_lines_ending_in_cr_cr_lf_are_read(tmp_path, capsys):
    root, summary = added(tmp_path, capsys, "quirk-crcrlf.warc")
    assert (summary["captures"], summary["damaged"]) == (3, [])
    assert ours(root, capsys) == cdxj_indexer(root)
    head, body = payload_of(root, make_quirks.QUIRKY_URL)
    assert (head.get_header("Content-Type"), body) == ("text/plain", make_quirks.NOTES)


def test_status_line_without_reason_phrase_is_read(tmp_path, capsys):
    root, summary = added(tmp_path, capsys, "quirk-no-reason.warc")
    assert (summary["captures"], summary["damaged"]) == (3, [])
    assert ours(root, capsys) == cdxj_indexer(root)
    head, body = payload_of(root, make_quirks.QUIRKY_URL)
    assert (head.get_statuscode(), body) == ("200", make_quirks.NOTES)


def test_body_not_chunked_under_chunked_transfer_encoding_is_read_as_stored(tmp_path, capsys):
    root, summary = added(tmp_path, capsys, "quirk-bad-chunked.warc")
    assert ours(root, capsys) == cdxj_indexer(root)
    # its first line, "2001", reads as a chunk size: the body is still what was stored
    assert payload_of(root, make_quirks.QUIRKY_URL)[1] == make_quirks.UNCHUNKED


def test_truly_chunked_body_is_still_dechunked():
    path = DATA / "sample-1.1.warc.gz"
    [news] = [r for r in WarcReader(path) if r.target_uri == "http://site-a.test/news.txt"]
    assert read_payload(path, news.offset, news.length)[1].startswith(b"News of the day")


@pytest.mark.parametrize("name, offset", [("quirk-junk.warc", 869),
                                          ("quirk-junk.warc.gz", 625)])
def test_record_followed_by_junk_is_read_with_a_warning(tmp_path, capsys, name, offset):
    root, summary = added(tmp_path, capsys, name)
    assert (summary["captures"], summary["damaged"]) == (3, [])
    [warning] = summary["warnings"]
    assert warning["file"].endswith(name) and warning["offset"] == offset
    assert "stray bytes" in warning["what"]
    assert ours(root, capsys) == cdxj_indexer(root)
    assert payload_of(root, make_quirks.QUIRKY_URL)[1] == make_quirks.NOTES


def test_warcinfo_without_its_blank_lines_is_a_warning_not_damage(tmp_path, capsys):
    root, summary = added(tmp_path, capsys, "quirk-warcinfo-unended.warc.gz")
    assert (summary["captures"], summary["damaged"]) == (3, [])
    [warning] = summary["warnings"]
    assert warning["offset"] == 0 and "not followed by the blank lines" in warning["what"]
    assert ours(root, capsys) == cdxj_indexer(root)


def test_uncompressed_warcinfo_without_its_blank_lines_loses_nothing(tmp_path, capsys):
    # cdxj-indexer stops at this file's second record; we read all of them, where they are
    root, summary = added(tmp_path, capsys, "quirk-warcinfo-unended.warc")
    assert (summary["captures"], summary["damaged"], len(summary["warnings"])) == (3, [], 1)
    data = (DATA / "quirk-warcinfo-unended.warc").read_bytes()
    end = data.index(b"WARC/1.0", 1)
    mended = tmp_path / "mended" / "imported" / "quirk-warcinfo-unended"
    mended.mkdir(parents=True)
    (mended / "quirk-warcinfo-unended.warc").write_bytes(data[:end] + b"\r\n\r\n" + data[end:])
    expected = cdxj_indexer(tmp_path / "mended")
    for record in ("http://site-d.test/", "http://site-d.test/notes.txt",
                   "http://site-d.test/gone"):
        old = [line for line in expected.splitlines() if f'"url": "{record}"' in line][0]
        offset = json.loads(old.split(" ", 2)[2])["offset"]
        assert old.replace(f'"offset": "{offset}"',
                           f'"offset": "{int(offset) - 4}"') in ours(root, capsys)


def test_record_followed_by_junk_whose_block_digest_fails_is_damage(tmp_path):
    data = bytearray((DATA / "quirk-junk.warc").read_bytes())
    data[data.index(b"Plain notes")] ^= 0x20
    path = tmp_path / "junk-and-damage.warc"
    path.write_bytes(bytes(data))
    reader = WarcReader(path)
    urls = [r.target_uri for r in reader]
    assert make_quirks.QUIRKY_URL not in urls and "http://site-d.test/gone" in urls
    [damage] = reader.damage
    assert (damage.offset, reader.quirks) == (869, [])


def test_add_accepts_palimpsest_own_file_names(tmp_path, capsys):
    root, summary = added(tmp_path, capsys, make_quirks.OWN_NAME)
    assert summary["captures"] == 3
    folder = make_quirks.OWN_NAME.removesuffix(".warc.gz")
    assert (root / "imported" / folder / make_quirks.OWN_NAME).is_file()
    assert ours(root, capsys) == cdxj_indexer(root)


@pytest.mark.parametrize("name, says", [("old.arc", "not an ARC file"),
                                        ("old.arc.gz", "not an ARC file"),
                                        ("notes.txt", "name ends in .warc or .warc.gz")])
def test_add_of_something_else_is_a_one_line_error(tmp_path, capsys, name, says):
    fake = tmp_path / name
    fake.write_bytes(b"<html>an ARC this is not</html>\n")
    assert main(["add", "--collection", str(tmp_path / "c"), str(fake)]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_warnings_are_reported_once_and_the_file_not_read_again(tmp_path, capsys):
    root, _ = added(tmp_path, capsys, "quirk-junk.warc")
    again = update(Collection(root), fulltext=False)
    assert (again.files, again.warnings, again.damaged) == (0, [], [])
