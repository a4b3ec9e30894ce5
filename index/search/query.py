"""The query language: the user's query parsed into a small syntax tree (`TextQuery`), so
every engine receives the same structure and a malformed query fails here, the same way for
all, with a `QueryError` of one readable line.

Query syntax (every word must match; OR binds tighter than AND, so `a b OR c` is a AND (b OR c)):

    word  "a phrase"  a OR b  a AND b  NOT a  -a  -"a phrase"  (a OR b) c  negotiat*  wom?n
    title:word  title:"a phrase"  site:name  url:path-part
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from index.errors import QueryError, QueryTooCostly

FIELDS = ("title", "site", "url")
# what a query may hold; index.search.query_cost bounds what one search may spend
MAX_QUERY_CHARS = 1000
MAX_TERMS = 64  # words and phrases, not counting operators
# a wildcard needs this many literal characters before its first * or ?: "a*" would expand
# to a large part of the vocabulary and make every engine slow
MIN_WILDCARD_PREFIX = 2
# a wildcard may stand for at most this many indexed words, whatever the engine
MAX_EXPANSIONS = 2000

# -- the query tree ------------------------------------------------------------------------
# `field` is None for the default fields (title and text), else one of FIELDS.


@dataclass(frozen=True)
class Term:
    field: str | None
    text: str


@dataclass(frozen=True)
class Phrase:
    field: str | None
    text: str


@dataclass(frozen=True)
class Wildcard:
    """A word pattern with * (any run of characters) and ? (one character)."""

    field: str | None
    pattern: str


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Term | Phrase | Wildcard | And | Or | Not


@dataclass(frozen=True)
class TextQuery:
    """A parsed query: the user's text and its tree."""

    text: str
    root: Node

    @classmethod
    def parse(cls, text: str) -> TextQuery:
        """Parse the query syntax above; raise QueryError naming what is wrong and where."""
        return cls(text, _Parser(text).parse())


_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<quote>")|(?P<word>[^\s()"]+))')
_FIELD = re.compile(r"([A-Za-z_]+):(.*)", re.S)
_OPERATORS = ("AND", "OR", "NOT")
Token = tuple[str, str, int]  # kind, text, position in the query


