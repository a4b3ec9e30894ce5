"""What a search may cost: hostile queries (19 OR'ed wildcards, `*` alone, very long queries,
thousands of terms) on a few thousand synthetic pages in each engine are refused with one
clear message, and a search past its deadline fails instead of answering in part: in the
engine, through index.search.service, on the web (400) and on the command line (exit 2)."""

from __future__ import annotations

import itertools
import random
import time
from io import BytesIO

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.collection import Collection
from index.config import render_template
from index.errors import QueryError, QueryTooCostly
from index.indexer import update
from index.search.engine import TextDoc
from index.search.engines import ENGINE_ENV
from index.search.hits import describe
from index.search.query import MAX_QUERY_CHARS, MAX_TERMS, TextQuery
from index.search.query_cost import MAX_CLAUSES, WALL_TIMES, Budget
from index.search.service import SearchRequest, search
from index.search.tantivy_engine import TantivyIndex
from index.search.whoosh_engine import WhooshIndex
from palimpsest.cli import main
from web import create_app

PAGES = 3000
SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"]
# two-letter wildcards, each standing for ~150 words of the vocabulary: 19 of them, ~5,000
NINETEEN = " OR ".join(f"{s}*" for s in SYLLABLES[:19])
HOSTILE = {
    "19 OR'ed wildcards": (NINETEEN, f"more than {MAX_CLAUSES:,} terms to look up"),
    "* alone": ("*", "needs at least 2 letters"),
    "one letter and *": ("b*", "needs at least 2 letters"),
    "a very long query": ("bala " * 400, "too long"),
    "thousands of terms": (" ".join(["ba", "be"] * 1500), "too long"),
    "65 terms": (" OR ".join(SYLLABLES[:MAX_TERMS + 1]), f"{MAX_TERMS + 1} words and phrases"),
}


@pytest.fixture(scope="module", autouse=True)
def engine_from_config():
    """The engine is the one the archive's config names ($PALIMPSEST_ENGINE is unset)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ENGINE_ENV, raising=False)
        yield


def vocabulary(size: int = 12_000) -> list[str]:
    """Made-up words of two and three syllables, starting evenly with every syllable."""
    rng = random.Random(7)
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3))))] = None
    return list(words)


@pytest.fixture(scope="module", params=["whoosh", "tantivy"])
def engine(tmp_path_factory, request):
    """PAGES synthetic pages of 60 words each, written through the engine interface: every
    word of the vocabulary is on some page."""
    words = vocabulary()
    cycle = itertools.cycle(words)
    kind = WhooshIndex if request.param == "whoosh" else TantivyIndex
    with kind(tmp_path_factory.mktemp(request.param)) as index_:
        for n in range(PAGES):
            text = " ".join(itertools.islice(cycle, 60))
            index_.add(TextDoc(f"{n:024x}", f"https://x.test/{n}.html", "x", text[:40],
                               text, text))
        index_.commit()
        yield index_


class Ticks:
    """A clock that moves on one second each time it is read."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return float(self.reads)


def test_a_search_that_spends_no_cpu_is_still_stopped_by_the_wall_clock():
    budget = Budget(seconds=0.05, clock=lambda: 0.0)  # waiting: its CPU clock never moves
    time.sleep(0.05 * WALL_TIMES)
    with pytest.raises(QueryTooCostly, match=f"took more than {0.05 * WALL_TIMES:g} s;"):
        budget.check("matching")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_queries_are_refused_as_too_costly(engine, name):
    q, message = HOSTILE[name]
    with pytest.raises(QueryTooCostly, match=message) as refused:
        engine.match(TextQuery.parse(q))
    assert str(refused.value).startswith("query too costly: ")
    assert isinstance(refused.value, QueryError)  # a 400 on the web, exit 2 on the CLI


def test_the_terms_a_query_looks_up_are_capped_across_its_wildcards(engine):
    few = " OR ".join(f"{s}*" for s in SYLLABLES[:3])
    assert len(engine.match(TextQuery.parse(few))) > 0
    # the same three wildcards, each within its own cap, but more terms than a search may
    # look up together
    with pytest.raises(QueryTooCostly, match="more than 100 terms"):
        engine.match(TextQuery.parse(few), Budget(clauses=100))


def test_a_phrase_looks_up_each_of_its_words(engine):
    phrase = '"' + " ".join(vocabulary()[:6]) + '"'
    engine.match(TextQuery.parse(phrase), Budget(clauses=12))  # in the title and the text
    with pytest.raises(QueryTooCostly, match="more than 11 terms"):
        engine.match(TextQuery.parse(phrase), Budget(clauses=11))


