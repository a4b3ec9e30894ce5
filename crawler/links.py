"""Outlinks of a fetched document: the pages it links to and the requisites it needs.

Each link comes with its hop type as Heritrix writes it in crawl logs and metadata records:
`L` a navigational link, `E` an embed (a requisite: stylesheet, script, image, font, frame).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from lxml import etree

from index.extract import sniff_utf16

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


# one compiled XPath for every attribute that can hold a link: much cheaper than
# lxml's iterlinks(), which walks every element and attribute in Python
_LINK_ATTRS = etree.XPath(
    "//a/@href | //area/@href | //link/@href | //iframe/@src | //frame/@src"
    " | //img/@src | //script/@src | //source/@src | //video/@src | //video/@poster"
    " | //audio/@src | //track/@src | //embed/@src | //object/@data | //input/@src"
    " | //*[@background]/@background | //*[@srcset]/@srcset | //*[@style]/@style"
    " | //style/text() | //base/@href")


def html_outlinks(body: bytes, base_url: str, encoding: str | None = None) -> list[Outlink]:
    """Every http(s) outlink of an HTML document, absolute, without fragments, in document
    order and without repeats."""
    # libxml2 neither sniffs UTF-16 without a byte order mark nor reads a "utf-16" label as
    # big-endian; the bytes tell which it is
    try:
        doc = lxml.html.document_fromstring(body, parser=_parser(sniff_utf16(body) or encoding))
    except (etree.ParserError, ValueError):
        return []
    found: list[Outlink] = []
    base = base_url
    for value in _LINK_ATTRS(doc):
        element = value.getparent()
        tag = element.tag if isinstance(element.tag, str) else ""
        name = value.attrname if value.is_attribute else ""
        if tag == "base":
            base = urljoin(base_url, value.strip())
        elif name == "srcset":
            for candidate in value.split(","):
                parts = candidate.split()
                if parts:
                    found.append(Outlink(parts[0], "E", f"{tag}/@srcset"))
        elif name == "style" or tag == "style":
            for link in _css_links(value.encode("utf-8", "replace")):
                found.append(Outlink(link, "E", f"{tag}/style"))
        elif tag == "link":
            rels = set((element.get("rel") or "").lower().split())
            found.append(Outlink(value, "E" if rels & _EMBED_RELS else "L", "link/@href"))
        else:
            hop = "E" if tag in _EMBED_TAGS or name == "background" else "L"
            found.append(Outlink(value, hop, f"{tag}/@{name}"))
    return _absolute(found, base)


def _parser(encoding: str | None) -> lxml.html.HTMLParser | None:
    if not encoding:
        return None
    try:
        return lxml.html.HTMLParser(encoding=encoding)
    except LookupError:  # a charset lxml does not know: let it find one itself
        return None


def css_outlinks(body: bytes, base_url: str) -> list[Outlink]:
    """url(...) and @import references of a stylesheet: all requisites."""
    return _absolute([Outlink(link, "E", "css/url") for link in _css_links(body)], base_url)


def _css_links(css: bytes) -> list[str]:
    links = []
    for match in _CSS_URL.finditer(css):
        link = (match.group(2) or match.group(4) or b"").strip()
        if link and not link.startswith(b"data:"):
            links.append(link.decode("utf-8", "replace"))
    return links


def _absolute(links: list[Outlink], base: str) -> list[Outlink]:
    seen: set[str] = set()
    result = []
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    for link in links:
        raw = link.url.strip()
        # most links of a CMS page are absolute or root-relative: skip urljoin's full parse
        if raw.startswith(("http://", "https://")) and "/." not in raw:
            url = raw
        elif raw.startswith("/") and not raw.startswith("//") and "/." not in raw:
            url = origin + raw
        else:
            url = urljoin(base, raw)
        if "#" in url:
            url = urldefrag(url)[0]
        if url not in seen and url.startswith(("http://", "https://")):
            seen.add(url)
            result.append(Outlink(url, link.hop, link.context))
    return result
