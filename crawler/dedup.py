"""Which payloads the collection already holds, so that a capture of the same payload is
written as a `revisit` record (profile identical-payload-digest) instead of a second copy.

Earlier crawls are read from the catalog (the one place the crawler asks the index); captures
of this crawl are remembered as they are written.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.catalog import Catalog
from index.collection import Collection
from index.indexer import update


@dataclass(frozen=True)
class PayloadRef:
    """Where a payload was first written: the record a revisit refers to."""

    url: str
    warc_date: str


class PayloadHistory:
    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}  # url -> digest of its latest 2xx capture
        self._by_digest: dict[str, PayloadRef] = {}

    @classmethod
    def from_collection(cls, collection: Collection) -> PayloadHistory:
        """The history of every closed WARC of the collection (the catalog brought up to date
        first, full text left for `palimpsest index`)."""
        update(collection, fulltext=False)
        history = cls()
        catalog = Catalog.open(collection)
        try:
            for url, digest, date in catalog.latest_payloads():
                history.remember(url, digest, date)
        finally:
            catalog.close()
        return history

    def previous_digest(self, url: str) -> str | None:
        return self._by_url.get(url)

    def original(self, digest: str) -> PayloadRef | None:
        return self._by_digest.get(digest)

    def remember(self, url: str, digest: str, warc_date: str) -> None:
        """Note a payload written (or revisited) at `url`; the first record of a digest stays
        the one revisits refer to."""
        self._by_url[url] = digest
        self._by_digest.setdefault(digest, PayloadRef(url, warc_date))
