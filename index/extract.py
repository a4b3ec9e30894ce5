"""Text extraction: what a captured page says, read from its payload bytes with resiliparse.

`extract()` turns an HTML or plain-text payload into an `Extracted` record: title, main text
(boilerplate removed), full visible text, meta description, language, publication date and
outlinks. It never raises on bad input: a payload it cannot make sense of gives empty fields, and
a payload that is not text at all (images, PDF, CSS, ...) gives None.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLParserException, HTMLTree
from resiliparse.parse.lang import detect_fast

# the media types of HTML pages: what is parsed for text and links, and replayed rewritten
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
_MEDIA_TYPE_END = re.compile(r"[;\s]")
_CHARSET = re.compile(r"(?:^|[;\s])charset\s*=\s*[\"']?([^\s;\"']+)", re.I)
# Element lists are read with .values(): indexing or iterating resiliparse's ElementNodeList
# costs about 0.3 ms an item, .values() builds the whole list at once.
# Bodies past this are cut before parsing: a 20 MB "page" is a data dump, not prose, and
# parsing it whole would stall indexing for no searchable gain.
MAX_TEXT_BYTES = 5_000_000
_TITLE_CHARS = 300
# detect_fast's rank above this is, per its docs, usually a false result
_LANG_MAX_RANK = 1200
# how much of a body the UTF-16 sniffing reads, and how many of its code units must be
# ASCII (markup, even on a page of CJK prose, is well over this)
_SNIFF_BYTES = 4096
_UTF16_ASCII_SHARE = 0.2
# WHATWG decodes these encodings as the supersets Windows wrote (and their labels name)
_DECODERS = {"shift_jis": "cp932", "euc_kr": "cp949", "gbk": "gb18030", "big5": "big5hkscs",
             "iso8859-11": "cp874"}
# bytes that are valid in one of these are evidence for it, as they are for UTF-8: a
# single-byte encoding decodes almost any bytes
_MULTIBYTE = frozenset({"shift_jis", "euc_jp", "iso2022_jp", "gbk", "gb18030", "big5", "euc_kr"})
# uchardet's names that are no WHATWG label
_DETECTED = {"cp949": "euc_kr"}
_DATE_METAS = ("article:published_time", "og:published_time", "datepublished", "date",
               "dc.date", "dc.date.issued", "dcterms.created", "dcterms.date", "pubdate",
               "publish-date", "publication_date", "sailthru.date")


@dataclass(frozen=True)
class Extracted:
    """What one page says. Empty strings, not None, for text that is simply absent."""

    title: str
    main_text: str
    full_text: str
    description: str
    language: str | None
    published: datetime | None
    outlinks: tuple[str, ...]


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lowercased and without its parameters
    (`text/html` of `text/HTML; charset=utf-8`); an empty string for no value."""
    if not content_type:
        return ""
    return _MEDIA_TYPE_END.split(content_type.strip(), maxsplit=1)[0].lower()


def charset_of(content_type: str | None) -> str | None:
    """The charset label a Content-Type value declares, unquoted and in its own case
    (`UTF-8` of `text/html; charset="UTF-8"`); None if it declares none."""
    found = _CHARSET.search(content_type or "")
    return found.group(1) if found else None


def extract(body: bytes, mime: str, url: str, charset: str | None = None) -> Extracted | None:
    """The text of a payload of type `mime` fetched from `url`, or None if it is not text.

    `charset` is the label from the HTTP Content-Type header, if any; it is trusted only where
    the bytes agree with it. Never raises on malformed, truncated or mislabelled input."""
    kind = media_type(mime)
    if kind not in HTML_TYPES and kind not in TEXT_TYPES:
        return None
    body = body[:MAX_TEXT_BYTES]
    if kind in TEXT_TYPES:
        return _plain(decode(body, charset))
    text = decode(body, charset, html=True)
    try:
        return _html(HTMLTree.parse(text), url)
    except HTMLParserException:
        # resiliparse's parser gives up only on pathological input: nothing readable in it
        return Extracted("", "", "", "", None, None, ())


