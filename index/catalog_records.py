"""The records the catalog hands out and takes in: a catalogued `Capture`, a `CapturedUrl`,
the rows the indexer writes (`CaptureRow`, `CdxOnlyRow`) and what the full-text pass reads
and records (`TextSource`, `TextLink`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from index.timestamps import iso_date


class CaptureRow(NamedTuple):
    """One capture as index.indexer writes it: the `captures` columns a writer fills. A
    NamedTuple, not a dataclass: one is made per record, and SQLite takes it as it is."""

    url: str
    surt: str
    timestamp: str
    warc_date: str
    record_type: str
    status: int | None
    mime: str | None
    digest: str | None
    length: int
    offset: int
    warc_file: str
    payload_file: str | None  # for a revisit, None until it is resolved
    payload_offset: int | None
    payload_length: int | None
    crawl: str
    site: str | None
    record_id: str | None
    refers_to: str | None
    refers_to_uri: str | None
    refers_to_date: str | None
    cdx_mime: str | None
    cdx_status: str | None
    concurrent_to: str | None = None  # WARC-Concurrent-To: a urn:dom: resource names its page


class CdxOnlyRow(NamedTuple):
    """A record cdxj-indexer lists that is no capture (metadata), as the catalog keeps it."""

    surt: str
    timestamp: str
    url: str
    cdx_mime: str | None
    cdx_status: str | None
    digest: str | None
    length: int
    offset: int
    warc_file: str


class TextSource(NamedTuple):
    """A text-bearing (URL, payload digest) of the catalog, and where its payload is."""

    url: str
    digest: str
    payload_file: str
    payload_offset: int
    payload_length: int
    mime: str
    site: str | None


class TextLink(NamedTuple):
    """Which full-text document a (URL, payload digest) gave; None for a text-less one."""

    url: str
    digest: str
    text_key: str | None


ROW_COLUMNS = CaptureRow._fields
CDX_ONLY_COLUMNS = CdxOnlyRow._fields


@dataclass(frozen=True, slots=True)
class Capture:
    """One catalogued capture (a response, revisit or resource record)."""

    id: int
    url: str
    surt: str
    timestamp: str
    warc_date: str
    record_type: str
    status: int | None
    mime: str | None
    digest: str | None
    length: int
    offset: int
    warc_file: str
    payload_file: str | None
    payload_offset: int | None
    payload_length: int | None
    crawl: str
    site: str | None
    record_id: str | None
    text_key: str | None
    # a browser capture's rendered DOM (the urn:dom: resource concurrent to its record):
    # where it is and its digest; None for a page not rendered by a browser
    dom_file: str | None = None
    dom_offset: int | None = None
    dom_length: int | None = None
    dom_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The captures JSON object of DESIGN.md (the CLI's --json and the API)."""
        return {"url": self.url, "timestamp": self.timestamp, "status": self.status,
                "mime": self.mime, "digest": self.digest, "crawl": self.crawl,
                "site": self.site, "length": self.length, "offset": self.offset,
                "filename": self.warc_file, "record_type": self.record_type,
                "record_id": self.record_id, "warc_date": iso_date(self.warc_date,
                                                                   self.timestamp)}

    @property
    def has_payload(self) -> bool:
        return self.payload_file is not None

    @property
    def rendered(self) -> bool:
        """Whether a browser rendered this page at capture time and its DOM is catalogued."""
        return self.dom_file is not None

    @property
    def text_digest(self) -> str | None:
        """The digest of what the capture's text is read from: its rendered DOM's, else its
        payload's. Two captures with the same one say the same (a browser capture's shell may
        be a revisit while what its script fetched changed)."""
        return self.dom_digest or self.digest


@dataclass(frozen=True, slots=True)
class CapturedUrl:
    """A URL of the catalog with how often and when it was captured (any status)."""

    url: str
    captures: int
    first: str  # 14-digit timestamps
    last: str