class _Parser:
    """Recursive descent; OR binds tighter than AND, as in web search engines, so
    `a b OR c` means a AND (b OR c):
        and := or (AND? or)*;  or := unary (OR unary)*;  unary := (NOT | -) unary | primary;
        primary := ( and ) | [field:] (word | "phrase")."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_QUERY_CHARS:
            raise QueryTooCostly(f"query too costly: too long ({len(text):,} characters, at "
                                 f"most {MAX_QUERY_CHARS:,}); narrow it")
        self.tokens = _lex(text)
        self.at = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError('empty query: give a word or a "phrase" to search for')
        terms = sum(1 for kind, value, _ in self.tokens
                    if kind == "phrase" or kind == "word" and value not in _OPERATORS)
        if terms > MAX_TERMS:
            raise QueryTooCostly(f"query too costly: {terms} words and phrases, at most "
                                 f"{MAX_TERMS}; narrow it")
        node = self._and()
        if self.at < len(self.tokens):  # only a stray ")" stops _and early
            raise QueryError(f"unmatched ')' at position {self.tokens[self.at][2] + 1}")
        if not _positive(node):
            raise QueryError("a query cannot match by exclusion alone (-x, NOT x, x OR -y): "
                             "add a word that every result must contain")
        return node

    def _peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _is_op(self, name: str) -> bool:
        tok = self._peek()
        return tok is not None and tok[0] == "word" and tok[1] == name

    def _and(self) -> Node:
        children = [self._or()]
        while (tok := self._peek()) is not None and tok[0] != "close":
            if self._is_op("AND"):
                self.at += 1
            children.append(self._or())
        return children[0] if len(children) == 1 else And(tuple(children))

    def _or(self) -> Node:
        children = [self._unary()]
        while self._is_op("OR"):
            self.at += 1
            children.append(self._unary())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def _unary(self) -> Node:
        tok = self._peek()
        if tok is None:
            raise QueryError("query ends after an operator: add a word after it")
        if tok[0] == "neg" or self._is_op("NOT"):
            self.at += 1
            return Not(self._unary())
        return self._primary()

    def _primary(self) -> Node:
        kind, value, pos = self.tokens[self.at]
        self.at += 1
        if kind == "open":
            if self._peek() is not None and self._peek()[0] == "close":
                raise QueryError(f"empty parentheses at position {pos + 1}")
            node = self._and()
            if self._peek() is None:
                raise QueryError(f"unclosed '(' at position {pos + 1}")
            self.at += 1
            return node
        if kind == "close":
            raise QueryError(f"unmatched ')' at position {pos + 1}")
        if value in _OPERATORS and kind == "word":
            raise QueryError(f"{value} at position {pos + 1} needs a word on each side")
        if kind == "field":  # the lexer put the phrase right behind it
            _, phrase, phrase_pos = self.tokens[self.at]
            self.at += 1
            return _phrase(_field(value, pos), phrase, phrase_pos)
        if kind == "phrase":
            return _phrase(None, value, pos)
        return _word(value, pos)


def _lex(text: str) -> list[Token]:
    """Words, "phrases", parentheses, `-` before a term, and `field:` before a phrase."""
    tokens: list[Token] = []
    pos = 0
    while (m := _TOKEN.match(text, pos)) is not None and m.lastgroup is not None:
        kind, start, pos = m.lastgroup, m.start(m.lastgroup), m.end()
        if kind == "quote":
            end = text.find('"', start + 1)
            if end < 0:
                raise QueryError(f'unclosed quote " at position {start + 1}')
            tokens.append(("phrase", text[start + 1:end], start))
            pos = end + 1
            continue
        value = m.group(kind)
        if kind == "word" and value.startswith("-") and (len(value) > 1
                                                         or text[pos:pos + 1] in ('"', "(")):
            tokens.append(("neg", "-", start))
            value, start = value[1:], start + 1
            if not value:
                continue
        if kind == "word" and value.endswith(":") and text[pos:pos + 1] == '"':
            kind, value = "field", value[:-1]
        tokens.append((kind, value, start))
    return tokens


def _word(value: str, pos: int) -> Node:
    field = None
    m = _FIELD.fullmatch(value)
    if m:
        field, value = _field(m.group(1), pos), m.group(2)
        if not value:
            raise QueryError(f"{field}: at position {pos + 1} needs a word right after it")
    if "*" in value or "?" in value:
        if len(wildcard_prefix(value)) < MIN_WILDCARD_PREFIX:
            raise QueryTooCostly(f"query too costly: wildcard {value!r} needs at least "
                                 f"{MIN_WILDCARD_PREFIX} letters before * or ?")
        return Wildcard(field, value.lower())
    return Term(field, value)


def _phrase(field: str | None, value: str, pos: int) -> Node:
    if not value.strip():
        raise QueryError(f'empty phrase "" at position {pos + 1}')
    return Phrase(field, " ".join(value.split()))


def _field(name: str, pos: int) -> str:
    if name.lower() not in FIELDS:
        raise QueryError(f"unknown field {name}: at position {pos + 1} (fields: "
                         + ", ".join(f + ":" for f in FIELDS) + ")")
    return name.lower()


def _positive(node: Node) -> bool:
    """Whether `node` can match a document by something it contains, not by exclusion."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_positive(c) for c in node.children)
    return True


def wildcard_prefix(pattern: str) -> str:
    """The literal letters of a wildcard pattern before its first * or ?."""
    return re.split(r"[*?]", pattern, maxsplit=1)[0]


def expand_wildcard(pattern: str, prefixed: Iterable[str], indexed: Callable[[str], bool],
                    *, stemmed: bool) -> list[str]:
    """The indexed words a wildcard stands for, worked out the same way for every engine.

    `prefixed` are the field's indexed terms that start with `wildcard_prefix(pattern)`;
    `indexed(term)` says whether the field holds a term. A stemmed field holds stems, often
    shorter than the word typed: for `negotiat*` the index has `negoti` (from negotiations).
    So there a trailing-* prefix also matches a stem that is a prefix of it, cut by at most 3
    letters (the stemmers' suffixes), but not shorter than 3. Raises QueryTooCostly if the
    pattern stands for more than MAX_EXPANSIONS words."""
    literal = wildcard_prefix(pattern)
    regex = re.compile(".*".join(".".join(map(re.escape, part.split("?")))
                                 for part in pattern.split("*")))
    found = [t for t in dict.fromkeys(prefixed) if regex.fullmatch(t)]
    if stemmed and pattern == literal + "*":
        found += [literal[:cut] for cut in range(max(3, len(literal) - 3), len(literal))
                  if indexed(literal[:cut])]
    if len(found) > MAX_EXPANSIONS:
        raise QueryTooCostly(f"query too costly: wildcard {pattern!r} matches more than "
                             f"{MAX_EXPANSIONS:,} words; narrow it: give more letters")
    return found
