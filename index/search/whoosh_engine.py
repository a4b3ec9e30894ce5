"""The full-text index on Whoosh (pure Python, the default engine).

Fields: `text` (the full visible text: menus and footers hold things researchers track, such
as disclosure lines), `title` (counts double), `url` (split into words), `site` (exact name).
The texts themselves are stored zlib-compressed in one field, for snippets (made above
the engines, by index.search.hits).

Words are analysed as index.search.analysis says, exactly as the Tantivy engine analyses them, so
that both engines find the same pages.

Whoosh spends most of its indexing time per token and per posting in Python. Two things keep
bulk loads fast: one writer per batch (no per-document commits), and `StemmedText`, which
indexes exactly the terms and positions of the stemming analyzer in one tight loop instead of
a chain of generators (tests/test_search.py checks the two agree), and a memo of document
lengths for the segment flush.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from pickle import dumps

from whoosh import fields, index, query
from whoosh.analysis import Filter, IDAnalyzer, RegexTokenizer
from whoosh.collectors import WrappingCollector
from whoosh.index import LockError
from whoosh.system import pack_uint

from index.errors import UsageError
from index.search.analysis import ANALYSIS, WORD, is_long, lower, stem_of
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

_ANALYSIS_FILE = "analysis.txt"


class DropLongWords(Filter):
    """Drops the words the engines drop for their length, keeping the others' positions."""

    def __call__(self, tokens):
        for token in tokens:
            if not is_long(token.text):
                yield token


class LowerCase(Filter):
    """Lower case as index.search.analysis.lower gives it."""

    def __call__(self, tokens):
        for token in tokens:
            token.text = lower(token.text)
            yield token


class Stem(Filter):
    """Each word as index.search.analysis.stem_of indexes it in a stemmed field (long ones dropped,
    keeping the others' positions)."""

    def __call__(self, tokens):
        for token in tokens:
            term = stem_of(token.text)
            if term:
                token.text = term
                yield token


URL_WORDS = RegexTokenizer(WORD) | DropLongWords() | LowerCase()
STEM = RegexTokenizer(WORD) | Stem()
TITLE_BOOST = 2.0
WRITER_LIMIT_MB = 256


class StemmedText(fields.TEXT):
    """The `text` field: indexed with exactly the terms and positions of STEM, in one loop
    over the words instead of a chain of generators over token objects. Queries still run
    STEM itself."""

    _words = WORD.findall

    def __init__(self) -> None:
        super().__init__(analyzer=STEM, phrase=True)

    def index(self, value: str, **kwargs: object) -> Iterator[tuple[bytes, int, float, bytes]]:
        positions: dict[str, list[int]] = defaultdict(list)
        for pos, word in enumerate(self._words(value)):
            term = stem_of(word)
            if term:
                positions[term].append(pos)
        boost = self.format.field_boost
        for term, poslist in positions.items():
            # Positions.encode, inlined: the count, then the pickled gaps between positions
            gaps = [b - a for a, b in zip([0, *poslist], poslist, strict=False)]
            yield (term.encode(), len(poslist), len(poslist) * boost,
                   pack_uint(len(gaps)) + dumps(gaps, 2))


class _LengthsCache:
    """A segment's per-document reader whose field lengths are memoised.

    When a segment is flushed, Whoosh asks the length of the document's field once per
    posting (hundreds of times per page), each a read through a column file."""

    def __init__(self, reader) -> None:
        self._reader = reader
        self._lengths: dict[tuple[int, str], int] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        key = (docnum, fieldname)
        found = self._lengths.get(key)
        if found is None:
            found = self._lengths[key] = self._reader.doc_field_length(docnum, fieldname,
                                                                       default)
        return found

    def __getattr__(self, name: str):
        return getattr(self._reader, name)


