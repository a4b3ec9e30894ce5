"""Rewriting archived HTML and CSS so that links and requisites point into the archive.

A page at time T links to `/web/T<mod>/<absolute url>`; the archive answers each such URL with
the capture nearest to T. Requisites load inside the sandboxed frame; links keep the frame's
own modifier, so following one loads the linked capture in the same frame (the sandbox
forbids the page to navigate the window around it; see web/static/replay-frame.js), except
in a frame that runs no script (`links_to_top`): there a link names the linked capture's view,
`/web/T/<url>`, to be opened in the window around the frame (`target="_top"`), so that the
banner always describes the page shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote, urljoin

import lxml.html
from lxml import etree

# what kind of resource each (element, attribute) loads, as pywb's modifiers name them
_MODIFIERS = {
    ("img", "src"): "im_", ("source", "src"): "im_", ("video", "src"): "im_",
    ("video", "poster"): "im_", ("audio", "src"): "im_", ("track", "src"): "im_",
    ("input", "src"): "im_", ("embed", "src"): "im_", ("object", "data"): "im_",
    ("script", "src"): "js_", ("iframe", "src"): "if_", ("frame", "src"): "if_",
}
_LINK_RELS_CSS = {"stylesheet"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)|@import\s+(['"])([^'"]+)\3""")
_SKIP = ("data:", "javascript:", "mailto:", "tel:", "about:", "#", "blob:")
# what a page needs to look as it did, for the capture view's "parts from another time"
_REQUISITES = ("//img/@src | //video/@poster | //script/@src | //link[contains(concat(' ', "
               "normalize-space(@rel), ' '), ' stylesheet ') or contains(@rel, 'icon')]/@href")
_SRCSETS = "//img/@srcset | //source/@srcset"
# what a URI in a Link header keeps as it is: RFC 3986's unreserved and reserved characters
# but for "#" (our addresses embed whole URLs) and ";" and ",", which lax Link parsers split on
_LINK_SAFE = ":/?[]@!$&'()*+=~%"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def archive_path(timestamp: str, url: str, modifier: str = "") -> str:
    """The archive's URL of `url` as captured nearest `timestamp`."""
    return f"/web/{timestamp}{modifier}/{url}"


def absolute_url(base: str, link: str) -> str | None:
    """`link` resolved against `base`, or None if it is no URL (an archived page may hold
    anything: `http://[oops/` is refused by urljoin)."""
    try:
        return urljoin(base, link)
    except ValueError:
        return None


def link_value(url: str, params: dict[str, str]) -> str:
    """One RFC 8288 link-value, `<url>; name="value"...`, for a Link header or link-format.
    The URL is percent-encoded (non-ASCII, controls, spaces, `<>"`, `;`, `,`, `#` and a `%`
    that starts no escape) so that no archived URL can end the link or start another;
    `params` are ours, never archived text."""
    uri = quote(_STRAY_PERCENT.sub("%25", url), safe=_LINK_SAFE)
    return f"<{uri}>" + "".join(f'; {name}="{value}"' for name, value in params.items())


def parse_html(text: str) -> lxml.html.HtmlElement | None:
    """An lxml document of decoded HTML `text`, or None if there is nothing to parse."""
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        # as bytes with the encoding named: lxml refuses a str carrying an XML declaration
        return lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"),
                                             parser=parser)
    except (etree.ParserError, ValueError):
        return None


