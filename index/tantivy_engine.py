"""The full-text interface on Tantivy (a Rust engine, through the `tantivy` package): for
archives where pure-Python Whoosh is too slow. Chosen by `[search] engine = "tantivy"` or
$PALIMPSEST_ENGINE=tantivy; `palimpsest index --rebuild` fills it from the WARCs.

Our query tree is translated here into Tantivy queries, each leaf analysed by Tantivy's own
English stemmer (`en_stem`) so query terms meet indexed terms exactly."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

import tantivy

from index.errors import QueryError
from index.fulltext import (
    And,
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
)

TITLE_BOOST = 2.0
HEAP_BYTES = 128_000_000
FALLBACK_CHARS = 240


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text_key", stored=True, tokenizer_name="raw")
    builder.add_text_field("url", stored=True, tokenizer_name="default")
    builder.add_text_field("site", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("text", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("description", stored=True, tokenizer_name="raw")
    # the 24-hex-digit key again as two numeric fast fields: a match reads every hit's key
    # from these columns instead of fetching each stored document
    builder.add_unsigned_field("key_hi", fast=True)
    builder.add_unsigned_field("key_lo", fast=True)
    return builder.build()


class TantivyIndex(TextIndex):
    """A Tantivy index in `directory`, created on first open."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(directory))
        self._writer = None
        self._pending: set[str] = set()
        self._searcher = None

    def add(self, doc: TextDoc) -> None:
        if self.has(doc.text_key):
            return
        if self._writer is None:
            self._writer = self._index.writer(heap_size=HEAP_BYTES, num_threads=1)
        document = tantivy.Document(
            text_key=doc.text_key, url=doc.url, site=(doc.site or "").lower(),
            title=doc.title, text=doc.full_text, description=doc.description)
        # keyword arguments would make Python ints signed: u64 needs add_unsigned
        document.add_unsigned("key_hi", int(doc.text_key[:16], 16))
        document.add_unsigned("key_lo", int(doc.text_key[16:], 16))
        self._writer.add_document(document)
        self._pending.add(doc.text_key)

    def has(self, text_key: str) -> bool:
        return text_key in self._pending or self._get_searcher().doc_freq("text_key",
                                                                          text_key) > 0

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
            self._pending.clear()
            self._index.reload()
            self._searcher = None

    def match(self, query: TextQuery) -> dict[str, float]:
        compiled = self._compile(query.root)
        searcher = self._get_searcher()
        if compiled is None or searcher.num_docs == 0:
            return {}
        hits = searcher.search(compiled, limit=searcher.num_docs).hits
        addresses = [address for _, address in hits]
        high = searcher.fast_field_values("key_hi", addresses)
        low = searcher.fast_field_values("key_lo", addresses)
        return {f"{h:016x}{lo:08x}": score for (score, _), h, lo in zip(hits, high, low,
                                                                       strict=True)}

    def describe(self, query: TextQuery, text_keys: Sequence[str]) -> dict[str, TextHit]:
        searcher = self._get_searcher()
        compiled = self._compile(query.root)
        snippets = (tantivy.SnippetGenerator.create(searcher, compiled, self._schema, "text")
                    if compiled is not None else None)
        described = {}
        for key in text_keys:
            found = searcher.search(tantivy.Query.term_query(self._schema, "text_key", key),
                                    1).hits
            if not found:
                continue
            doc = searcher.doc(found[0][1])
            snippet = _marked(snippets.snippet_from_doc(doc).to_html()) if snippets else ""
            if not snippet:
                lead = " ".join((_first(doc, "description") or _first(doc, "text")).split())
                snippet = html.escape(lead[:FALLBACK_CHARS], quote=False)
            described[key] = TextHit(key, 0.0, " ".join(snippet.split()), _first(doc, "title"))
        return described

    def count(self) -> int:
        return self._get_searcher().num_docs

    def close(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None
        self._pending.clear()
        self._searcher = None

    def _get_searcher(self):
        if self._searcher is None:
            self._searcher = self._index.searcher()
        return self._searcher

    def _compile(self, node: Node) -> tantivy.Query | None:
        """Our query tree as a Tantivy query; None where nothing can match."""
        if isinstance(node, Or):
            kept = [q for c in node.children if (q := self._compile(c)) is not None]
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in kept]) \
                if kept else None
        if isinstance(node, And):
            clauses = []
            for child in node.children:
                inner = self._compile(child.child if isinstance(child, Not) else child)
                if inner is None:
                    continue
                occur = tantivy.Occur.MustNot if isinstance(child, Not) else tantivy.Occur.Must
                clauses.append((occur, inner))
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
        leaves = [q for field, boost in fields if (q := self._leaf(node, field, boost))]
        if not leaves:
            return None
        return leaves[0] if len(leaves) == 1 else tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, q) for q in leaves])

    def _leaf(self, node: Term | Phrase | Wildcard, field: str, boost: float
              ) -> tantivy.Query | None:
        if field == "site":
            text = node.pattern if isinstance(node, Wildcard) else node.text
            return tantivy.Query.term_query(self._schema, "site", text.lower())
        if isinstance(node, Wildcard):
            query = tantivy.Query.regex_query(self._schema, field, _regex(node.pattern))
        else:
            quoted = '"' + node.text.replace("\\", " ").replace('"', " ") + '"'
            try:
                query = self._index.parse_query(quoted, [field])
            except ValueError as exc:
                raise QueryError(f"cannot search for {node.text!r}: {exc}") from None
        return tantivy.Query.boost_query(query, boost) if boost != 1.0 else query


def _regex(pattern: str) -> str:
    """A wildcard as a regular expression over indexed terms (lowercased stems). A trailing-*
    prefix also matches stems up to 3 letters shorter than it (`negotiat*` -> `negoti`), as
    the Whoosh engine does: the stemmer cuts suffixes off what was indexed."""
    pattern = pattern.lower()
    literal = re.split(r"[*?]", pattern, maxsplit=1)[0]
    body = ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*"))
    if pattern == literal + "*" and len(literal) > 3:
        keep = max(3, len(literal) - 3)
        tail = literal[keep:]
        optional = "".join(f"(?:{re.escape(ch)}" for ch in tail) + ")?" * len(tail)
        return f"(?:{body}|{re.escape(literal[:keep])}{optional})"
    return body


def _marked(tantivy_html: str) -> str:
    """Tantivy's snippet HTML (hits in <b>, text escaped its own way) in our form: hits in
    <mark>, text escaped exactly as the Whoosh engine escapes it."""
    out = []
    for part in re.split(r"(</?b>)", tantivy_html):
        if part in ("<b>", "</b>"):
            out.append(part.replace("b", "mark"))
        else:
            out.append(html.escape(html.unescape(part), quote=False))
    return "".join(out)


def _first(doc: tantivy.Document, field: str) -> str:
    values = doc.get_all(field) if hasattr(doc, "get_all") else doc[field]
    return values[0] if values else ""
