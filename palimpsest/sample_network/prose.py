"""Prose for the sample network: inline link markup to HTML, and supporting paragraphs.

Content files write links as [anchor](url). `markup` escapes everything else, so no text from
the content files reaches a page unescaped.
"""

from __future__ import annotations

import random
import re
from html import escape

from palimpsest.sample_network.sites import Article

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def markup(text: str) -> str:
    """`text` as HTML: escaped, with each [anchor](url) turned into a link."""
    out: list[str] = []
    pos = 0
    for match in _LINK.finditer(text):
        out.append(escape(text[pos : match.start()], quote=False))
        anchor, href = match.groups()
        out.append(f'<a href="{escape(href)}">{escape(anchor, quote=False)}</a>')
        pos = match.end()
    out.append(escape(text[pos:], quote=False))
    return "".join(out)


def plain(text: str) -> str:
    """`text` with link markup reduced to its anchor text (for metadata and summaries)."""
    return _LINK.sub(lambda m: m.group(1), text)


def links(text: str) -> list[str]:
    """The URLs `text` links to."""
    return [m.group(2) for m in _LINK.finditer(text)]


def supporting_paragraphs(article: Article, part: int, bank: tuple[str, ...]) -> tuple[str, ...]:
    """One or two paragraphs that follow the written paragraph of `article`'s part `part`.

    Seeded by the article's URL and the part's position, not by its text, so that editing a
    title or a paragraph never changes the paragraphs around it."""
    rng = random.Random(f"{article.url}#{part}")
    count = 1 + part % 2
    picks = rng.sample(range(len(bank)), 3 * count)
    terms = dict(article.terms)
    sentences = [bank[i].format(**terms) for i in picks]
    return tuple(" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3))