def decode(body: bytes, header: str | None, html: bool = False) -> str:
    """`body` as text, decoded as a browser would, but trusting a label only where the bytes
    bear it out. `header` is the HTTP charset label; with `html`, a <meta> label counts too.

    The steps are WHATWG's sniffing order, each checked against the bytes: a byte order mark;
    UTF-16 without one, told by its zero bytes; valid UTF-8, which wins over any label
    (non-ASCII bytes that all form UTF-8 sequences are UTF-8 in practice, whatever the server
    claims); the HTTP label, then the <meta> label, each kept if the bytes decode with it;
    uchardet's guess; windows-1252. Labels map as WHATWG maps them (latin1, ascii -> windows-1252).
    The generic Western label is what servers send by default, so there uchardet's guess wins;
    a single-byte label also yields to a guessed multi-byte encoding the bytes are valid in, as
    it does to UTF-8."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return bytes_to_str(body, name, errors="replace")
    utf16 = sniff_utf16(body)
    if utf16:
        return body.decode(utf16, errors="replace")
    # ISO-2022-JP is 7-bit, so valid UTF-8 too: its escapes tell it apart (looking for one
    # byte is a memchr, for two a scan twenty times slower)
    if b"\x1b" not in body or _detect(body) != "iso2022_jp":
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # only now is the <meta> label wanted: looking for it costs more than all the above
    meta = _meta_charset(body) if html else None
    encoding = _declared_or_guessed(body, (_label(header), _label(meta)))
    return bytes_to_str(body, _DECODERS.get(encoding, encoding), errors="replace")


def sniff_utf16(body: bytes) -> str | None:
    """"utf-16le" or "utf-16be" (names both Python and libxml2 know) if the first kilobytes of
    `body` read as UTF-16 of mostly ASCII text, else None."""
    sample = body[:_SNIFF_BYTES]
    if b"\x00" not in sample:
        return None
    # ASCII in UTF-16LE puts its zero bytes at odd offsets, in UTF-16BE at even ones;
    # binary data has zeros at both, text in other encodings has none
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    units = len(sample) // 2
    if odd >= units * _UTF16_ASCII_SHARE and even * 16 <= odd:
        return "utf-16le"
    if even >= units * _UTF16_ASCII_SHARE and odd * 16 <= even:
        return "utf-16be"
    return None


def _declared_or_guessed(body: bytes, labels: tuple[str | None, ...]) -> str:
    """The encoding of a body that is neither UTF-8 nor UTF-16, from its labels (HTTP first,
    as WHATWG orders them) and uchardet's guess."""
    # The bytes ruled out UTF-8 and UTF-16 already (and WHATWG reads a <meta> naming UTF-16
    # as UTF-8 anyway)
    declared = dict.fromkeys(e for e in labels if e and not e.startswith("utf-"))
    fitting = [e for e in declared if _fits(body, e)]
    guess = _detect(body) or "cp1252"
    if guess in fitting:
        return guess
    if guess in _MULTIBYTE and _fits(body, guess):
        fitting = [e for e in fitting if e in _MULTIBYTE]
    specific = [e for e in fitting if e != "cp1252"]
    return specific[0] if specific else guess


def _detect(body: bytes) -> str | None:
    """uchardet's guess as a WHATWG name, or None if it has none."""
    found = detect_encoding(body, html5_compatible=False)
    return _DETECTED.get(found) or _label(found)


def _label(label: str | None) -> str | None:
    """The WHATWG name of an encoding label, or None for an unknown one."""
    if not label:
        return None
    label = label.strip().strip("\"'")
    mapped = map_encoding_to_html5(label, fallback_utf8=False)
    if mapped is None:
        try:
            mapped = map_encoding_to_html5(codecs.lookup(label).name, fallback_utf8=False)
        except LookupError:
            return None
    return mapped


def _fits(body: bytes, encoding: str) -> bool:
    try:
        body.decode(_DECODERS.get(encoding, encoding))
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _meta_charset(body: bytes) -> str | None:
    """The charset a page declares in its first kilobytes (<meta charset> or http-equiv)."""
    head = body[:4096].decode("ascii", errors="replace")
    try:
        tree = HTMLTree.parse(head)
    except HTMLParserException:
        return None
    for meta in tree.document.query_selector_all("meta").values():
        if meta.hasattr("charset"):
            return meta.getattr("charset")
        if (meta.getattr("http-equiv") or "").lower() == "content-type":
            content = meta.getattr("content") or ""
            for part in content.split(";"):
                key, _, value = part.partition("=")
                if key.strip().lower() == "charset":
                    return value.strip()
    return None


def _plain(text: str) -> Extracted:
    text = text.replace("\r\n", "\n").strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Extracted(title=first[:_TITLE_CHARS], main_text=text, full_text=text, description="",
                     language=_language(None, text), published=None, outlinks=())