def rewrite_html(text: str, page_url: str, timestamp: str, *, link_modifier: str = "mp_",
                 frame_script: str | None = None, noscript: bool = True,
                 links_to_top: bool = False) -> bytes:
    """The archived HTML `text` (already decoded), every link and requisite pointing into the
    archive at `timestamp`, as UTF-8 bytes. Links get `link_modifier` (a refresh always
    does); with `links_to_top`, links (`<a>`, `<area>`) open the linked capture's view in the
    top window instead (`_aim_at_top`). `frame_script`, if given, is the path of a script put
    first in the head. Without `noscript`, `<noscript>` elements are dropped (a DOM a browser
    rendered with scripts on, which showed none)."""
    doc = parse_html(text)
    if doc is None:
        return b""
    base = _drop_base(doc, page_url)
    if not noscript:
        for element in list(doc.iter("noscript")):
            element.drop_tree()

    def to_archive(link: str, modifier: str) -> str:
        link = link.strip()
        if not link or link.startswith(_SKIP):
            return link
        absolute = absolute_url(base, link)
        if absolute is None or not absolute.startswith(("http://", "https://")):
            return link
        return archive_path(timestamp, absolute, modifier)

    for element in doc.iter(etree.Element):
        tag = element.tag
        if not isinstance(tag, str):
            continue
        element.attrib.pop("integrity", None)  # a rewritten stylesheet no longer matches
        for attribute in ("href", "src", "poster", "data", "background"):
            value = element.get(attribute)
            if value is None:
                continue
            if tag in ("a", "area") and attribute == "href":
                element.set("href", to_archive(value, "" if links_to_top else link_modifier))
            elif tag == "link" and attribute == "href":
                rels = set((element.get("rel") or "").lower().split())
                element.set("href", to_archive(value, "cs_" if rels & _LINK_RELS_CSS else "im_"))
            elif tag == "form":
                continue
            else:
                element.set(attribute, to_archive(value, _MODIFIERS.get((tag, attribute), "im_")))
        if element.get("srcset"):
            element.set("srcset", ", ".join(
                " ".join([to_archive(parts[0], "im_"), *parts[1:]])
                for parts in (c.split() for c in element.get("srcset").split(",")) if parts))
        if element.get("style"):
            element.set("style", rewrite_css(element.get("style"), base, timestamp))
        if tag == "style" and element.text:
            element.text = rewrite_css(element.text, base, timestamp)
        if tag == "meta" and (element.get("http-equiv") or "").lower() == "refresh":
            delay, _, target = (element.get("content") or "").partition(";")
            name, _, link = target.partition("=")
            if link:
                element.set("content",
                            f"{delay};{name}={to_archive(link.strip(), link_modifier)}")
        if links_to_top and tag in ("a", "area"):
            _aim_at_top(element, archive_path(timestamp, ""))
    if frame_script:
        _put_script_first(doc, frame_script)
    return lxml.html.tostring(doc, encoding="utf-8", method="html", doctype="<!DOCTYPE html>")


def _aim_at_top(link: etree._Element, views: str) -> None:
    """Give a link of a page framed without scripts an explicit target (which no archived
    `<base target>` or `target` overrides): a link into the archive (its href starts with
    `views`, /web/T/) opens in the top window (`_top`: the frame's sandbox lets only a
    reader's click do it), or in a new one if the page said `_blank`; any other link (a
    fragment, mailto:, no URL) stays in the frame, so that no link the archive did not
    write can take the top window anywhere."""
    into_archive = (link.get("href") or "").startswith(views)
    if not into_archive:
        link.set("target", "_self")
    elif (link.get("target") or "").strip().lower() != "_blank":
        link.set("target", "_top")


def _drop_base(doc: lxml.html.HtmlElement, page_url: str) -> str:
    """The URL the document's relative links resolve against; its first <base> removed (the
    links it served are rewritten to absolute archive paths)."""
    for element in doc.iter("base"):
        base = element.get("href")
        element.drop_tree()
        return (absolute_url(page_url, base) or page_url) if base else page_url
    return page_url


def _put_script_first(doc: lxml.html.HtmlElement, path: str) -> None:
    head = doc.find("head")
    if head is None:
        head = etree.Element("head")
        doc.insert(0, head)
    head.insert(0, etree.Element("script", src=path))


def requisite_links(doc: lxml.html.HtmlElement, page_url: str) -> Iterator[str]:
    """The absolute URLs of the stylesheets, scripts, images and icons an (unrewritten) page
    loads, each once, in order; inline styles' url()s included."""
    base = page_url
    for element in doc.iter("base"):
        base = absolute_url(page_url, element.get("href") or "") or page_url
        break
    found: list[str] = list(doc.xpath(_REQUISITES))
    for srcset in doc.xpath(_SRCSETS):  # "a.png 1x, b.png 2x"
        found += [c.split()[0] for c in srcset.split(",") if c.split()]
    for style in doc.xpath("//style/text() | //@style"):
        found += [m.group(2) or m.group(4) for m in _CSS_URL.finditer(style)]
    seen = set()
    for link in found:
        link = link.strip()
        if not link or link.startswith(_SKIP):
            continue
        absolute = absolute_url(base, link)
        if absolute and absolute.startswith(("http://", "https://")) and absolute not in seen:
            seen.add(absolute)
            yield absolute


def rewrite_css(css: str, base_url: str, timestamp: str) -> str:
    """Stylesheet text with url(...) and @import pointing into the archive."""

    def replace(match: re.Match) -> str:
        link = (match.group(2) or match.group(4) or "").strip()
        if not link or link.startswith(_SKIP):
            return match.group(0)
        absolute = absolute_url(base_url, link)
        if absolute is None:
            return match.group(0)
        modifier = "cs_" if match.group(4) else "im_"
        target = archive_path(timestamp, absolute, modifier)
        return f'@import "{target}"' if match.group(4) else f'url("{target}")'

    return _CSS_URL.sub(replace, css)
