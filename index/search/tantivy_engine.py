"""The full-text interface on Tantivy (a Rust engine, through the `tantivy` package): for
archives where pure-Python Whoosh is too slow. Chosen by `[search] engine = "tantivy"` or
$PALIMPSEST_ENGINE=tantivy; `palimpsest index --rebuild` fills it from the WARCs.

Fields, as in the Whoosh engine: `text` (the full visible text) and `title` (counts double),
both with Tantivy's English stemmer (`en_stem`); `url` split into lower-cased words; `site`
(exact name). The main text and the description are only stored, for snippets. Our query
tree is translated here into Tantivy queries; each word is analysed by the same chain as the
field it is looked up in, so query terms meet indexed terms exactly. Wildcards are expanded
by our own code (index.search.query.expand_wildcard), as for Whoosh, into scored term
queries; snippets are made from the stored texts above the engines, as for Whoosh.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path

import tantivy

from index.errors import UsageError
from index.file_stamp import file_stamp
from index.search.analysis import MAX_WORD_BYTES
from index.search.engine import NO_MATCHES, Matches, StoredText, TextDoc, TextIndex
from index.search.query import (
    And,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    TextQuery,
    Wildcard,
    expand_wildcard,
    wildcard_prefix,
)
from index.search.query_cost import Budget

TITLE_BOOST = 2.0
HEAP_BYTES = 128_000_000


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    """The analysis chain of Tantivy's `en_stem` (stem) or `default` tokenizer, to analyse
    query words exactly as the field's text was analysed."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(
        tantivy.Filter.remove_long(MAX_WORD_BYTES)).filter(tantivy.Filter.lowercase())
    return (builder.filter(tantivy.Filter.stemmer("english")) if stem else builder).build()