def test_operators_do_not_count_as_terms(engine):
    words = " OR ".join(vocabulary()[:MAX_TERMS])
    assert len(words) <= MAX_QUERY_CHARS
    assert len(engine.match(TextQuery.parse(words))) > 0


def test_a_search_out_of_time_fails_at_once(engine):
    query = TextQuery.parse("ba*")
    with pytest.raises(QueryTooCostly, match="query too costly: matching took more than 0 s"):
        engine.match(query, Budget(seconds=0))
    with pytest.raises(QueryTooCostly, match="reading texts for snippets"):
        engine.stored([f"{n:024x}" for n in range(10)], Budget(seconds=0))
    with pytest.raises(QueryTooCostly, match="snippets"):
        describe(engine, query, [f"{n:024x}" for n in range(10)], Budget(seconds=0))


@pytest.mark.parametrize("reads", [1, 2, 3, 4, 10, 100, 1000, 10_000])
def test_a_deadline_wherever_it_falls_gives_every_match_or_the_error(engine, reads):
    query = TextQuery.parse("ba* OR bo*")
    whole = engine.match(query).by_number()
    try:
        found = engine.match(query, Budget(seconds=reads, clock=Ticks()))
    except QueryTooCostly as exc:
        assert "matching took more than" in str(exc)
    else:
        assert found.by_number() == whole  # never a part of the matches


def test_whoosh_reads_the_deadline_every_64_matching_documents(engine):
    if not isinstance(engine, WhooshIndex):
        pytest.skip("Tantivy matches in Rust: its deadline is read before and after")
    ticks = Ticks()
    found = engine.match(TextQuery.parse("ba*"), Budget(seconds=10**9, clock=ticks))
    assert len(found) > 64 * 8
    assert ticks.reads >= len(found) // 64


# -- through index.search.service, the web and the command line ------------------------------------


@pytest.fixture(scope="module", params=["whoosh", "tantivy"])
def archive(tmp_path_factory, request) -> Collection:
    """A small archive of a few pages, crawled once, indexed by the real indexer."""
    collection = Collection(tmp_path_factory.mktemp(f"archive-{request.param}"))
    collection.config_path.write_text(render_template(
        [("pax", "http://paxpoint.test/")], name="test").replace(
        'engine = "whoosh"', f'engine = "{request.param}"'))
    folder = collection.crawls_dir / "20240110120000"
    folder.mkdir(parents=True)
    with open(folder / "TEST-20240110120000-00000.warc.gz", "wb") as out:
        writer = WARCWriter(out, gzip=True)
        words = vocabulary(400)
        for n in range(10):
            text = " ".join(words[40 * n:40 * (n + 1)])
            body = (f"<html><head><title>Page {n}</title></head><body><p>{text}</p></body>"
                    "</html>").encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                                  ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                f"http://paxpoint.test/{n}.html", "response", payload=BytesIO(body),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": "2024-01-10T12:00:00Z"}))
    assert not update(collection).damaged
    return collection


def test_search_past_its_deadline_fails_rather_than_answer_in_part(archive):
    request = SearchRequest(q="ba* OR be*", limit=20)
    whole = search(archive, request)
    assert whole["total"] > 1
    with pytest.raises(QueryTooCostly, match="took more than 0 s"):
        search(archive, request, budget=Budget(seconds=0))
    for reads in (1, 2, 3, 5, 8, 13, 21, 10**9):
        try:
            found = search(archive, request, budget=Budget(seconds=reads, clock=Ticks()))
        except QueryTooCostly:
            continue
        assert found == whole


def test_time_paused_is_not_spent():
    # what a cold process reads once (the catalog's captures, as search groups matches)
    # is not the query's cost
    ticks = Ticks()
    budget = Budget(seconds=3, clock=ticks)  # made at 1 s: expires at 4 s
    with budget.paused():  # from 2 s to 103 s: 101 s more
        ticks.reads += 100
    assert not budget.expired()  # 104 s
    assert budget.expired()  # 105 s


def test_a_costly_query_is_a_400_on_the_web_and_exit_2_in_the_cli(archive, capsys):
    client = create_app({"COLLECTION": str(archive.root), "TESTING": True}).test_client()
    for path in ("/api/search?q=*", "/search?q=*"):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert "query too costly" in answer.get_data(as_text=True), path
    assert main(["search", "--collection", str(archive.root), "ba " * 400]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "query too costly: too long" in err
    assert "Traceback" not in err