def _html(tree: HTMLTree, url: str) -> Extracted:
    doc = tree.document
    metas = _metas(tree)
    full_text = extract_plain_text(tree, main_content=False).strip()
    main_text = extract_plain_text(tree, main_content=True).strip()
    title = (tree.title or metas.get("og:title") or _first_text(doc, "h1"))[:_TITLE_CHARS]
    html_el = doc.query_selector("html")
    declared_lang = html_el.getattr("lang") if html_el is not None else None
    return Extracted(
        title=" ".join(title.split()),
        main_text=main_text,
        full_text=full_text,
        description=" ".join((metas.get("description") or metas.get("og:description")
                              or "").split()),
        language=_language(declared_lang or metas.get("content-language"), main_text or full_text),
        published=_published(doc, metas),
        outlinks=tuple(_outlinks(doc, url)),
    )


def _metas(tree: HTMLTree) -> dict[str, str]:
    """<meta> name/property/itemprop/http-equiv (lower-cased) to content; the first one wins."""
    found: dict[str, str] = {}
    for meta in tree.document.query_selector_all("meta[content]").values():
        for attr in ("name", "property", "itemprop", "http-equiv"):
            key = (meta.getattr(attr) or "").strip().lower()
            if key and key not in found:
                found[key] = meta.getattr("content") or ""
    return found


def _first_text(doc, selector: str) -> str:
    node = doc.query_selector(selector)
    return node.text if node is not None else ""


def _language(declared: str | None, text: str) -> str | None:
    """The primary language subtag the page declares, else the one its text reads as."""
    if declared:
        primary = declared.strip().replace("_", "-").split("-", 1)[0].lower()
        if primary.isalpha() and 2 <= len(primary) <= 3:
            return primary
    if len(text) < 40:
        return None
    lang, rank = detect_fast(text[:4000])
    return lang if lang != "unknown" and rank <= _LANG_MAX_RANK else None


def _published(doc, metas: dict[str, str]) -> datetime | None:
    """When the page says it was published: meta tags, then JSON-LD, then <time datetime>."""
    candidates = [metas[k] for k in _DATE_METAS if metas.get(k)]
    candidates += _jsonld_dates(doc)
    times = doc.query_selector_all("time[datetime]").values()
    candidates += [t.getattr("datetime") for t in times]
    for value in candidates:
        parsed = _parse_date(value)
        if parsed is not None:
            return parsed
    return None


def _jsonld_dates(doc) -> list[str]:
    dates: list[str] = []
    for script in doc.query_selector_all('script[type="application/ld+json"]').values():
        try:
            data = json.loads(script.text)
        except ValueError:
            continue  # broken JSON-LD is common and says nothing we could use
        dates.extend(_walk_key(data, "datePublished"))
    return dates


def _walk_key(data: object, key: str) -> Iterator[str]:
    """Every string value of `key` anywhere in nested JSON (JSON-LD nests items in @graph)."""
    if isinstance(data, dict):
        value = data.get(key)
        if isinstance(value, str):
            yield value
        for child in data.values():
            yield from _walk_key(child, key)
    elif isinstance(data, list):
        for child in data:
            yield from _walk_key(child, key)


def _parse_date(value: str) -> datetime | None:
    """A date in UTC (a date without zone is taken as UTC), or None if it is not a date."""
    value = (value or "").strip()
    if not value or len(value) > 64 or not any(c.isdigit() for c in value):
        return None
    # imported on first use: dateutil's parser and time zones take ~25 ms to import, paid
    # by every crawl (which imports this module for media_type and charset_of) otherwise
    from dateutil import parser as dateparser

    try:
        parsed = dateparser.parse(value)
    except (ValueError, OverflowError):
        return None
    if not 1990 <= parsed.year <= 2100:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _outlinks(doc, url: str) -> list[str]:
    """Absolute http(s) link targets, resolved against <base href>, without fragments."""
    base = url
    base_el = doc.query_selector("base[href]")
    if base_el is not None:
        base = _join(url, base_el.getattr("href")) or url
    links: dict[str, None] = {}
    for a in doc.query_selector_all("a[href], area[href]").values():
        target = _join(base, a.getattr("href"))
        if target:
            links[target] = None
    return list(links)


def _join(base: str, href: str | None) -> str | None:
    href = (href or "").strip()
    if not href:
        return None
    try:
        parts = urlsplit(urljoin(base, href))
    except ValueError:  # e.g. an invalid IPv6 literal in a scraped href
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit(parts._replace(fragment=""))
