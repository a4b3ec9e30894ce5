"""One side of a comparison: a capture's payload read from its WARC record and extracted, with
the HTML elements that `css:` noise rules name taken out first. A browser capture's text is
that of its rendered DOM (the urn:dom: resource the catalog ties to it), its status and
headers those of the page as served.

Always read from the WARC payload (never from replay HTML). A payload never changes, so what was
read is kept per process, keyed by where the payload is: the change report, the timeline and the
watched phrases read the same ones again and again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from index.catalog import Capture
from index.collection import Collection
from index.errors import CaptureNotFound, UsageError
from index.extract import HTML_TYPES, Extracted, charset_of, extract, media_type
from index.warc_reader import read_payload

# extracted payloads kept per process
_CACHED_VERSIONS = 512


@dataclass(frozen=True)
class Version:
    """One side of a comparison: the capture and what was read from its payload."""

    capture: Capture
    status: int
    headers: dict[str, str]
    text: Extracted | None
    dropped: tuple[tuple[str, str], ...] = ()  # (selector, text) of elements ignore rules removed

    def field(self, name: str) -> str:
        """The extracted text's `name` (title, description), or "" without a text."""
        return getattr(self.text, name, "") if self.text else ""

    def words(self, full: bool) -> str:
        """The full visible text, or the main text; "" without a text."""
        if self.text is None:
            return ""
        return self.text.full_text if full else self.text.main_text


def load_version(collection: Collection, capture: Capture, selectors: tuple[str, ...] = ()
                 ) -> Version:
    """Read and extract one capture's payload from the WARC record holding it, first removing
    the HTML elements that the CSS `selectors` (noise rules) match."""
    status, headers, text, dropped = read_version(*payload_of(collection, capture), selectors)
    if capture.rendered:
        text, dropped = read_version(*text_payload_of(collection, capture), selectors)[2:]
    return Version(capture, status, dict(headers), text, dropped)


def payload_of(collection: Collection, capture: Capture
               ) -> tuple[Path, int, int, str | None, str, str, int]:
    """Where the capture's payload is and what the catalog says of it (digest, URL, media
    type, status): the first arguments of `read_version`, and the key that what is read from
    the payload is remembered by."""
    check_payload(capture)
    return (collection.inside(capture.payload_file), capture.payload_offset,
            capture.payload_length, capture.digest, capture.url, capture.mime or "",
            capture.status or 0)


def text_payload_of(collection: Collection, capture: Capture
                    ) -> tuple[Path, int, int, str | None, str, str, int]:
    """As `payload_of`, for what the capture's text is read from: a browser capture's
    rendered DOM, else its payload."""
    if not capture.rendered:
        return payload_of(collection, capture)
    return (collection.inside(capture.dom_file), capture.dom_offset, capture.dom_length,
            capture.dom_digest, capture.url, "text/html", 200)


def check_payload(capture: Capture) -> None:
    """Raises CaptureNotFound unless the catalog knows where the capture's payload is."""
    if not capture.has_payload:
        raise CaptureNotFound(f"the payload of {capture.url} at {capture.timestamp} is not in "
                              "the collection")


@lru_cache(maxsize=_CACHED_VERSIONS)
def read_version(path: Path, offset: int, length: int, digest: str | None,
                 url: str, mime: str, status: int, selectors: tuple[str, ...] = ()
                 ) -> tuple[int, tuple[tuple[str, str], ...], Extracted | None,
                            tuple[tuple[str, str], ...]]:
    """The status, headers, extracted text and dropped elements of the payload at `offset` in
    the WARC file at `path` (`mime` and `status` as catalogued, where the record says none)."""
    # keyed by where the payload is and its digest: the same record read for another
    # capture (a revisit) or another comparison comes from here
    head, body = read_payload(path, offset, length)
    headers = tuple((k.title(), v) for k, v in head.headers)
    content_type = dict(headers).get("Content-Type") or mime
    kind, charset = media_type(content_type), charset_of(content_type)
    dropped: list[tuple[str, str]] = []
    if selectors and kind in HTML_TYPES:
        body, dropped = _drop_elements(body, selectors)
    stated = head.get_statuscode() or ""
    status = int(stated) if stated.isdigit() and len(stated) == 3 else status
    return status, headers, extract(body, kind, url, charset), tuple(dropped)


def _drop_elements(body: bytes, selectors: tuple[str, ...]
                   ) -> tuple[bytes, list[tuple[str, str]]]:
    """The HTML without the elements the selectors match, and the text each one held."""
    matchers = []
    for selector in selectors:
        try:
            matchers.append((selector, CSSSelector(selector)))
        except SelectorError as exc:
            raise UsageError(f"ignore rule css:{selector!r} is not a CSS selector: {exc}"
                             ) from None
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return body, []
    dropped = []
    for selector, matcher in matchers:
        for element in matcher(doc):
            dropped.append((selector, " ".join(element.text_content().split())))
            element.drop_tree()
    return lxml.html.tostring(doc, encoding="utf-8"), dropped
