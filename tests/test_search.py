"""Full-text search over a small archive: three crawls of two sites, written as real WARCs with
warcio, indexed by the real indexer, searched through index.search.service and the CLI."""

from __future__ import annotations

import hashlib
import json
import re
from base64 import b32encode
from io import BytesIO

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from whoosh import fields

from index.collection import Collection
from index.config import render_template
from index.errors import QueryError, UsageError
from index.indexer import update
from index.search import grouping, text_captures
from index.search import query as query_module
from index.search.engine import TextDoc
from index.search.engines import ENGINE_ENV, index_dir, open_index
from index.search.hits import best_hits
from index.search.query import TextQuery
from index.search.service import SearchRequest, search
from index.search.snippets import Wanted
from index.search.tantivy_engine import TantivyIndex
from index.search.whoosh_engine import STEM, StemmedText
from palimpsest.cli import main

CRAWLS = ("20240110120000", "20240210120000", "20240310120000")
PAX, ALLY = "http://paxpoint.test", "http://allyvia.test"
NAV = "<nav><a href='/'>Home</a> <a href='/blog/'>Blog</a> <a href='/about/'>About</a></nav>"
FOOTER = "<footer><p>Distributed on behalf of a foreign principal.</p></footer>"
FILLER = ("Observers across the region followed the delegations closely, and commentators "
          "weighed what the meetings might mean for trade, tourism and security. ") * 3

TALKS_V1 = (f"<p>Delegations from both countries agreed to negotiate a joint action plan for "
            f"the coming year in Rabat.</p><p>{FILLER}</p>")
TALKS_V2 = (f"<p>Delegations from both countries agreed to negotiate a joint action plan for "
            f"the coming year in Rabat.</p><p>{FILLER}</p><p>A second round of talks "
            f"is planned in Tel Aviv, where the harbour cooperation will be signed.</p>")


def html_page(title: str, article: str) -> bytes:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"</head><body>{NAV}<main><article><h1>{title}</h1>{article}</article></main>"
            f"{FOOTER}</body></html>").encode()


# URL -> (status, mime, body) in each crawl; None: not captured in that crawl
PAGES = {
    f"{PAX}/news/talks.html": [(200, "text/html", html_page("Talks resume", TALKS_V1)),
                               (200, "text/html", html_page("Talks resume", TALKS_V1)),
                               (200, "text/html", html_page("Talks resume", TALKS_V2))],
    f"{PAX}/news/security.html": [(200, "text/html", html_page(
        "Security notes", "<p>The harbour report warns about &lt;script&gt;alert('x')"
        "&lt;/script&gt; injections found in the port authority's forms, and about plans that "
        f"join action to words.</p><p>{FILLER}</p>"))] * 3,
    f"{ALLY}/ties.html": [(200, "text/html", html_page(
        "Alliance ties", f"<p>Rabat and the alliance deepen cooperation on the harbour.</p>"
                         f"<p>{FILLER}</p>")),
                          (200, "text/html", html_page(
        "Alliance ties", f"<p>Rabat and the alliance deepen cooperation on the harbour.</p>"
                         f"<p>{FILLER}</p>")),
                          (404, "text/html", b"<html><title>Not found</title>Rabat</html>")],
    f"{ALLY}/about.txt": [(200, "text/plain", b"About Allyvia\nA network of cooperation "
                                              b"newsletters, founded in Rabat.\n"), None, None],
    f"{ALLY}/logo.png": [(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)] * 3,
}


