"""Comparing the sample network's revisions: the change report lists exactly what revision 2
added, removed and changed; diffs show the edited sentences; the dropped disclosure line
shows where it disappeared; noise rules hide a changing date and say so."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.compare.changes import change_report
from index.compare.diff import Options, compare, default_pair
from index.compare.watch import find_watch, watch_history
from index.indexer import update
from palimpsest.cli import main
from palimpsest.sample_network import SampleNetwork, changes, manifest
from tests.conftest import CrawledCollection, crawl, crawl_ids, new_collection


@pytest.fixture(scope="module")
def report(indexed_history: CrawledCollection) -> dict:
    first, _, third = indexed_history.crawls
    return change_report(indexed_history.collection, first.crawl_id, third.crawl_id)


def test_report_lists_exactly_what_revision_2_added_removed_and_changed(report):
    expected = changes(1, 2)
    assert {e["url"] for e in report["added"]} == set(expected.added)
    assert {e["url"] for e in report["removed"]} == set(expected.removed)
    assert {e["url"] for e in report["changed"]} == set(expected.changed)
    ratios = [e["ratio"] for e in report["changed"]]
    assert ratios == sorted(ratios, reverse=True) and all(r > 0 for r in ratios)
    assert all(e["diff"].startswith("/diff/") for e in report["changed"])


def test_pages_a_crawl_limit_cut_are_neither_added_nor_removed(report):
    # the endless calendar is cut by the trap guard: which months each crawl reached depends
    # on the order it met them; the crawl log says so, and the report believes it
    trap = manifest(1).trap_prefix
    assert not any(e["url"].startswith(trap) for e in report["added"] + report["removed"])
    for entry in report["crawl_limited"]:
        assert entry["url"].startswith(trap) and entry["why"] == "trap:query-variants"
        assert entry["not_fetched_in"] in (report["from"], report["to"])


def test_each_site_section_adds_up_to_the_report(report):
    sites = report["sites"]
    for key in ("added", "removed", "changed"):
        assert sorted(u for s in sites.values() for u in s[key]) == sorted(
            e["url"] for e in report[key])
    assert sum(s["unchanged"] for s in sites.values()) == report["unchanged"]
    allyvia = sites["allyvia"]
    assert allyvia["pages_before"] == allyvia["pages_after"] == len(allyvia["changed"])
    changed = {e["url"]: e for e in report["changed"]}
    assert all(changed[u]["watch"]["disappeared"] == ["disclosure"] for u in allyvia["changed"])
    retitled = changed["http://justorium.test/cases/the-coastal-boundary-arbitration/"]
    assert retitled["title_changed"] and retitled["old_title"] != retitled["title"]


def test_removed_page_says_why(report):
    (removed,) = report["removed"]
    assert removed["why"] == "not reached" and removed["status"] == 200
    assert removed["title"].startswith("Comment on the Draft Sanctions")


def test_report_by_default_compares_the_last_two_crawls(indexed_history, capsys):
    root = str(indexed_history.collection.root)
    assert main(["changes", "--collection", root, "--json"]) == 0
    latest = json.loads(capsys.readouterr().out)
    assert (latest["from"], latest["to"]) == (indexed_history.crawls[1].crawl_id,
                                              indexed_history.crawls[2].crawl_id)
    assert set(latest["sites"]) >= {"allyvia", "cognitura"}


def test_diff_of_an_edited_article_shows_the_removed_and_added_sentences(indexed_history):
    edited = "http://cognitura.test/psychology/the-certainty-trap/"
    assert edited in changes(1, 2).changed
    with Catalog.open(indexed_history.collection) as catalog:
        a, b = default_pair(catalog, edited, None, None)
    diff = compare(indexed_history.collection, a, b)
    deleted = " ".join(op["text"] for op in diff["text"] if op["op"] == "delete")
    assert "The simplicity is the point." in deleted
    assert diff["options"]["text"] == "main"
    receipt = diff["receipt"]
    assert receipt["from"]["record_id"] and receipt["to"]["digest"] == b.digest
    assert receipt["permalink"] == f"/diff/{a.timestamp}/{b.timestamp}/{edited}"
    assert receipt["software"].startswith("Palimpsest/")


def test_an_added_sentence_is_shown_inserted(indexed_history):
    with Catalog.open(indexed_history.collection) as catalog:
        for url in sorted(changes(1, 2).changed):
            if "factsignal" not in url:
                continue
            a, b = default_pair(catalog, url, None, None)
            diff = compare(indexed_history.collection, a, b)
            if any(op["op"] == "insert" and len(op["text"].split()) > 5 for op in diff["text"]):
                return
    pytest.fail("no inserted sentence found in factsignal's edited pages")


def test_dropped_disclosure_disappears_on_exactly_the_site_that_dropped_it(report):
    dropped = manifest(1).disclosure_sites - manifest(2).disclosure_sites
    watch = report["watch"]["disclosure"]
    assert {m["site"] for m in watch["disappeared"]} == dropped
    assert len(watch["disappeared"]) == len([u for u in manifest(2).pages
                                             if "allyvia" in u])
    assert watch["appeared"] == []
    assert watch["coverage"]["allyvia"]["carrying"] == 0
    assert watch["coverage"]["paxpoint"]["share"] == 1.0
    assert all(m["diff"].startswith("/diff/") for m in watch["disappeared"])


def test_watch_history_follows_the_phrase_through_every_crawl(indexed_history, capsys):
    root = str(indexed_history.collection.root)
    assert main(["watch", "disclosure", "--collection", root, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    first, second, third = history["crawls"]
    dropped = manifest(1).disclosure_sites - manifest(2).disclosure_sites
    assert first["disappeared"] == second["disappeared"] == []
    assert {m["site"] for m in third["disappeared"]} == dropped
    assert all(c["share"] == 1.0 for c in second["coverage"].values())
    assert third["coverage"]["allyvia"]["carrying"] == 0
    assert not any(u.startswith("http://allyvia.test/") for u in third["carrying"])
    assert main(["watch", "nope", "--collection", root]) == 2
    assert "no watched phrase named 'nope'" in capsys.readouterr().err


def test_a_noise_rule_hides_a_changing_date_and_says_so(indexed_history, tmp_path, capsys):
    noisy = manifest(1).noise_page
    with Catalog.open(indexed_history.collection) as catalog:
        a, b = default_pair(catalog, noisy, None, None)
    plain = compare(indexed_history.collection, a, b)
    assert plain["ratio"] > 0
    rule = r"Last updated:? [A-Z][a-z]+ \d{1,2}, \d{4}"
    quiet = compare(indexed_history.collection, a, b, Options(rules=(rule,)))
    assert quiet["ratio"] == 0
    assert quiet["rules"] == [{"rule": rule, "hidden": 2}]
    assert quiet["receipt"]["rules"] == [rule]
    # and from the network config, through the CLI
    copy = Collection(tmp_path / "c")
    shutil.copytree(indexed_history.collection.root, copy.root)
    config = copy.config_path.read_text()
    line = f"ignore = [{json.dumps(rule)}]"  # TOML and JSON share this string syntax
    copy.config_path.write_text(re.sub(r"^ignore = \[\]", lambda _: line, config, flags=re.M))
    assert main(["diff", noisy, "--collection", str(copy.root), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ratio"] == 0 and result["rules"][0]["hidden"] == 2


def test_diff_cli_marks_changes_readably_and_errors_cleanly(indexed_history, capsys):
    root = str(indexed_history.collection.root)
    assert main(["diff", "http://cognitura.test/psychology/the-certainty-trap/",
                 "--collection", root]) == 0
    out = capsys.readouterr().out
    assert "[-The simplicity is the point.-]" in out and "receipt: /diff/" in out
    assert "Learning to live with ambiguity" not in out  # unchanged paragraphs left out
    assert main(["diff", "http://paxpoint.test/about/", "--collection", root]) == 2
    assert "nothing to compare" in capsys.readouterr().err
    assert main(["changes", "--from", "nope", "--collection", root]) == 2


def test_a_css_selector_rule_drops_the_element_and_counts_what_it_hid(indexed_history):
    noisy = manifest(1).noise_page
    with Catalog.open(indexed_history.collection) as catalog:
        a, b = default_pair(catalog, noisy, None, None)
    quiet = compare(indexed_history.collection, a, b, Options(rules=("css:.c-status-line",)))
    assert quiet["ratio"] == 0
    assert quiet["rules"] == [{"rule": "css:.c-status-line", "hidden": 2}]


_LISTED_CRAWL = """
import sys
from pathlib import Path
from crawler.run import run_crawl
from crawler.settings import CrawlOptions
from index.collection import Collection
run_crawl(Collection(Path(sys.argv[1])), CrawlOptions(delay=0, urls=tuple(sys.argv[2:])))
"""


def test_a_crawl_of_some_pages_stands_for_the_network_as_it_left_it(tmp_path):
    # revision 1 crawled whole, then two of its pages only (as `palimpsest monitor` does),
    # then revision 2 whole: from the crawl of two pages to revision 2, what was added,
    # removed and changed is what revision 2 changed, not the hundred pages it left alone
    with SampleNetwork(revision=1) as network:
        collection = new_collection(tmp_path, network)
        crawl(collection)
        pages = sorted(manifest(1).pages)[:2]
        subprocess.run([sys.executable, "-c", _LISTED_CRAWL, str(collection.root), *pages],
                       check=True, capture_output=True, timeout=300)
        network.set_revision(2)
        crawl(collection)
    update(collection)
    first, listed, second = (c.crawl_id for c in crawl_ids(collection))
    assert json.loads((collection.crawl_dir(listed) / "summary.json").read_text())[
        "listed"] == 2
    whole = change_report(collection, first, second)
    report = change_report(collection, listed, second)
    assert report["from"] == listed
    expected = changes(1, 2)
    for kind in ("added", "removed", "changed"):
        assert {e["url"] for e in report[kind]} == {e["url"] for e in whole[kind]} \
            == set(getattr(expected, kind)), kind
    # and the default pair, the crawl of two pages and revision 2, says the same
    assert {e["url"] for e in change_report(collection)["removed"]} == set(expected.removed)
    # the watched disclosure line: the crawl of two pages leaves every other page carrying
    # it as before, and revision 2 drops it on the site that dropped it, on every page
    history = watch_history(collection, find_watch(collection.load_config(), "disclosure"))
    before, partial, after = history["crawls"]
    assert partial["listed"] and partial["pages"] == before["pages"]
    assert partial["coverage"] == before["coverage"] and partial["disappeared"] == []
    dropped = manifest(1).disclosure_sites - manifest(2).disclosure_sites
    assert {m["site"] for m in after["disappeared"]} == dropped
    assert len(after["disappeared"]) == before["coverage"]["allyvia"]["carrying"]
