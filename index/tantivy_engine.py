"""The full-text interface on Tantivy (a Rust engine, through the `tantivy` package): for
archives where pure-Python Whoosh is too slow. Chosen by `[search] engine = "tantivy"` or
$PALIMPSEST_ENGINE=tantivy; `palimpsest index --rebuild` fills it from the WARCs.

Fields, as in the Whoosh engine: `text` (the full visible text) and `title` (counts double),
both with Tantivy's English stemmer (`en_stem`); `url` split into lower-cased words; `site`
(exact name). The main text and the description are only stored, for snippets. Our query
tree is translated here into Tantivy queries; each word is analysed by the same chain as the
field it is looked up in, so query terms meet indexed terms exactly. Wildcards are expanded
by our own code (index.fulltext.expand_wildcard), as for Whoosh, into scored term queries.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path

import tantivy

from index.errors import UsageError
from index.fulltext import (
    MAX_WORD_BYTES,
    NO_MATCHES,
    And,
    Matches,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    TextDoc,
    TextHit,
    TextIndex,
    TextQuery,
    Wildcard,
    expand_wildcard,
    wildcard_prefix,
)

TITLE_BOOST = 2.0
HEAP_BYTES = 128_000_000
SNIPPET_CHARS = 200  # about as much as the Whoosh engine shows
FALLBACK_CHARS = 240
_WINDOWS = 6  # places around which a snippet is looked for first
_SPACE = re.compile(r"\s")
_SHORT_STEM = 3
# at most 3 more letters or digits, then the word's end (Tantivy's tokenizer cuts there)
_SHORT_ENDING = r"[^\W_]{0,3}(?![^\W_])"


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
# directory -> (meta.json's stamp when opened, the open index): opening one costs 0.5-2 ms,
# a good part of a search; every commit rewrites meta.json, so a changed index is reopened
_OPEN: dict[Path, tuple[tuple, tantivy.Index]] = {}


def _open(directory: Path) -> tantivy.Index:
    meta = directory / "meta.json"
    try:
        info = meta.stat()
        stamp: tuple = (info.st_mtime_ns, info.st_size, info.st_ino)
    except FileNotFoundError:
        stamp = ()
    cached = _OPEN.get(directory)
    if cached is not None and stamp and cached[0] == stamp:
        return cached[1]
    directory.mkdir(parents=True, exist_ok=True)
    try:
        index = tantivy.Index(SCHEMA, path=str(directory))
    except ValueError as exc:
        if "schema does not match" not in str(exc):
            raise
        raise UsageError(f"the full-text index in {directory} was written by another "
                         "version: run `palimpsest index --rebuild`") from None
    if stamp:  # taken before opening: a commit meanwhile makes the next open reopen
        _OPEN[directory] = (stamp, index)
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

    def match(self, query: TextQuery) -> Matches:
        searcher = self._get_searcher()
        compiled = self._compile(query.root)
        if compiled is None or searcher.num_docs == 0:
            return NO_MATCHES
        hits = searcher.search(compiled, limit=searcher.num_docs, count=False).hits
        # the keys from fast fields, in C-level passes (no Python loop over the hits)
        addresses = list(map(itemgetter(1), hits))
        return Matches.of(searcher.fast_field_values("key_hi", addresses),
                          searcher.fast_field_values("key_lo", addresses),
                          list(map(itemgetter(0), hits)))

    def describe(self, query: TextQuery, text_keys: Sequence[str]) -> dict[str, TextHit]:
        searcher = self._get_searcher()
        marked = self._highlights(query.root)
        snippets = _Snippets(None if marked is None else tantivy.SnippetGenerator.create(
            searcher, marked, self._schema, "text"), self._prefixes(query.root))
        wanted = _any([tantivy.Query.term_query(self._schema, "text_key", k) for k in text_keys])
        if wanted is None:
            return {}
        described = {}
        for _, address in searcher.search(wanted, len(text_keys), count=False).hits:
            doc = searcher.doc(address)
            key = _stored(doc, "text_key")
            snippet = snippets.html(_stored(doc, "main_text"), _stored(doc, "text"),
                                    _stored(doc, "description"))
            described[key] = TextHit(key, 0.0, snippet, _stored(doc, "title"))
        return described

    def _get_searcher(self) -> tantivy.Searcher:
        if self._searcher is None:
            self._searcher = self._index.searcher()
        return self._searcher

    # -- our query tree as Tantivy queries -------------------------------------------------

    def _compile(self, node: Node) -> tantivy.Query | None:
        """Our query tree as a Tantivy query; None where nothing can match."""
        if isinstance(node, Or):
            kept = [q for c in node.children if (q := self._compile(c)) is not None]
            return _any(kept)
        if isinstance(node, And):
            # a required word that analyses to nothing (punctuation) is no constraint
            clauses = [(tantivy.Occur.MustNot if isinstance(c, Not) else tantivy.Occur.Must, q)
                       for c in node.children
                       if (q := self._compile(c.child if isinstance(c, Not) else c))
                       is not None]
            if not any(occur == tantivy.Occur.Must for occur, _ in clauses):
                return None
            return tantivy.Query.boolean_query(clauses)
        if isinstance(node, Not):
            inner = self._compile(node.child)
            return None if inner is None else tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tantivy.Query.all_query()),
                 (tantivy.Occur.MustNot, inner)])
        fields = (("title", TITLE_BOOST), ("text", 1.0)) if node.field is None \
            else ((node.field, 1.0),)
        return _any([q for field, boost in fields if (q := self._leaf(node, field, boost))])

    def _highlights(self, node: Node) -> tantivy.Query | None:
        """The words to mark in a snippet: every word looked for in the text or the title,
        not under NOT, as a query on the text (the Whoosh engine marks the same)."""
        if isinstance(node, And | Or):
            return _any([q for c in node.children if (q := self._highlights(c)) is not None])
        if isinstance(node, Not) or node.field not in (None, "title"):
            return None
        return self._leaf(node, "text", 1.0)

    def _prefixes(self, node: Node) -> dict[str, bool]:
        """What the words marked by `_highlights` begin with, lower-cased: a stem minus its
        last letter (the stemmer may have turned y into i), a wildcard's first letters; each
        with whether it is a whole short stem ("war": "wars" may follow, not "warrant")."""
        if isinstance(node, And | Or):
            found: dict[str, bool] = {}
            for child in node.children:
                for prefix, short in self._prefixes(child).items():
                    found[prefix] = found.get(prefix, True) and short
            return found
        if isinstance(node, Not) or node.field not in (None, "title"):
            return {}
        if isinstance(node, Wildcard):
            return {wildcard_prefix(node.pattern)[:_SHORT_STEM]: False}
        return {t[:-1] if len(t) > _SHORT_STEM else t: len(t) <= _SHORT_STEM
                for t in _ANALYZERS["text"].analyze(node.text)}

    def _leaf(self, node: Term | Phrase | Wildcard, field: str, boost: float
              ) -> tantivy.Query | None:
        if isinstance(node, Wildcard):
            searcher = self._get_searcher()
            prefixed = (term for term, _ in searcher.terms_with_prefix(
                field, wildcard_prefix(node.pattern), limit=None))
            terms = expand_wildcard(node.pattern, prefixed,
                                    lambda term: searcher.doc_freq(field, term) > 0,
                                    stemmed=field in ("text", "title"))
            query = _any([tantivy.Query.term_query(self._schema, field, t) for t in terms])
        elif field == "site":
            query = tantivy.Query.term_query(self._schema, "site", node.text.lower())
        else:
            words = _ANALYZERS[field].analyze(node.text)
            if not words:
                return None
            query = tantivy.Query.term_query(self._schema, field, words[0]) \
                if len(words) == 1 else tantivy.Query.phrase_query(self._schema, field, words)
        if query is None or boost == 1.0:
            return query
        return tantivy.Query.boost_query(query, boost)


def _any(queries: list[tantivy.Query]) -> tantivy.Query | None:
    """A query matching any of `queries` (None for none)."""
    if len(queries) < 2:
        return queries[0] if queries else None
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


class _Snippets:
    """Snippets for one query: Tantivy's best fragment with hits, from the main text if it
    has any, else the full text; without hits (e.g. a url: or site: match), the description
    or the text's beginning. The same choice as the Whoosh engine's.

    Tantivy analyses the whole text it is given (~0.25 ms for a 6,000-character page, most
    of a query's time at 10 results). So it is first given only the text around the first
    words that begin like a query word, and the whole text only if that gave no hit."""

    def __init__(self, generator: tantivy.SnippetGenerator | None,
                 prefixes: dict[str, bool]) -> None:
        self.generator = generator
        if generator is not None:
            generator.set_max_num_chars(SNIPPET_CHARS)
        # looked for in the lower-cased text, one by one with str.find (a regular expression
        # of alternatives, or a case-blind one, scans several times slower); a short stem
        # ("war") as a word with a short ending ("wars", not "warrant"), by a pattern
        self.prefixes = [(prefix, re.compile(re.escape(prefix) + _SHORT_ENDING) if short
                          else None) for prefix, short in sorted(prefixes.items())]

    def html(self, main: str, full: str, description: str) -> str:
        if self.generator is not None:
            for text in (main, full):
                if not text:
                    continue
                around = self._around(text)
                found = self._marked(around) if around else ""
                # the regular expression may miss a word the stemmer matches: the full text
                # gets the whole page's analysis before giving up
                if not found and (around or text is full):
                    found = self._marked(text)
                if found:
                    return found
        lead = " ".join((description or main or full).split())
        return html.escape(lead[:FALLBACK_CHARS], quote=False) + \
            ("…" if len(lead) > FALLBACK_CHARS else "")

    def _around(self, text: str) -> str:
        """The text around the first places a query word may be, whole words, the parts
        separated by more blank space than a fragment spans (so none joins two parts)."""
        lower = text.lower()
        if not self.prefixes or len(lower) != len(text):  # a letter's lower case may be longer
            return ""
        spans: list[list[int]] = []
        for at in sorted(self._starts(lower)):
            # the hit about mid-fragment: Tantivy cuts fragments from the start of the part
            start, end = max(0, at - SNIPPET_CHARS // 2), at + SNIPPET_CHARS
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            elif len(spans) == _WINDOWS:
                break
            else:
                spans.append([start, end])
        parts = []
        for start, end in spans:
            # widen to whitespace: a cut word could analyse to a query word ("re|negotiate")
            start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1 \
                if start else 0
            found = _SPACE.search(text, end)
            parts.append(text[start:found.start() if found else len(text)])
        return (" " * (SNIPPET_CHARS + 1)).join(parts)

    def _starts(self, lower: str) -> Iterator[int]:
        """Where a word beginning with a prefix starts (Tantivy's tokenizer splits words at
        what is not a letter or digit), the first few of each prefix."""
        for prefix, pattern in self.prefixes:
            found = 0
            starts = (m.start() for m in pattern.finditer(lower)) if pattern \
                else _finds(lower, prefix)
            for at in starts:
                if not at or not lower[at - 1].isalnum():
                    found += 1
                    yield at
                    if found == 4 * _WINDOWS:
                        break

    def _marked(self, text: str) -> str:
        # the generator reads the "text" field of whatever document it is given
        found = self.generator.snippet_from_doc(tantivy.Document(text=text))
        return _marked(found) if found.highlighted() else ""


def _finds(text: str, part: str) -> Iterator[int]:
    """Every offset of `part` in `text`."""
    at = text.find(part)
    while at >= 0:
        yield at
        at = text.find(part, at + 1)


def _marked(snippet: tantivy.Snippet) -> str:
    """A snippet as HTML in which only our <mark> tags are markup: the page's text is
    escaped exactly as the Whoosh engine escapes it (not as Tantivy's to_html() does)."""
    raw = snippet.fragment().encode()  # highlighted ranges are byte offsets
    out, at = [], 0
    for span in sorted(snippet.highlighted(), key=lambda r: r.start):
        if span.start < at:
            continue
        out.append(html.escape(raw[at:span.start].decode(errors="replace"), quote=False))
        out.append("<mark>" + html.escape(raw[span.start:span.end].decode(errors="replace"),
                                          quote=False) + "</mark>")
        at = span.end
    out.append(html.escape(raw[at:].decode(errors="replace"), quote=False))
    return " ".join("".join(out).split())


def _stored(doc: tantivy.Document, field: str) -> str:
    """The first stored value of `field` as text ("" if none)."""
    value = doc.get_first(field)
    if isinstance(value, bytes):
        return value.decode()
    return value or ""
