"""The comparison engine: word diffs that read the way a person compares two texts, options
that hide case and paragraph-break noise and say how much they hid, and comparisons of real
captures of the sample network with the receipts to cite them."""

from __future__ import annotations

import json
import random

import pytest

from index.catalog import Catalog
from index.compare.diff import Options, change_ratio, compare, default_pair
from index.compare.textdiff import diff_words
from index.errors import UsageError
from palimpsest.cli import main
from palimpsest.sample_network import changes, manifest

EDITED = "http://cognitura.test/psychology/the-certainty-trap/"
RETITLED = "http://justorium.test/cases/the-coastal-boundary-arbitration/"
CROSS_LINKED = "http://factsignal.test/studies/how-monitoring-bodies-choose-their-cases/"


def sides(ops: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """The words of the older and the newer text, put back together from the ops."""
    old = " ".join(op["text"] for op in ops if op["op"] != "insert").split()
    new = " ".join(op["text"] for op in ops if op["op"] != "delete").split()
    return old, new


def test_word_diff_shows_what_was_removed_and_what_was_added():
    old = "The council met on Monday.\nIt agreed to extend the programme for a year."
    new = "The council met on Tuesday.\nIt agreed to extend the programme for two years."
    result = diff_words(old, new)
    assert result.ops == [
        {"op": "equal", "text": "The council met on"}, {"op": "delete", "text": "Monday."},
        {"op": "insert", "text": "Tuesday.\n"},
        {"op": "equal", "text": "It agreed to extend the programme for"},
        {"op": "delete", "text": "a year."}, {"op": "insert", "text": "two years.\n"}]
    assert sides(result.ops) == (old.split(), new.split())
    assert result.changes == 2 and result.changed_words == 6
    assert result.ratio == round(6 / (len(old.split()) + len(new.split())), 4)


def test_case_only_changes_are_hidden_when_asked_and_counted():
    old, new = "Read the Annual Report now", "Read the annual report NOW"
    assert diff_words(old, new).changes == 1
    quiet = diff_words(old, new, ignore_case=True)
    assert quiet.changes == 0 and quiet.ratio == 0
    assert quiet.case_hidden == 3
    assert sides(quiet.ops)[1] == new.split()  # the newer text is what is shown


def test_a_paragraph_split_is_no_change_unless_breaks_are_counted():
    old = "First sentence here. Second sentence follows."
    new = "First sentence here.\nSecond sentence follows."
    quiet = diff_words(old, new)
    assert quiet.changes == 0 and quiet.whitespace_hidden == 1
    assert quiet.ops == [{"op": "equal", "text": "First sentence here.\nSecond sentence "
                                                 "follows.\n"}]
    counted = diff_words(old, new, ignore_whitespace=False)
    assert counted.changes == 1 and counted.whitespace_hidden == 0
    assert sides(counted.ops) == (old.split(), new.split())


def test_deleted_words_stay_where_they_stood_in_the_paragraph():
    removed_paragraph = diff_words("One.\nTwo.\nThree.", "One.\nThree.")
    assert removed_paragraph.ops == [{"op": "equal", "text": "One.\n"},
                                     {"op": "delete", "text": "Two.\n"},
                                     {"op": "equal", "text": "Three.\n"}]
    cut_short = diff_words("Keep these words and not these.\nNext.",
                           "Keep these words\nNext.")
    assert cut_short.ops == [{"op": "equal", "text": "Keep these words"},
                             {"op": "delete", "text": "and not these.\n"},
                             {"op": "equal", "text": "Next.\n"}]


def test_spacing_inside_a_paragraph_never_counts():
    assert diff_words("a  b\tc   d", "a b c d").changes == 0


def test_many_small_edits_in_a_long_page_are_each_found():
    # two ~100 KB texts, one long paragraph and many short ones, 150 single-word edits:
    # the diff finds each edit and nothing else (no long runs re-aligned on "the")
    rng = random.Random(5)
    vocab = [f"w{n}" for n in range(4000)] + ["the", "of", "and", "to", "a"] * 400
    words = [rng.choice(vocab) for _ in range(16_000)]
    edited = list(words)
    for at in rng.sample(range(len(words)), 150):
        edited[at] = "EDITED"
    for old, new in ((" ".join(words), " ".join(edited)),
                     ("\n".join(" ".join(words[i:i + 60]) for i in range(0, 16_000, 60)),
                      "\n".join(" ".join(edited[i:i + 60]) for i in range(0, 16_000, 60)))):
        result = diff_words(old, new)
        assert sides(result.ops) == (old.split(), new.split())
        inserted = [w for op in result.ops if op["op"] == "insert" for w in op["text"].split()]
        assert set(inserted) == {"EDITED"}
        assert len(inserted) <= 150 and result.changed_words <= 300


def test_a_text_of_few_distinct_words_still_aligns_on_its_edits():
    rng = random.Random(7)
    words = [rng.choice(["ha", "ho", "hi"]) for _ in range(12_000)]
    edited = list(words)
    for at in sorted(rng.sample(range(len(words)), 40), reverse=True):
        del edited[at]
    result = diff_words(" ".join(words), " ".join(edited))
    assert sides(result.ops) == (words, edited)
    assert result.changed_words < 400  # forty deletions, not the text replaced wholesale


def test_markup_in_the_text_is_kept_as_text():
    result = diff_words("Say <b>hi</b>", 'Say <script>alert("x")</script>')
    assert {"op": "insert", "text": '<script>alert("x")</script>\n'} in result.ops


@pytest.fixture(scope="module")
def catalog(indexed_history):
    with Catalog.open(indexed_history.collection) as opened:
        yield opened


def test_edited_article_diff_names_the_removed_sentence_and_its_receipt(indexed_history,
                                                                        catalog):
    a, b = default_pair(catalog, EDITED, None, None)
    diff = compare(indexed_history.collection, a, b)
    assert [op["text"] for op in diff["text"] if op["op"] != "equal"] == [
        "The simplicity is the point."]
    assert diff["changes"] == 1 and 0 < diff["ratio"] < 0.02
    receipt = diff["receipt"]
    assert (receipt["from"]["record_id"], receipt["to"]["record_id"]) == (a.record_id,
                                                                          b.record_id)
    assert receipt["from"]["payload_file"].startswith("crawls/")
    assert receipt["to"]["digest"] == b.digest and receipt["to"]["offset"] == b.offset
    assert receipt["command"] == (f"palimpsest diff {EDITED} --from {a.timestamp} "
                                  f"--to {b.timestamp}")
    assert receipt["permalink"] == f"/diff/{a.timestamp}/{b.timestamp}/{EDITED}"


def test_the_receipt_command_gives_the_same_comparison(indexed_history, catalog, capsys):
    a, b = default_pair(catalog, EDITED, None, None)
    diff = compare(indexed_history.collection, a, b)
    args = diff["receipt"]["command"].split()[1:]
    assert main([*args, "--collection", str(indexed_history.collection.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(diff))


def test_by_default_the_newest_capture_is_compared_with_the_last_one_that_differs(catalog):
    first, second, third = catalog.captures(EDITED)
    assert first.digest == second.digest != third.digest
    a, b = default_pair(catalog, EDITED, None, None)
    assert (a.id, b.id) == (second.id, third.id)
    a, b = default_pair(catalog, EDITED, first.timestamp, None)
    assert (a.id, b.id) == (first.id, third.id)
    with pytest.raises(UsageError, match="give two different times"):
        default_pair(catalog, EDITED, first.timestamp, first.timestamp)


def test_a_change_outside_the_main_text_compares_the_full_text(indexed_history, catalog):
    # allyvia's footer lost its disclosure line; the article itself is unchanged
    url = next(u for u in sorted(changes(1, 2).changed) if u.startswith("http://allyvia"))
    a, b = default_pair(catalog, url, None, None)
    diff = compare(indexed_history.collection, a, b)
    assert diff["options"]["text"] == "full"
    assert manifest(1).disclosure in " ".join(op["text"] for op in diff["text"]
                                               if op["op"] == "delete")
    assert compare(indexed_history.collection, a, b, Options(full=False))["ratio"] == 0
    assert diff["options"]["text_why"] == "only text outside the main text changed"
    # the permalink leaves the choice to the page, which says why; the command pins it
    assert diff["receipt"]["permalink"] == f"/diff/{a.timestamp}/{b.timestamp}/{url}"
    assert diff["receipt"]["command"].endswith(" --full")


def test_links_title_and_headers_that_changed_are_listed(indexed_history, catalog):
    a, b = default_pair(catalog, CROSS_LINKED, None, None)
    diff = compare(indexed_history.collection, a, b)
    assert diff["links"] == {"added": ["http://justorium.test/briefs/amicus-brief-on-aid-access/"],
                             "removed": []}
    assert diff["metadata"]["header:Last-Modified"]["from"] != \
        diff["metadata"]["header:Last-Modified"]["to"]
    a, b = default_pair(catalog, RETITLED, None, None)
    title = compare(indexed_history.collection, a, b)["metadata"]["title"]
    assert "What the Tribunal Decided" in title["to"] and title["from"] != title["to"]


def test_change_ratio_is_free_for_equal_digests_and_agrees_with_the_diff(indexed_history,
                                                                         catalog):
    first, second, third = catalog.captures(EDITED)
    assert change_ratio(indexed_history.collection, first, second) == 0.0
    ratio = change_ratio(indexed_history.collection, second, third)
    assert ratio == compare(indexed_history.collection, second, third)["ratio"] > 0


def test_a_bad_noise_rule_is_one_clear_error(indexed_history, catalog):
    a, b = default_pair(catalog, EDITED, None, None)
    with pytest.raises(UsageError, match="not a regular expression"):
        compare(indexed_history.collection, a, b, Options(rules=("([unclosed",)))
    with pytest.raises(UsageError, match="not a CSS selector"):
        compare(indexed_history.collection, a, b, Options(rules=("css:p[[",)))
