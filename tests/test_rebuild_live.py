"""`palimpsest index --rebuild` while the web app answers searches: every answer is complete,
from the old index until the new one is switched in, never empty or partial."""

from __future__ import annotations

import subprocess
import sys

import pytest

from index.collection import Collection
from index.search.engines import ENGINE_ENV, index_dir
from palimpsest.sample_network import SampleNetwork
from tests.conftest import ROOT, crawl, new_collection, palimpsest
from web import create_app

QUERIES = ("the", '"sister sites" OR network')


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    with SampleNetwork(revision=1) as network:
        collection = new_collection(tmp_path_factory.mktemp("live"), network)
        crawl(collection)
    return collection


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_searches_during_a_rebuild_answer_in_full_from_the_old_index_then_the_new(
        crawled, tmp_path, monkeypatch, engine):
    import shutil

    root = tmp_path / "collection"
    shutil.copytree(crawled.root, root)
    monkeypatch.setenv(ENGINE_ENV, engine)
    palimpsest("index", "--collection", str(root))
    client = create_app({"COLLECTION": str(root), "TESTING": True}).test_client()

    def totals() -> tuple[int, ...]:
        answers = [client.get("/api/search", query_string={"q": q}) for q in QUERIES]
        assert [a.status_code for a in answers] == [200] * len(QUERIES)
        return tuple(a.get_json()["total"] for a in answers)

    before = totals()
    assert min(before) > 10
    old = index_dir(Collection(root), engine)
    rebuild = subprocess.Popen(
        [sys.executable, "-m", "palimpsest.cli", "index", "--collection", str(root),
         "--rebuild"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    while rebuild.poll() is None:
        seen.append(totals())
    out, err = rebuild.communicate()
    assert rebuild.returncode == 0, err
    seen.append(totals())
    assert len(seen) > 20  # the searches did run while the index was rebuilt
    assert set(seen) == {before}
    new = index_dir(Collection(root), engine)
    assert new != old and new.is_dir() and not old.exists()
    assert [p.name for p in (root / "derived").glob(f"fulltext-{engine}*") if p.is_dir()] \
        == [new.name]
