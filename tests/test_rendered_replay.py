"""A browser crawl of the script-rendered sister site (civiscope.test), searched, compared,
watched and replayed as rendered: the words its script put on the page are found by search,
shown by the diff and the watched phrase, and by the capture view in Chromium, where no
archived script runs; pywb replays the page from the same WARCs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update
from palimpsest.sample_network import SCRIPT_SITE, SampleNetwork, manifest, rendered_manifest
from palimpsest.sample_network.prose import plain
from palimpsest.sample_network.revisions import edition
from palimpsest.setup import write_config
from tests.conftest import crawl, palimpsest

PORT_LEVY = "http://civiscope.test/figures/the-port-levy-in-five-lines/"
EDITED_BEFORE = "under four percent in each of the last three years"
EDITED_AFTER = "just over five percent in the third"


@dataclass
class Rendered:
    collection: Collection
    crawls: list[str]  # revision 1's, then revision 2's


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """civiscope crawled with the browser at revision 1, then at revision 2, and indexed."""
    collection = Collection(tmp_path_factory.mktemp("rendered"))
    with SampleNetwork(revision=1) as network:
        write_config(collection, (), network.url, rendered=True)
        crawl(collection, "--browser", "--site", SCRIPT_SITE)
        network.set_revision(2)
        crawl(collection, "--browser", "--site", SCRIPT_SITE)
    update(collection)
    yield Rendered(collection, collection.crawl_ids())


def _search(collection: Collection, query: str) -> dict:
    done = palimpsest("search", "--collection", str(collection.root), "--json", "--limit",
                      "100", query)
    return json.loads(done.stdout)


def _article():
    (site,) = edition(1).rendered
    return next(a for a in site.articles if a.url == PORT_LEVY)


def test_the_catalog_ties_each_browser_capture_to_its_rendered_dom(rendered):
    with Catalog.open(rendered.collection) as catalog:
        captures = catalog.captures(PORT_LEVY)
        assert len(captures) == 2 and all(c.rendered for c in captures)
        # the shells are the same bytes in both revisions; what the script fetched is not
        assert captures[0].digest == captures[1].digest
        assert captures[0].dom_digest != captures[1].dom_digest
        (dom,) = [c for c in catalog.captures("urn:dom:" + PORT_LEVY)
                  if c.timestamp >= captures[1].timestamp]
        assert (dom.warc_file, dom.offset, dom.digest) == (
            captures[1].dom_file, captures[1].dom_offset, captures[1].dom_digest)
    # the urn: records stay catalogued, as cdxj-indexer lists them
    cdxj = palimpsest("cdxj", "--collection", str(rendered.collection.root)).stdout
    assert cdxj.count(f'"url": "urn:dom:{PORT_LEVY}"') == 2
    assert cdxj.count(f'"url": "urn:fullPage:{PORT_LEVY}"') == 2


def test_search_finds_the_words_only_the_script_put_on_the_page(rendered):
    found = rendered_manifest(1)
    (hidden,) = found.script_only
    # the article only the script links to, and a sentence only its JSON holds
    for query, page in ((f'"{" ".join(plain(_article().lede).split()[:8])}"', PORT_LEVY),
                        (f'"{EDITED_AFTER}"', PORT_LEVY)):
        answer = _search(rendered.collection, query)
        urls = {r["url"] for r in answer["results"]}
        assert page in urls, (query, answer)
        assert not [u for u in urls if u.startswith("urn:")], urls
    hidden_title = next(a.title for a in edition(1).rendered[0].articles if a.url == hidden)
    answer = _search(rendered.collection, f'"{hidden_title}"')
    assert hidden in {r["url"] for r in answer["results"]}
    # the disclosure line is in every footer, put there by script from site.json
    answer = _search(rendered.collection, f'"{manifest(1).disclosure}"')
    urls = {r["url"] for r in answer["results"]}
    assert PORT_LEVY in urls and all(u.startswith("http://civiscope.test/") for u in urls)
    assert not [u for u in urls if u.startswith("urn:")]


def test_the_diff_shows_the_sentence_edited_in_the_json(rendered):
    done = palimpsest("diff", "--collection", str(rendered.collection.root), "--json",
                      PORT_LEVY)
    diff = json.loads(done.stdout)
    before = " ".join(op["text"] for op in diff["text"] if op["op"] != "insert")
    after = " ".join(op["text"] for op in diff["text"] if op["op"] != "delete")
    assert EDITED_BEFORE in " ".join(before.split()) and EDITED_BEFORE not in after
    assert EDITED_AFTER in " ".join(after.split()) and EDITED_AFTER not in before
    assert diff["ratio"] > 0 and diff["changes"] >= 1


def test_the_watched_disclosure_disappears_from_civiscope_in_revision_2(rendered):
    done = palimpsest("watch", "--collection", str(rendered.collection.root), "--json",
                      "disclosure")
    history = json.loads(done.stdout)
    first, second = history["crawls"]
    assert PORT_LEVY in first["carrying"] and not second["carrying"]
    assert PORT_LEVY in {m["url"] for m in second["disappeared"]}
    report = json.loads(palimpsest("changes", "--collection", str(rendered.collection.root),
                                   "--json").stdout)
    changed = {c["url"] for c in report["changed"]}
    assert PORT_LEVY in changed and not [u for u in changed if u.startswith("urn:")]
    assert PORT_LEVY in {m["url"] for m in report["watch"]["disclosure"]["disappeared"]}