_ANALYZERS = {"text": _analyzer(True), "title": _analyzer(True), "url": _analyzer(False)}


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text_key", stored=True, tokenizer_name="raw")
    builder.add_text_field("url", stored=True, tokenizer_name="default")
    builder.add_text_field("site", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
    builder.add_bytes_field("main_text", stored=True)
    builder.add_bytes_field("description", stored=True)
    builder.add_text_field("language", stored=True, tokenizer_name="raw")
    builder.add_date_field("published", stored=True)
    # the 24-hex-digit key again as two numeric fast fields: a match reads every hit's key
    # from these columns instead of fetching each stored document
    builder.add_unsigned_field("key_hi", fast=True)
    builder.add_unsigned_field("key_lo", fast=True)
    return builder.build()


SCHEMA = _schema()
# the folder holding an index -> (the index's directory, meta.json's stamp when opened, the
# open index): opening one costs 0.5-2 ms, a good part of a search; every commit rewrites
# meta.json, so a changed index is reopened. One per folder: once a rebuild has switched
# directories, the replaced index is let go (and its removed files with it)
_OPEN: dict[Path, tuple[Path, tuple, tantivy.Index]] = {}


def forget_open() -> None:
    """Let go of the indexes kept open between searches (their files stay mapped, and what
    was read of them resident, while they are kept)."""
    _OPEN.clear()


def _open(directory: Path) -> tantivy.Index:
    meta = directory / "meta.json"
    stamp = file_stamp(meta)
    cached = _OPEN.get(directory.parent)
    if cached is not None and stamp[0] and cached[:2] == (directory, stamp):
        return cached[2]
    directory.mkdir(parents=True, exist_ok=True)
    try:
        index = tantivy.Index(SCHEMA, path=str(directory))
    except ValueError as exc:
        if "schema does not match" not in str(exc):
            raise
        raise UsageError(f"the full-text index in {directory} was written by another "
                         "version: run `palimpsest index --rebuild`") from None
    if stamp[0]:  # taken before opening: a commit meanwhile makes the next open reopen
        _OPEN[directory.parent] = (directory, stamp, index)
    return index


class TantivyIndex(TextIndex):
    """A Tantivy index in `directory`, created on first open."""

    def __init__(self, directory: Path) -> None:
        self._schema = SCHEMA
        self._index = _open(directory)
        self._writer: tantivy.IndexWriter | None = None
        self._pending: set[str] = set()
        self._searcher: tantivy.Searcher | None = None

    # -- writing ---------------------------------------------------------------------------

    def add(self, doc: TextDoc) -> None:
        if self.has(doc.text_key):
            return
        if self._writer is None:
            try:
                # one indexing thread: extraction workers use the other cores
                self._writer = self._index.writer(heap_size=HEAP_BYTES, num_threads=1)
            except ValueError as exc:
                if "lock" not in str(exc).lower():
                    raise
                raise UsageError("the full-text index is being written by another process "
                                 "(is `palimpsest index` running?)") from None
        document = tantivy.Document(text_key=doc.text_key, url=doc.url,
                                    site=(doc.site or "").lower(), title=doc.title,
                                    text=doc.full_text)
        document.add_bytes("main_text", doc.main_text.encode())
        document.add_bytes("description", doc.description.encode())
        if doc.language:
            document.add_text("language", doc.language)
        if doc.published:
            document.add_date("published", doc.published)
        # keyword arguments would make Python ints signed: u64 needs add_unsigned
        document.add_unsigned("key_hi", int(doc.text_key[:16], 16))
        document.add_unsigned("key_lo", int(doc.text_key[16:], 16))
        self._writer.add_document(document)
        self._pending.add(doc.text_key)

    def has(self, text_key: str) -> bool:
        # the term dictionary is the key set: one lookup in Rust, nothing held in Python
        return text_key in self._pending or self._get_searcher().doc_freq("text_key",
                                                                          text_key) > 0

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()  # consumes the writer: the next batch opens one
            self._writer = None
            self._pending.clear()
            self._index.reload()
            self._searcher = None

    def count(self) -> int:
        return self._get_searcher().num_docs

    def close(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None  # dropping it releases the index's lock
        self._pending.clear()
        self._searcher = None

    # -- searching -------------------------------------------------------------------------

    def match(self, query: TextQuery, budget: Budget | None = None) -> Matches:
        budget = Budget() if budget is None else budget
        searcher = self._get_searcher()
        compiled = self._compile(query.root, budget)
        if compiled is None or searcher.num_docs == 0:
            return NO_MATCHES
        budget.check("matching")
        # (Tantivy's search runs in Rust, without a deadline: the budget's cap on terms
        # keeps it short, and a search that still ran past the deadline fails here)
        hits = searcher.search(compiled, limit=searcher.num_docs, count=False).hits
        # the keys from fast fields, in C-level passes (no Python loop over the hits)
        addresses = list(map(itemgetter(1), hits))
        matches = Matches.of(searcher.fast_field_values("key_hi", addresses),
                             searcher.fast_field_values("key_lo", addresses),
                             list(map(itemgetter(0), hits)))
        budget.check("matching")
        return matches

    def stored(self, text_keys: Sequence[str], budget: Budget | None = None
               ) -> dict[str, StoredText]:
        budget = Budget() if budget is None else budget
        searcher = self._get_searcher()
        keys = _any([tantivy.Query.term_query(self._schema, "text_key", k) for k in text_keys])
        if keys is None:
            return {}
        found = {}
        for _, address in searcher.search(keys, len(text_keys), count=False).hits:
            budget.check("reading texts for snippets")
            doc = searcher.doc(address)
            found[_stored(doc, "text_key")] = StoredText(
                _stored(doc, "title"), _stored(doc, "main_text"), _stored(doc, "text"),
                _stored(doc, "description"))
        return found

    def wildcard_terms(self, wildcard: Wildcard) -> list[str]:
        return self._expand(wildcard, "text")

    def _get_searcher(self) -> tantivy.Searcher:
        if self._searcher is None:
            self._searcher = self._index.searcher()
        return self._searcher

    # -- our query tree as Tantivy queries -------------------------------------------------

    def _compile(self, node: Node, budget: Budget) -> tantivy.Query | None:
        """Our query tree as a Tantivy query; None where nothing can match. Every term
        looked up is spent from `budget`."""
        if isinstance(node, Or):
            kept = [q for c in node.children if (q := self._compile(c, budget)) is not None]
            return _any(kept)
        if isinstance(node, And):
            # a required word that analyses to nothing (punctuation) is no constraint
            clauses = [(tantivy.Occur.MustNot if isinstance(c, Not) else tantivy.Occur.Must, q)
                       for c in node.children
                       if (q := self._compile(c.child if isinstance(c, Not) else c, budget))
                       is not None]
            if not any(occur == tantivy.Occur.Must for occur, _ in clauses):
                return None
            return tantivy.Query.boolean_query(clauses)
        if isinstance(node, Not):
            inner = self._compile(node.child, budget)
            return None if inner is None else tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tantivy.Query.all_query()),
                 (tantivy.Occur.MustNot, inner)])
        fields = (("title", TITLE_BOOST), ("text", 1.0)) if node.field is None \
            else ((node.field, 1.0),)
        return _any([q for field, boost in fields
                     if (q := self._leaf(node, field, boost, budget))])

    def _leaf(self, node: Term | Phrase | Wildcard, field: str, boost: float,
              budget: Budget) -> tantivy.Query | None:
        if isinstance(node, Wildcard):
            terms = self._expand(node, field)
            budget.spend(len(terms))
            query = _any([tantivy.Query.term_query(self._schema, field, t) for t in terms])
        elif field == "site":
            budget.spend(1)
            query = tantivy.Query.term_query(self._schema, "site", node.text.lower())
        else:
            words = _ANALYZERS[field].analyze(node.text)
            budget.spend(len(words))  # a phrase looks up each of its words
            if not words:
                return None
            query = tantivy.Query.term_query(self._schema, field, words[0]) \
                if len(words) == 1 else tantivy.Query.phrase_query(self._schema, field, words)
        if query is None or boost == 1.0:
            return query
        return tantivy.Query.boost_query(query, boost)

    def _expand(self, node: Wildcard, field: str) -> list[str]:
        """The indexed terms of `field` that a wildcard stands for."""
        searcher = self._get_searcher()
        prefixed = (term for term, _ in searcher.terms_with_prefix(
            field, wildcard_prefix(node.pattern), limit=None))
        return expand_wildcard(node.pattern, prefixed,
                               lambda term: searcher.doc_freq(field, term) > 0,
                               stemmed=field in ("text", "title"))


def _any(queries: list[tantivy.Query]) -> tantivy.Query | None:
    """A query matching any of `queries` (None for none)."""
    if len(queries) < 2:
        return queries[0] if queries else None
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _stored(doc: tantivy.Document, field: str) -> str:
    """The first stored value of `field` as text ("" if none)."""
    value = doc.get_first(field)
    if isinstance(value, bytes):
        return value.decode()
    return value or ""
