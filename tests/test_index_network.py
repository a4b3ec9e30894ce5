"""Indexing the sample network's own crawls: catalog, CDXJ, full text, verify, as a user runs
them after `palimpsest crawl`."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.fulltext_pass import rebuild_fulltext
from index.indexer import update
from index.search.engines import ENGINE_ENV
from index.search.service import MAX_LIMIT, SearchRequest, prepare, search
from palimpsest.cli import main
from palimpsest.sample_network import manifest
from tests.conftest import ROOT, CrawledCollection


@pytest.fixture(scope="module")
def indexed(network_history: CrawledCollection) -> CrawledCollection:
    update(network_history.collection)
    return network_history


def test_every_page_has_one_capture_per_crawl_oldest_first_with_revisits_resolved(indexed):
    with Catalog.open(indexed.collection) as catalog:
        for url in list(manifest(1).pages & manifest(2).pages)[:20]:
            captures = catalog.captures(url)
            assert len(captures) == 3, url
            assert [c.timestamp for c in captures] == sorted(c.timestamp for c in captures)
            assert all(c.payload_file for c in captures), "every revisit resolves to a payload"
            assert [c.crawl for c in captures] == [c.crawl_id for c in indexed.crawls]


def test_captures_json_matches_the_design_shape(indexed, capsys):
    url = "http://paxpoint.test/"
    assert main(["captures", url, "--collection", str(indexed.collection.root), "--json"]) == 0
    captures = json.loads(capsys.readouterr().out)
    assert len(captures) == 3
    assert {"url", "timestamp", "status", "mime", "digest", "crawl"} <= set(captures[0])
    assert captures[1]["record_type"] == "revisit" and captures[1]["status"] == 200


def test_cdxj_of_our_crawls_equals_cdxj_indexer(indexed, capsys):
    root = indexed.collection.root
    assert main(["cdxj", "--collection", str(root)]) == 0
    ours = capsys.readouterr().out
    files = [str(p.relative_to(root)) for p in indexed.collection.warc_files()]
    theirs = subprocess.run([ROOT / ".venv/bin/cdxj-indexer", "--sort", "--dir-root", ".",
                             *files], cwd=root, capture_output=True, text=True, check=True)
    assert ours == theirs.stdout and ours.count("\n") > 500


def test_search_finds_the_disclosure_line_on_every_site_and_filters_by_site(indexed):
    phrase = " ".join(manifest(1).disclosure.split()[:6])
    found = search(indexed.collection, SearchRequest(q=f'"{phrase}"', limit=200))
    assert set(found["facets"]["site"]) == {"paxpoint", "cognitura", "justorium", "allyvia",
                                             "factsignal"}
    only = search(indexed.collection, SearchRequest(q=f'"{phrase}"', site="allyvia",
                                                    limit=200))
    assert only["total"] and {r["site"] for r in only["results"]} == {"allyvia"}


def test_a_phrase_snippet_shows_the_phrase_wherever_it_stands(indexed):
    # the disclosure stands in the footer, outside the main text, and its words "on" and
    # "of" stand everywhere: each snippet shows the line itself, and marks nothing else
    words = manifest(1).disclosure.split()[6:12]
    assert " ".join(words) == "LLC on behalf of a foreign"
    found = search(indexed.collection, SearchRequest(q=f'"{" ".join(words[1:])}"', limit=50))
    marked = " ".join(f"<mark>{word}</mark>" for word in words[1:])
    assert len(found["results"]) == 50
    for result in found["results"]:
        assert f"LLC {marked} principal" in result["snippet"], result["url"]
        assert result["snippet"].count("<mark>") == 5, result["url"]


def test_search_as_of_the_second_revision_misses_the_dropped_disclosure(indexed):
    dropped = manifest(1).disclosure_sites - manifest(2).disclosure_sites
    assert dropped == {"allyvia"}
    phrase = " ".join(manifest(1).disclosure.split()[:6])
    now = search(indexed.collection, SearchRequest(q=f'"{phrase}"', as_of="2100", limit=500))
    assert "allyvia" not in now["facets"]["site"]
    assert "paxpoint" in now["facets"]["site"]
    # a second before the third crawl began, revision 1 was still what was on record (the
    # crawl's id is the second it began: a 14-digit as-of takes in that whole second, and
    # with it what the third crawl fetched first)
    began = datetime.strptime(indexed.crawls[2].crawl_id, "%Y%m%d%H%M%S")
    before = (began - timedelta(seconds=1)).strftime("%Y%m%d%H%M%S")
    then = search(indexed.collection, SearchRequest(q=f'"{phrase}"', as_of=before, limit=500))
    assert "allyvia" in then["facets"]["site"]


def test_reindexing_changes_nothing_and_verify_passes(indexed, capsys):
    again = update(indexed.collection)
    assert again.captures == 0 and again.documents == 0
    assert main(["verify", "--collection", str(indexed.collection.root)]) == 0


@pytest.mark.parametrize("options", [
    {"limit": 50}, {"collapse": False, "limit": 500}, {"sort": "date", "limit": 50},
    {"site": "cognitura"}, {"as_of": "2100"}, {"as_of": "2100", "collapse": False}])
def test_both_grouping_paths_agree_on_the_network(indexed, tmp_path, options):
    # the sample network's three crawls: revisits, calendar pages reached in one crawl
    # only, error pages, a dropped and an added page; both grouping paths of index/search/
    # give the same answer: a process that has read only the matching texts' captures (a
    # copy no search has prepared), and one that has read the whole catalog's columns (a
    # copy prepared as a server prepares its collection as it starts)
    by_text, bulk = (Collection(tmp_path / name) for name in ("by-text", "bulk"))
    for copy in (by_text, bulk):
        shutil.copytree(indexed.collection.root, copy.root)
    prepare(bulk)
    first = indexed.crawls[1].crawl_id
    totals = []
    for q in ("foreign", "disclosure OR calendar", "new", "site:paxpoint", "url:events"):
        for extra in ({}, {"date_from": first[:8]}):
            wanted = SearchRequest(q=q, **options, **extra)
            found = search(by_text, wanted)
            assert search(bulk, wanted) == found, wanted
            totals.append(found["total"])
    assert min(totals[:2]) > 0 and len(set(totals)) > 2  # (not all empty, nor all alike)


# words, stems, stop words inside phrases, abbreviations, numbers, every operator and field
ENGINE_QUERIES = (
    '"on behalf of a foreign principal"', '"department of justice"', '"u.s."', "alliances",
    "cooperat*", "partners summit", "title:compact", "site:allyvia security", "url:archive",
    "exercise -alliance", '"the northgate compact" OR budgets', "2019", "a", "of the",
    "title:\"at ten\"", "notes NOT (summit OR compact)")


@pytest.mark.parametrize("options", [{"collapse": False}, {"as_of": "2100"}])
def test_both_engines_find_the_same_captures_on_the_network(indexed, tmp_path, monkeypatch,
                                                            options):
    # the same crawls in Tantivy: every query finds the same captures, counts and facets
    # (only the order may differ, by score)
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    whoosh = indexed.collection
    assert whoosh.load_config().search.engine == "whoosh"
    tantivy = Collection(tmp_path / "tantivy")
    shutil.copytree(whoosh.root, tantivy.root)
    tantivy.config_path.write_text(tantivy.config_path.read_text().replace(
        'engine = "whoosh"', 'engine = "tantivy"'))
    assert rebuild_fulltext(tantivy).documents > 100
    totals = []
    for q in ENGINE_QUERIES:
        wanted = SearchRequest(q=q, limit=MAX_LIMIT, **options)
        found = [search(c, wanted) for c in (whoosh, tantivy)]
        assert found[0]["total"] == found[1]["total"], q
        assert found[0]["facets"] == found[1]["facets"], q
        # and the same titles and snippets, made by the same code from the same texts
        assert [{(r["url"], r["timestamp"], r["title"], r["snippet"]) for r in f["results"]}
                for f in found] == [{(r["url"], r["timestamp"], r["title"], r["snippet"])
                                     for r in found[0]["results"]}] * 2, q
        totals.append(found[0]["total"])
    assert all(totals) and len(set(totals)) > 5  # (every query finds something, not the same)