def digest(body: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode()


def write_crawl(collection: Collection, crawl: int, seen: dict[str, tuple[str, str]]) -> None:
    """One crawl's WARC: a response per new payload, a revisit per unchanged one."""
    crawl_id = CRAWLS[crawl]
    folder = collection.crawls_dir / crawl_id
    folder.mkdir(parents=True)
    date = f"{crawl_id[:4]}-{crawl_id[4:6]}-{crawl_id[6:8]}T12:00:00Z"
    with open(folder / f"TEST-{crawl_id}-00000.warc.gz", "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, versions in PAGES.items():
            if versions[crawl] is None:
                continue
            status, mime, body = versions[crawl]
            headers = StatusAndHeaders(f"{status} {'OK' if status == 200 else 'Not Found'}",
                                       [("Content-Type", f"{mime}; charset=utf-8"),
                                        ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            warc_headers = {"WARC-Date": date}
            if seen.get(url, ("",))[0] == digest(body) and status == 200:
                record = writer.create_revisit_record(
                    url, digest(body), url, seen[url][1], http_headers=headers,
                    warc_headers_dict=warc_headers)
            else:
                record = writer.create_warc_record(url, "response", payload=BytesIO(body),
                                                   http_headers=headers,
                                                   warc_headers_dict=warc_headers)
                if status == 200:
                    seen[url] = (digest(body), date)
            writer.write_record(record)


@pytest.fixture(scope="module", autouse=True)
def engine_from_config():
    """The engine is the one the archive's config names: $PALIMPSEST_ENGINE, which would
    override it, is unset for these tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ENGINE_ENV, raising=False)
        yield


@pytest.fixture(scope="module", params=["whoosh", "tantivy"])
def archive(tmp_path_factory, request) -> Collection:
    """The test archive, indexed with each engine in turn: every search test runs on both."""
    collection = Collection(tmp_path_factory.mktemp(f"archive-{request.param}"))
    collection.config_path.write_text(render_template(
        [("pax", f"{PAX}/"), ("ally", f"{ALLY}/")], name="test").replace(
        'engine = "whoosh"', f'engine = "{request.param}"'))
    seen: dict[str, tuple[str, str]] = {}
    for crawl in range(len(CRAWLS)):
        write_crawl(collection, crawl, seen)
    summary = update(collection)
    assert not summary.damaged
    return collection


def ask(collection: Collection, q: str, **options) -> dict:
    return search(collection, SearchRequest(q=q, **options))


def urls(found: dict) -> set[str]:
    return {r["url"] for r in found["results"]}


def test_stemming_finds_other_forms_of_a_word(archive):
    # Snowball English: negotiations, negotiate, negotiating -> "negoti"
    found = ask(archive, "negotiations")
    assert urls(found) == {f"{PAX}/news/talks.html"}
    assert "<mark>negotiate</mark>" in found["results"][0]["snippet"]


def test_phrase_matches_words_in_order_only(archive):
    assert urls(ask(archive, '"joint action plan"')) == {f"{PAX}/news/talks.html"}
    # security.html has "join action" and "plans", not the phrase
    assert urls(ask(archive, "joint action plan")) == {f"{PAX}/news/talks.html"}
    assert len(urls(ask(archive, "action plan"))) == 2


def test_boolean_or_and_not(archive):
    assert urls(ask(archive, "negotiate OR injections")) == {
        f"{PAX}/news/talks.html", f"{PAX}/news/security.html"}
    assert urls(ask(archive, "harbour AND injections")) == {f"{PAX}/news/security.html"}
    assert urls(ask(archive, "harbour -injections")) == {f"{PAX}/news/talks.html",
                                                          f"{ALLY}/ties.html"}
    assert urls(ask(archive, "harbour NOT (injections OR alliance)")) == {
        f"{PAX}/news/talks.html"}


def test_wildcard_reaches_past_the_stem(archive):
    found = ask(archive, "negotiat*")
    assert urls(found) == {f"{PAX}/news/talks.html"}
    assert "<mark>negotiate</mark>" in found["results"][0]["snippet"]
    assert urls(ask(archive, "inject*")) == {f"{PAX}/news/security.html"}


def test_fields_title_site_and_url(archive):
    assert urls(ask(archive, "title:alliance")) == {f"{ALLY}/ties.html"}
    assert urls(ask(archive, "alliance -title:alliance")) == set()
    assert urls(ask(archive, "rabat site:ally")) == {f"{ALLY}/ties.html", f"{ALLY}/about.txt"}
    assert urls(ask(archive, "url:news harbour")) == {f"{PAX}/news/talks.html",
                                                      f"{PAX}/news/security.html"}
    assert urls(ask(archive, "rabat", site="pax")) == {f"{PAX}/news/talks.html"}


def test_plain_text_is_searchable_and_non_text_is_not(archive):
    found = ask(archive, "newsletters")
    assert urls(found) == {f"{ALLY}/about.txt"}
    assert found["results"][0]["title"] == "About Allyvia"


def test_footer_text_is_searchable(archive):
    assert len(urls(ask(archive, '"on behalf of a foreign principal"'))) == 3


def test_capture_date_range(archive):
    # the second round of talks appears in the third crawl only
    assert urls(ask(archive, "tel aviv", date_to="2024-02")) == set()
    found = ask(archive, "tel aviv", date_from="2024-03-01")
    assert urls(found) == {f"{PAX}/news/talks.html"}
    assert found["results"][0]["timestamp"] == CRAWLS[2]
    assert urls(ask(archive, "rabat", date_from="2024", date_to="20240131235959")) == {
        f"{PAX}/news/talks.html", f"{ALLY}/ties.html", f"{ALLY}/about.txt"}


def test_collapse_gives_one_result_per_url_with_versions(archive):
    found = ask(archive, "negotiate")
    (talks,) = found["results"]
    assert found["total"] == 1
    assert talks["versions"] == 2 and talks["captures"] == 3
    assert talks["first_seen"] == "2024-01-10T12:00:00Z"
    assert talks["last_seen"] == "2024-03-10T12:00:00Z"
    assert talks["site"] == "pax" and talks["crawl"] in CRAWLS
    every = ask(archive, "negotiate", collapse=False)
    assert every["total"] == 3
    assert sorted(r["timestamp"] for r in every["results"]) == list(CRAWLS)


def test_facets_count_pages_by_site_and_month(archive):
    found = ask(archive, "rabat")
    assert found["total"] == 3
    assert found["facets"]["site"] == {"ally": 2, "pax": 1}
    # the 404 of ties.html in March is not a match: error pages are not what was said
    assert found["facets"]["month"] == {"2024-01": 3, "2024-02": 2, "2024-03": 1}
    every = ask(archive, "rabat", collapse=False)
    assert every["facets"]["month"] == {"2024-01": 3, "2024-02": 2, "2024-03": 1}
    assert every["total"] == 6


def test_as_of_keeps_only_what_was_live_then(archive):
    before = ask(archive, "rabat", as_of="2024-02-15")
    # about.txt was captured in January only: its last capture still stands for it
    assert urls(before) == {f"{PAX}/news/talks.html", f"{ALLY}/ties.html", f"{ALLY}/about.txt"}
    talks = next(r for r in before["results"] if "talks" in r["url"])
    assert talks["timestamp"] == CRAWLS[1] and talks["versions"] == 1
    # in March ties.html answered 404: it was no longer live
    assert urls(ask(archive, "rabat", as_of="2024-03-31")) == {f"{PAX}/news/talks.html",
                                                                f"{ALLY}/about.txt"}
    # the talks text before March did not mention Tel Aviv
    assert urls(ask(archive, "tel aviv", as_of="2024-02")) == set()
    assert urls(ask(archive, "rabat", as_of="2023")) == set()


def test_sort_by_date_puts_the_newest_first(archive):
    found = ask(archive, "harbour", sort="date")
    stamps = [r["timestamp"] for r in found["results"]]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] == CRAWLS[2] and stamps[-1] == CRAWLS[1]  # ties.html last lived in Feb


def test_snippets_mark_short_words_and_phrases(archive):
    (talks,) = ask(archive, '"tel aviv"')["results"]
    assert "<mark>Tel</mark> <mark>Aviv</mark>" in talks["snippet"]
    (ties,) = ask(archive, "title:alliance")["results"]
    assert "the <mark>alliance</mark> deepen" in ties["snippet"]


def test_snippets_mark_a_phrase_only_where_it_stands(archive):
    # "on", "of" and "a" stand all over the pages; the phrase, in the footer only
    found = ask(archive, '"on behalf of a foreign principal"')
    assert found["total"] == 3
    for result in found["results"]:
        assert "<mark>on</mark> <mark>behalf</mark> <mark>of</mark> <mark>a</mark> " \
               "<mark>foreign</mark> <mark>principal</mark>" in result["snippet"]
        assert result["snippet"].count("<mark>") == 6


def test_snippets_show_words_far_apart_in_two_fragments(archive):
    (talks,) = ask(archive, "rabat aviv", date_from="2024-03")["results"]
    first, second = talks["snippet"].split(" … ")
    assert "<mark>Rabat</mark>" in first and "<mark>Aviv</mark>" in second


def test_snippets_escape_the_page_and_mark_only_hits(archive):
    (result,) = ask(archive, "injections")["results"]
    snippet = result["snippet"]
    assert "<mark>injections</mark>" in snippet
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_paging_with_limit_and_offset(archive):
    first = ask(archive, "harbour", limit=2)
    rest = ask(archive, "harbour", limit=2, offset=2)
    assert first["total"] == rest["total"] == 3
    assert len(first["results"]) == 2 and len(rest["results"]) == 1
    assert not urls(first) & urls(rest)


@pytest.mark.parametrize("q, message", [
    ('"unclosed phrase', "unclosed quote"),
    ("(rabat OR harbour", "unclosed '('"),
    ("rabat)", "unmatched ')'"),
    ("rabat AND", "ends after an operator"),
    ("OR rabat", "needs a word on each side"),
    ("-rabat", "exclusion alone"),
    ("author:someone", "unknown field author:"),
    ("r*", "wildcard"),
    ("   ", "empty query"),
])
def test_malformed_query_raises_query_error(archive, q, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        ask(archive, q)


@pytest.mark.parametrize("options", [{"date_from": "2024-13"}, {"date_to": "yesterday"},
                                     {"as_of": "20245"}, {"sort": "random"},
                                     {"date_from": "2024-03", "date_to": "2024-02"}])
def test_bad_parameters_raise_query_error(archive, options):
    with pytest.raises(QueryError):
        ask(archive, "rabat", **options)


def test_cli_prints_results_and_json(archive, capsys):
    assert main(["search", "--collection", str(archive.root), "negotiate"]) == 0
    out = capsys.readouterr().out
    assert "1-1 of 1 pages match" in out and "Talks resume" in out and "2 versions" in out
    assert main(["search", "--collection", str(archive.root), "rabat", "--site", "ally",
                 "--as-of", "2024-02-15", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert {r["url"] for r in found["results"]} == {f"{ALLY}/ties.html", f"{ALLY}/about.txt"}


def test_cli_malformed_query_is_one_line_and_exit_2(archive, capsys):
    assert main(["search", "--collection", str(archive.root), '"unclosed']) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unclosed quote" in err and "Traceback" not in err
    assert main(["search", "--collection", str(archive.root), "x", "--from", "May"]) == 2


def test_search_before_indexing_says_what_to_do(tmp_path, capsys):
    assert main(["search", "--collection", str(tmp_path), "rabat"]) == 2
    assert "palimpsest index" in capsys.readouterr().err


ANALYSED = ("The U.S. delegation's e.g. co-operation in Rabat, Tel-Aviv and Zürich: "
            "negotiations, NEGOTIATING; a I 42 x2 ünïcödé_words 3.5% and the the end; "
            "organizations universally added pasted meteorologists ΣΟΦΟΣ straße İstanbul "
            + "x" * 39 + " " + "é" * 20 + " on behalf of a foreign principal")


def test_fast_text_field_indexes_exactly_what_the_analyzer_gives():
    text = ANALYSED * 3
    fast, plain = StemmedText(), fields.TEXT(analyzer=STEM, phrase=True)
    assert sorted(fast.index(text)) == sorted(plain.index(text))
    assert sorted(fast.index(" —, ; ")) == sorted(plain.index(" —, ; ")) == []


def test_both_engines_analyse_words_alike():
    # the same words, stems and dropped words: the engines find the same pages
    from index.search.tantivy_engine import _ANALYZERS
    from index.search.whoosh_engine import URL_WORDS
    from tests.conftest import ROOT

    content = ROOT / "palimpsest" / "sample_network" / "content"
    prose = " ".join(path.read_text() for path in sorted(content.glob("*.toml")))
    for text in (ANALYSED, prose):
        assert [t.text for t in STEM(text)] == _ANALYZERS["text"].analyze(text)
        assert [t.text for t in URL_WORDS(text)] == _ANALYZERS["url"].analyze(text)
    words = [t.text for t in STEM(ANALYSED)]
    assert {"the", "a", "of", "on"} <= set(words)  # no stop words: phrases keep them
    assert "x" * 39 in words and "é" * 20 not in words  # 39 bytes kept, 40 dropped
    assert {"negoti", "organiz", "universal", "meteorolog", "straße"} <= set(words)


def test_query_tree_is_the_same_whatever_the_engine():
    query = TextQuery.parse('title:"joint plan" rabat OR harbour -draft negotiat*')
    assert repr(query.root) == (
        "And(children=(Phrase(field='title', text='joint plan'), Or(children=(Term(field=None, "
        "text='rabat'), Term(field=None, text='harbour'))), Not(child=Term(field=None, "
        "text='draft')), Wildcard(field=None, pattern='negotiat*')))")


def test_engine_interface_searches_with_snippets_and_knows_its_keys(archive):
    config = archive.load_config()
    with open_index(archive, config) as engine:
        hits = best_hits(engine, TextQuery.parse("harbour"), limit=2)
        assert len(hits) == 2 and hits[0].score >= hits[1].score
        assert all(("harbour", True) in hit.snippet.runs for hit in hits)
        assert engine.has(hits[0].text_key) and not engine.has("0" * 24)
        # one document per distinct text: 4 HTML texts + 1 plain text (not the 404, not PNGs)
        assert engine.count() == 5
    assert (archive.derived_dir / f"fulltext-{config.search.engine}").is_dir()


def test_index_rebuild_switches_engines_with_the_same_results(archive, tmp_path,
                                                             monkeypatch, capsys):
    import shutil

    from index.fulltext_pass import rebuild_fulltext

    queries = ("harbour", '"rabat talks"', "negotiat*", "title:harbour OR site:ally",
               "cooperation -alliance", "url:news")
    before = {q: ask(archive, q) for q in queries}
    engine = archive.load_config().search.engine
    other = "tantivy" if engine == "whoosh" else "whoosh"
    # in the config
    copy = Collection(tmp_path / "copy")
    shutil.copytree(archive.root, copy.root)
    copy.config_path.write_text(copy.config_path.read_text().replace(
        f'engine = "{engine}"', f'engine = "{other}"'))
    summary = rebuild_fulltext(copy)
    assert summary.documents == 5
    assert index_dir(copy, other).is_dir()
    # or in the environment, through the command line
    again = Collection(tmp_path / "again")
    shutil.copytree(archive.root, again.root)
    monkeypatch.setenv(ENGINE_ENV, other)
    assert main(["index", "--collection", str(again.root), "--rebuild", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 5
    for q, found in before.items():
        for switched in (ask(copy, q), ask(again, q)):
            # scores differ between engines, so the order may: the same pages, counts, facets
            assert urls(switched) == urls(found), q
            assert switched["total"] == found["total"], q
            assert switched["facets"] == found["facets"], q


def test_switching_engines_without_a_rebuild_is_refused_not_half_indexed(archive, tmp_path,
                                                                         monkeypatch, capsys):
    import shutil

    copy = Collection(tmp_path / "copy")
    shutil.copytree(archive.root, copy.root)
    engine = copy.load_config().search.engine
    other = "tantivy" if engine == "whoosh" else "whoosh"
    expected = urls(ask(archive, "harbour"))
    monkeypatch.setenv(ENGINE_ENV, other)  # (the config names no engine: the env decides)
    copy.config_path.write_text(copy.config_path.read_text().replace(
        f'engine = "{engine}"\n', ""))
    # indexing on would put only new texts in the other engine: refused, in one line
    assert main(["index", "--collection", str(copy.root)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith(f"the full-text index is in {engine}, but the config names {other}: "
                          f"run `palimpsest index --rebuild` to rebuild it in {other}")
    assert "\n" not in error and not (copy.derived_dir / f"fulltext-{other}").exists()
    with pytest.raises(UsageError, match=f"is in {engine}, but the config names {other}"):
        ask(copy, "harbour")
    assert main(["index", "--collection", str(copy.root), "--rebuild"]) == 0
    assert urls(ask(copy, "harbour")) == expected
    assert main(["index", "--collection", str(copy.root)]) == 0  # and on, in the new engine


def test_search_in_an_engine_not_yet_filled_says_to_rebuild(archive, monkeypatch):
    engine = archive.load_config().search.engine
    monkeypatch.setenv(ENGINE_ENV, "tantivy" if engine == "whoosh" else "whoosh")
    with pytest.raises(UsageError, match="palimpsest index --rebuild"):
        ask(archive, "harbour")


@pytest.mark.parametrize("options", [
    {}, {"site": "ally"}, {"limit": 1, "offset": 1}, {"collapse": False},
    {"sort": "date"}, {"sort": "date", "collapse": False, "limit": 2},
    {"date_from": "2024-02", "date_to": "2024-03-15"}, {"as_of": "2024-03"},
    {"as_of": "2024-03", "collapse": False, "site": "pax"}])
def test_searches_on_the_whole_catalogs_columns_give_the_same_results(archive, monkeypatch,
                                                                      options):
    # one path reads only the matching texts' captures (a one-off search of a few texts);
    # the other, the whole catalog's columns (a server, or a query that matches many)
    for q in ("rabat", "harbour", "aviv", "negotiate OR cooperation", "observers", "zzzz"):
        monkeypatch.setattr(grouping, "BULK", 10 ** 9)
        monkeypatch.setattr(text_captures, "_CACHES", {})
        by_text = ask(archive, q, **options)
        monkeypatch.setattr(grouping, "BULK", 0)
        assert ask(archive, q, **options) == by_text, (q, options)


def test_search_sees_a_new_crawl_at_once(archive, tmp_path, monkeypatch):
    import shutil

    copy = Collection(tmp_path / "copy")
    shutil.copytree(archive.root, copy.root)
    monkeypatch.setattr(grouping, "BULK", 0)  # read the whole catalog into memory
    assert ask(copy, "negotiate")["results"][0]["captures"] == 3
    url = f"{PAX}/news/talks.html"
    folder = copy.crawls_dir / "20240410120000"
    folder.mkdir()
    with open(folder / "TEST-20240410120000-00000.warc.gz", "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for page, body in ((url, PAGES[url][2][2]),
                           (f"{PAX}/news/lighthouse.html",
                            html_page("Lighthouse", "<p>A new lighthouse guards the port.</p>"))):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                page, "response", payload=BytesIO(body), http_headers=headers,
                warc_headers_dict={"WARC-Date": "2024-04-10T12:00:00Z"}))
    update(copy)
    (talks,) = ask(copy, "negotiate")["results"]
    assert talks["captures"] == 4 and talks["last_seen"] == "2024-04-10T12:00:00Z"
    assert urls(ask(copy, "lighthouse")) == {f"{PAX}/news/lighthouse.html"}


def test_wildcard_standing_for_too_many_words_is_refused(archive, monkeypatch):
    monkeypatch.setattr(query_module, "MAX_EXPANSIONS", 2)
    with pytest.raises(QueryError, match="matches more than 2 words"):
        ask(archive, "co*")  # cooperation, commentators, countries, coming, ...
    assert urls(ask(archive, "inject*")) == {f"{PAX}/news/security.html"}


def test_match_without_words_in_the_text_shows_the_beginning(archive):
    (about,) = ask(archive, "site:ally url:about")["results"]
    assert about["snippet"] == ("About Allyvia A network of cooperation newsletters, "
                                "founded in Rabat.")


def test_tantivy_query_words_meet_the_indexed_terms(tmp_path):
    text = ("The U.S. delegation's e.g. co-operation in Rabat, Tel-Aviv and Zürich: "
            "negotiations, NEGOTIATING; a I 42 x2 ünïcödé_words and the end")
    with TantivyIndex(tmp_path / "tantivy") as engine:
        engine.add(TextDoc("a" * 24, "http://x.test/Some_Path/page-1.html", "x", "Title",
                           text, text))
        engine.commit()
        for word in re.findall(r"[^\s,;:]+", text) + ['"co-operation in rabat"']:
            assert engine.match(TextQuery.parse(word)), word
        for word in ("some", "path", "page", "1", "html"):
            assert engine.match(TextQuery.parse(f"url:{word}")), word


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_exclusion_holds_whatever_the_order_documents_were_added(tmp_path, engine):
    # Whoosh's own AndNot keeps "ruby sapphire" here, since "sapphire" comes first
    from index.search.whoosh_engine import WhooshIndex

    kind = WhooshIndex if engine == "whoosh" else TantivyIndex
    with kind(tmp_path / engine) as index_:
        for n, text in enumerate(("sapphire", "ruby sapphire", "ruby", "ruby and sapphire")):
            index_.add(TextDoc(f"{n:024x}", f"http://x.test/{n}", "x", "", text, text))
        index_.commit()
        for q in ("ruby -sapphire", "ruby NOT sapphire", "ruby -(sapphire OR emerald)"):
            assert [h.text_key for h in best_hits(index_, TextQuery.parse(q))] == [f"{2:024x}"], q


def test_a_whoosh_index_analysed_otherwise_asks_for_a_rebuild(archive, tmp_path, capsys):
    # an index written before the engines analysed words alike (Porter, stop words): its
    # terms would not meet today's query words, so it is refused until rebuilt
    import shutil

    if archive.load_config().search.engine != "whoosh":
        pytest.skip("about the Whoosh engine's files")
    copy = Collection(tmp_path / "copy")
    shutil.copytree(archive.root, copy.root)
    (copy.derived_dir / "fulltext-whoosh" / "analysis.txt").unlink()
    assert main(["search", "--collection", str(copy.root), "harbour"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "written by another version: run `palimpsest index " \
        "--rebuild`" in error
    assert main(["index", "--collection", str(copy.root), "--rebuild"]) == 0
    assert urls(ask(copy, "harbour")) == urls(ask(archive, "harbour"))


def test_words_split_as_tantivy_splits_them_in_every_script():
    # every code point: Tantivy's tokenizer (Rust's is_alphanumeric) and ours agree on what
    # makes a word, except letters assigned in a Unicode newer than Tantivy's
    import unicodedata

    import tantivy

    from index.search.analysis import WORD
    from index.search.tantivy_engine import _ANALYZERS

    chars = " ".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    theirs = set(tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).build()
                 .analyze(chars))
    ours = set(WORD.findall(chars))
    assert theirs <= ours and len(theirs) > 140_000
    assert all(unicodedata.category(c) == "Cn" for c in ours - theirs)
    for text in ("नमस्ते दुनिया, हिंदी", "كَتَبَ الوَلَدُ", "ⓐⓑⓒ ½ x²", "Ο ΟΣ ΟΔΟΣ1"):
        assert [t.text for t in STEM(text)] == _ANALYZERS["text"].analyze(text), text


@pytest.mark.parametrize("query, text, marked", [
    ("vying", "Rivals are vying for the prize.", "<mark>vying</mark>"),  # stem "vie"
    ("ΟΣ", "Ο ΟΣ", "<mark>ΟΣ</mark>"),  # lower case letter by letter: σ, not ς
    ("दुनिया", "नमस्ते दुनिया", "<mark>दुनिया</mark>"),  # vowel signs inside the word
    ("東京", "日本の都市は大阪、名古屋、札幌、神戸、京都、広島、福岡などである。東京、日本の首都。",
     "福岡などである。<mark>東京</mark>、日本の"),  # no spaces: ends are not trimmed away
])
def test_snippets_mark_what_the_engines_match(query, text, marked):
    snippet = Wanted.of(TextQuery.parse(query).root, lambda node: ()).snippet(text, text, "")
    assert marked in snippet.html()


def test_a_snippet_is_runs_of_text_marked_or_not_and_escaped_only_as_html():
    text = "Intro  <b>talks</b>\n\n in  Rabat " + "x " * 200 + "and more talks in Tel Aviv"
    snippet = Wanted.of(TextQuery.parse("talks rabat").root, lambda node: ()).snippet(
        text, text, "")
    assert snippet.runs[:4] == (("Intro <b>", False), ("talks", True), ("</b> in ", False),
                                ("Rabat", True))
    assert snippet.text() == "".join(text for text, _ in snippet.runs)
    assert snippet.html().startswith("Intro &lt;b&gt;<mark>talks</mark>&lt;/b&gt; in "
                                     "<mark>Rabat</mark>")


def test_snippets_keep_a_phrase_whole_in_its_fragment():
    text = "alpha " + "x" * 185 + " on behalf of a foreign principal, and more " + "y " * 50
    query = TextQuery.parse('alpha "on behalf of a foreign principal"')
    snippet = Wanted.of(query.root, lambda node: ()).snippet(text, text, "").html()
    assert "<mark>on</mark> <mark>behalf</mark> <mark>of</mark> <mark>a</mark> " \
           "<mark>foreign</mark> <mark>principal</mark>" in snippet
    assert "<mark>alpha</mark>" in snippet


def test_snippets_of_a_long_phrase_on_a_page_that_repeats_it_stay_small():
    # each repeat of a 400-word phrase is compared in one step, and its words marked once:
    # the snippet is the first repeat, whole
    phrase = " ".join(["a"] * 400)
    snippet = Wanted.of(TextQuery.parse(f'"{phrase}"').root, lambda node: ()).snippet(
        "a " * 16_000, "", "").html()
    assert snippet == " ".join(["<mark>a</mark>"] * 400)