def _schema() -> fields.Schema:
    return fields.Schema(
        text_key=fields.ID(stored=True, unique=True, sortable=True),
        url=fields.TEXT(analyzer=URL_WORDS, phrase=True, stored=True),
        site=fields.ID(analyzer=IDAnalyzer(lowercase=True), stored=True),
        title=fields.TEXT(analyzer=STEM, phrase=True, stored=True),
        text=StemmedText(),
        texts=fields.STORED(),
        description=fields.STORED(),
        language=fields.ID(stored=True),
        published=fields.STORED(),
    )


class WhooshIndex(TextIndex):
    """A Whoosh index in `directory`, created on first open."""

    def __init__(self, directory: Path, *, limitmb: int = WRITER_LIMIT_MB) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        marker = directory / _ANALYSIS_FILE
        if index.exists_in(directory):
            if not marker.is_file() or marker.read_text().strip() != ANALYSIS:
                raise UsageError(f"the full-text index in {directory} was written by another "
                                 "version: run `palimpsest index --rebuild`")
            self._ix = index.open_dir(directory)
        else:
            self._ix = index.create_in(directory, _schema())
            marker.write_text(ANALYSIS + "\n")
        self._limitmb = limitmb
        self._writer = None
        self._searcher = None
        self._keys: set[str] | None = None

    # -- writing ---------------------------------------------------------------------------

    def add(self, doc: TextDoc) -> None:
        if self.has(doc.text_key):
            return
        if self._writer is None:
            try:
                # not compound: Whoosh reads a compound segment by copying each of its
                # files into memory whenever a searcher opens (a quarter second at 20,000
                # pages); separate files are read on demand
                writer = self._ix.writer(limitmb=self._limitmb, procs=1, compound=False)
            except LockError:
                raise UsageError("the full-text index is being written by another process "
                                 "(is `palimpsest index` running?)") from None
            read_lengths = writer.per_document_reader
            writer.per_document_reader = lambda: _LengthsCache(read_lengths())
            self._writer = writer
        # level 1: several times faster than the default, and the full text repeats the
        # main text inside zlib's window, so the pair still packs to about a third
        packed = zlib.compress(f"{doc.main_text}\0{doc.full_text}".encode(), 1)
        self._writer.add_document(
            text_key=doc.text_key, url=doc.url, site=doc.site, title=doc.title,
            text=doc.full_text, texts=packed, description=doc.description,
            language=doc.language, published=doc.published)
        self._keys.add(doc.text_key)

    def has(self, text_key: str) -> bool:
        if self._keys is None:
            # one pass over the key field's terms, instead of one lookup per document
            with self._ix.reader() as reader:
                self._keys = set(reader.field_terms("text_key"))
        return text_key in self._keys

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer = None
            self._drop_searcher()

    def count(self) -> int:
        return self._ix.doc_count()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
            self._keys = None  # the dropped batch's keys are not in the index
        self._drop_searcher()

    # -- searching -------------------------------------------------------------------------

    def match(self, query_: TextQuery, budget: Budget | None = None) -> Matches:
        budget = Budget() if budget is None else budget
        searcher = self._get_searcher()
        compiled = self._compile(query_.root, searcher.reader(), budget)
        if compiled is None:
            return NO_MATCHES
        budget.check("matching")
        collector = _DeadlineCollector(searcher.collector(limit=None), budget)
        searcher.search_with_collector(compiled, collector)
        results = collector.results()
        if not results.top_n:
            return NO_MATCHES  # (an empty index has no column to read)
        keys = searcher.reader().column_reader("text_key")
        return Matches.of_keys([keys[docnum] for _, docnum in results.top_n],
                               [score for score, _ in results.top_n])

    def stored(self, text_keys: Sequence[str], budget: Budget | None = None
               ) -> dict[str, StoredText]:
        budget = Budget() if budget is None else budget
        searcher = self._get_searcher()
        found = {}
        for key in text_keys:
            budget.check("reading texts for snippets")
            docnum = searcher.document_number(text_key=key)
            if docnum is None:
                continue
            fields_ = searcher.stored_fields(docnum)
            main, _, full = zlib.decompress(fields_["texts"]).decode().partition("\0")
            found[key] = StoredText(fields_.get("title", ""), main, full,
                                    fields_.get("description", ""))
        return found

    def wildcard_terms(self, wildcard: Wildcard) -> list[str]:
        return _expand(self._get_searcher().reader(), "text", wildcard.pattern)

    def _get_searcher(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher()
        return self._searcher

    def _drop_searcher(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def _compile(self, node: Node, reader, budget: Budget) -> query.Query | None:
        """Our query tree as a Whoosh query; None where nothing can match (punctuation).
        Every term looked up is spent from `budget`."""
        if isinstance(node, Or):
            kept = [q for c in node.children
                    if (q := self._compile(c, reader, budget)) is not None]
            return query.Or(kept) if kept else None
        if isinstance(node, And):
            # a required word that analyses to nothing (punctuation) is no constraint
            positive = [q for c in node.children if not isinstance(c, Not)
                        and (q := self._compile(c, reader, budget)) is not None]
            negative = [q for c in node.children if isinstance(c, Not)
                        and (q := self._compile(c.child, reader, budget)) is not None]
            if not positive:
                return None
            if negative:
                # not query.AndNot: its matcher keeps the first positive document when the
                # excluded words' first document comes before it (Whoosh issue #419)
                positive.append(query.Not(query.Or(negative)))
            return query.And(positive) if len(positive) > 1 else positive[0]
        if isinstance(node, Not):
            inner = self._compile(node.child, reader, budget)
            return None if inner is None else query.Not(inner)
        fields_ = (("title", TITLE_BOOST), ("text", 1.0)) if node.field is None \
            else ((node.field, 1.0),)
        per_field = [q for f, boost in fields_
                     if (q := self._leaf(node, f, boost, reader, budget)) is not None]
        if not per_field:
            return None
        return per_field[0] if len(per_field) == 1 else query.Or(per_field)

    def _leaf(self, node: Term | Phrase | Wildcard, field: str, boost: float,
              reader, budget: Budget) -> query.Query | None:
        if isinstance(node, Wildcard):
            terms = _expand(reader, field, node.pattern)
            budget.spend(len(terms))
            return query.Or([query.Term(field, t, boost=boost) for t in terms]) \
                if terms else None
        if field == "site":
            budget.spend(1)
            return query.Term("site", node.text.lower(), boost=boost)
        analyzer = URL_WORDS if field == "url" else STEM
        words = [t.text for t in analyzer(node.text, mode="query")]
        budget.spend(len(words))  # a phrase looks up each of its words
        if not words:
            return None
        if len(words) == 1:
            return query.Term(field, words[0], boost=boost)
        return query.Phrase(field, words, boost=boost)


class _DeadlineCollector(WrappingCollector):
    """Collects what `child` collects, reading the budget's deadline every 64 matching
    documents and once each segment's matcher is built (for many terms, most of the time).
    Not Whoosh's TimeLimitCollector: it starts a timer thread per search, and interrupts
    with SIGALRM, which only the main thread may handle (not a server's worker threads)."""

    def __init__(self, child, budget: Budget) -> None:
        super().__init__(child)
        self._budget = budget

    def set_subsearcher(self, subsearcher, offset: int) -> None:
        super().set_subsearcher(subsearcher, offset)
        self._budget.check("matching")

    def collect_matches(self) -> None:
        check, collect = self._budget.check, self.child.collect
        for n, sub_docnum in enumerate(self.child.matches()):
            if not n % 64:  # a thread's CPU clock is a system call (~1 us): not every time
                check("matching")
            collect(sub_docnum)


def _expand(reader, field: str, pattern: str) -> list[str]:
    """The indexed terms of `field` that `pattern` matches (see query.expand_wildcard)."""
    prefixed = map(bytes.decode, reader.expand_prefix(field, wildcard_prefix(pattern)))
    return expand_wildcard(pattern, prefixed, lambda term: (field, term) in reader,
                           stemmed=field in ("text", "title"))
