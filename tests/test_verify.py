"""`palimpsest verify` passes an intact archive and finds a single flipped byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from index.collection import Collection
from index.indexer import update
from palimpsest.cli import main

DATA = Path(__file__).parent / "data"
CRAWL = "crawls/20240101000000"
HOME_ID = "<urn:uuid:00000000-0000-4000-8000-000000000003>"


def indexed(root: Path, *names: str) -> Collection:
    folder = root / CRAWL
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(DATA / name, folder / name)
    collection = Collection(root)
    update(collection, fulltext=False)
    return collection


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x20
    path.write_bytes(bytes(data))


def test_an_intact_archive_passes(tmp_path, capsys):
    indexed(tmp_path, "sample-1.1.warc.gz", "sample-1.0.warc", "angle-brackets.warc")
    assert main(["verify", "--collection", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("verified 27 records in 3 WARC files and "
                                                    "19 catalogued captures")
    assert out.strip().endswith("no faults")


def test_one_flipped_byte_in_a_record_body_is_found_and_named(tmp_path, capsys):
    indexed(tmp_path, "sample-1.0.warc", "sample-1.1.warc.gz")
    plain = tmp_path / CRAWL / "sample-1.0.warc"
    flip(plain, plain.read_bytes().index(b"keeps a record of the disclosure"))
    assert main(["verify", "--collection", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    faults = [line for line in out if HOME_ID in line]
    assert [line.split(": ", 1)[1].split(" sha1:")[0] for line in faults] == [
        "block digest mismatch: header says", "payload digest mismatch: header says"]
    assert faults[1].endswith("sha1:CVF5TYQZQKNLTW2JA4YYZ25LELMUT7S4")
    assert faults[0].startswith(f"{CRAWL}/sample-1.0.warc at offset 701 record {HOME_ID}")
    assert out[-1].endswith(": 2 faults")


def test_a_flipped_byte_in_a_gzipped_record_is_found_and_the_capture_named(tmp_path, capsys):
    indexed(tmp_path, "sample-1.1.warc.gz")
    flip(tmp_path / CRAWL / "sample-1.1.warc.gz", 535 + 200)  # inside record 3's member
    assert main(["verify", "--collection", str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["records"] == 12
    whats = {(f["offset"], f["record_id"]): f["what"] for f in report["faults"]}
    assert whats[(535, None)].startswith("unreadable: gzip data damaged")
    assert whats[(535, HOME_ID)] == ("catalogued capture of http://site-a.test/ at "
                                     "20240101120003: no readable record here")


def test_a_missing_warc_and_an_uncatalogued_one_are_reported(tmp_path, capsys):
    collection = indexed(tmp_path, "sample-1.1.warc.gz")
    (tmp_path / CRAWL / "sample-1.1.warc.gz").unlink()
    shutil.copy(DATA / "angle-brackets.warc", tmp_path / CRAWL / "angle-brackets.warc")
    assert main(["verify", "--collection", str(collection.root)]) == 1
    out = capsys.readouterr().out
    assert f"{CRAWL}/sample-1.1.warc.gz: catalogued WARC file is missing" in out
    assert f"{CRAWL}/angle-brackets.warc: not catalogued yet" in out
