"""The payload history a crawl writes revisits against: read from the catalog, and refused
(never silently empty) when the catalog does not hold the collection's WARC files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crawler.dedup import PayloadHistory
from index.collection import Collection
from index.errors import CatalogOutOfDate
from index.indexer import update

DATA = Path(__file__).parent / "data"
CRAWL = "crawls/20240101000000"
HOME = "http://site-a.test/"
HOME_DIGEST = "sha1:CVF5TYQZQKNLTW2JA4YYZ25LELMUT7S4"


def collection_of(root: Path, *names: str) -> Collection:
    folder = root / CRAWL
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(DATA / name, folder / name)
    return Collection(root)


def test_history_of_an_indexed_collection_knows_its_payloads(tmp_path):
    collection = collection_of(tmp_path, "sample-1.1.warc.gz")
    update(collection, fulltext=False)
    history = PayloadHistory.from_collection(collection)
    assert history.previous_digest(HOME) == HOME_DIGEST
    assert history.original(HOME_DIGEST).url == HOME


def test_history_of_a_collection_with_no_warcs_is_empty(tmp_path):
    history = PayloadHistory.from_collection(collection_of(tmp_path))
    assert history.previous_digest(HOME) is None


def test_history_is_refused_while_a_warc_is_not_catalogued(tmp_path):
    collection = collection_of(tmp_path, "sample-1.1.warc.gz")
    with pytest.raises(CatalogOutOfDate, match=rf"{CRAWL}/sample-1.1.warc.gz as on disk"):
        PayloadHistory.from_collection(collection)


def test_history_is_refused_after_a_catalogued_warc_changed_or_went(tmp_path):
    collection = collection_of(tmp_path, "sample-1.1.warc.gz", "sample-1.0.warc")
    update(collection, fulltext=False)
    (tmp_path / CRAWL / "sample-1.0.warc").unlink()
    with pytest.raises(CatalogOutOfDate, match=r"sample-1.0.warc as on disk"):
        PayloadHistory.from_collection(collection)
    with open(tmp_path / CRAWL / "sample-1.1.warc.gz", "ab") as grown:
        grown.write(b"\0")
    with pytest.raises(CatalogOutOfDate, match=r"sample-1.0.warc and 1 more as on disk"):
        PayloadHistory.from_collection(collection)
