"""A collection indexed by an earlier version opens as it is: its Whoosh schema names our
classes by their old module, its catalog lacks the newer columns."""

from __future__ import annotations

import pickle
import shutil
import sqlite3

from index.collection import Collection
from index.search.service import SearchRequest, search
from index.search.whoosh_engine import _schema


def test_a_whoosh_schema_pickled_under_the_old_module_names_loads():
    old = pickle.dumps(_schema(), protocol=2).replace(b"index.search.whoosh_engine",
                                                      b"index.whoosh_engine")
    assert b"cindex.whoosh_engine\nStemmedText" in old
    assert set(pickle.loads(old).names()) == set(_schema().names())


def test_search_on_a_catalog_of_the_older_schema_upgrades_it(indexed_history, tmp_path):
    copy = Collection(tmp_path / "old")
    shutil.copytree(indexed_history.collection.root, copy.root)
    wanted = SearchRequest(q='"on behalf of"')
    expected = search(indexed_history.collection, wanted)["total"]
    db = sqlite3.connect(copy.derived_dir / "catalog.sqlite")
    added = [row[1] for row in db.execute("PRAGMA table_info(captures)")
             if row[1] in ("concurrent_to", "dom_file", "dom_offset", "dom_length",
                           "dom_digest")]
    assert added
    for column in added:  # as if they never were: the names the new code reads are gone
        db.execute(f"ALTER TABLE captures RENAME COLUMN {column} TO old_{column}")
    db.execute("PRAGMA user_version = 0")
    db.commit()
    db.close()
    assert search(copy, wanted)["total"] == expected
