"""`palimpsest cdxj` prints, byte for byte, what cdxj-indexer prints for the same WARC files."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.collection import Collection
from palimpsest.cli import main
from tests.data.make_warcs import capture_http_warc, loopback_site, wget_warc

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
CDXJ_INDEXER = ROOT / ".venv/bin/cdxj-indexer"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collection]:
    """A collection holding WARCs of every shape we meet: a crawl folder with warcio's
    WARC/1.1 and WARC/1.0 files and wget's angle-bracket record, and wget's and
    capture_http's WARCs as imported files."""
    root = tmp_path_factory.mktemp("mixed")
    crawl = root / "crawls" / "20240101000000"
    crawl.mkdir(parents=True)
    for name in ("sample-1.1.warc.gz", "sample-1.0.warc", "angle-brackets.warc"):
        shutil.copy(DATA / name, crawl / name)
    site = root.parent / (root.name + "-site")
    site.mkdir()
    with loopback_site(site) as base:
        wget_dir = root / "imported" / "wget"
        wget_dir.mkdir(parents=True)
        wget_warc(base, wget_dir)
        wget_warc(base, wget_dir, compress=False)
        for mirror in wget_dir.glob("*-mirror"):
            shutil.rmtree(mirror)
        (root / "imported" / "capture").mkdir()
        capture_http_warc(base, root / "imported" / "capture" / "capture.warc.gz")
    yield Collection(root)


def cdxj_indexer(collection: Collection) -> str:
    files = [str(p.relative_to(collection.root)) for p in collection.warc_files()]
    done = subprocess.run([CDXJ_INDEXER, "--sort", "--dir-root", ".", *files],
                          cwd=collection.root, capture_output=True, text=True, check=True)
    return done.stdout


def test_cdxj_equals_cdxj_indexer_output_byte_for_byte(mixed, capsys):
    assert main(["cdxj", "--collection", str(mixed.root)]) == 0
    ours = capsys.readouterr().out
    theirs = cdxj_indexer(mixed)
    assert ours == theirs
    # every kind of record is in there: revisits, resources, wget's metadata, a 301
    assert '"mime": "warc/revisit"' in ours and "metadata://gnu.org/" in ours
    assert '"status": "301"' in ours and ours.count("\n") > 40


def test_cdxj_follows_the_collection_as_files_come_and_go(mixed, tmp_path, capsys):
    root = tmp_path / "c"
    shutil.copytree(mixed.root, root, ignore=shutil.ignore_patterns("derived"))
    collection = Collection(root)
    assert main(["cdxj", "--collection", str(root)]) == 0
    capsys.readouterr()
    (root / "crawls/20240101000000/sample-1.0.warc").unlink()
    shutil.copy(DATA / "sample-1.0.warc", root / "imported/wget/late.warc")
    assert main(["cdxj", "--collection", str(root)]) == 0
    assert capsys.readouterr().out == cdxj_indexer(collection)
