"""Outlinks of a fetched document: the pages it links to and the requisites it needs.

Each link comes with its hop type as Heritrix writes it in crawl logs and metadata records:
`L` a navigational link, `E` an embed (a requisite: stylesheet, script, image, font, frame).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree

# elements whose link is something the page needs to be displayed
_EMBED_TAGS = {"img", "script", "source", "video", "audio", "track", "iframe", "frame",
               "embed", "object", "input", "image", "use"}
_EMBED_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload",
               "modulepreload", "manifest", "mask-icon"}
_CSS_URL = re.compile(rb"""url\(\s*(['"]?)([^'")]+?)\1\s*\)|@import\s+(['"])([^'"]+)\3""")


@dataclass(frozen=True)
class Outlink:
    url: str
    hop: str  # "L" link, "E" embed
    context: str  # where it was found, e.g. "a/@href"


def html_outlinks(body: bytes, base_url: str, encoding: str | None = None) -> list[Outlink]:
    """Every http(s) outlink of an HTML document, absolute, without fragments, in document
    order and without repeats."""
    try:
        parser = lxml.html.HTMLParser(encoding=encoding) if encoding else None
        doc = lxml.html.document_fromstring(body, parser=parser, base_url=base_url)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for href in doc.xpath("//base/@href"):
        base = urljoin(base_url, href.strip())
        break
    found: list[Outlink] = []
    for element, attribute, link, _pos in doc.iterlinks():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in ("form", "base") or attribute == "action":
            continue
        if attribute is None or tag == "style":  # a url() inside <style> or style=""
            found.append(Outlink(link, "E", f"{tag}/style"))
        elif tag in _EMBED_TAGS:
            found.append(Outlink(link, "E", f"{tag}/@{attribute}"))
        elif tag == "link":
            rels = set((element.get("rel") or "").lower().split())
            found.append(Outlink(link, "E" if rels & _EMBED_RELS else "L", "link/@href"))
        else:
            found.append(Outlink(link, "L", f"{tag}/@{attribute}"))
    for element in doc.xpath("//*[@srcset]"):
        for candidate in element.get("srcset").split(","):
            parts = candidate.split()
            if parts:
                found.append(Outlink(parts[0], "E", f"{element.tag}/@srcset"))
    return _absolute(found, base)


def css_outlinks(body: bytes, base_url: str) -> list[Outlink]:
    """url(...) and @import references of a stylesheet: all requisites."""
    found = []
    for match in _CSS_URL.finditer(body):
        link = (match.group(2) or match.group(4) or b"").strip()
        if link and not link.startswith(b"data:"):
            found.append(Outlink(link.decode("utf-8", "replace"), "E", "css/url"))
    return _absolute(found, base_url)


def _absolute(links: list[Outlink], base: str) -> list[Outlink]:
    seen: set[str] = set()
    result = []
    for link in links:
        url = urldefrag(urljoin(base, link.url.strip()))[0]
        if url.startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            result.append(Outlink(url, link.hop, link.context))
    return result
