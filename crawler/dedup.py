"""Which payloads the collection already holds, so that a capture of the same payload is
written as a `revisit` record (profile identical-payload-digest) instead of a second copy.

Earlier crawls are read from the catalog (the one place the crawler asks the index), which
must be up to date with the collection's WARC files (crawler/run.py brings it so before a
crawl); captures of this crawl are remembered as they are written.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.catalog import Catalog
from index.collection import Collection


@dataclass(frozen=True)
class PayloadRef:
    """Where a payload was first written: the record a revisit refers to."""

    url: str
    warc_date: str


class PayloadHistory:
    """The latest payload digest of each URL, and the first record of each payload."""

    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}  # url -> digest of its latest 2xx capture
        self._by_digest: dict[str, PayloadRef] = {}

    @classmethod
    def from_collection(cls, collection: Collection) -> PayloadHistory:
        """The history of every closed WARC file of the collection, as the catalog holds it;
        CatalogOutOfDate if the catalog is not up to date with them."""
        history = cls()
        with Catalog.open(collection) as catalog:
            for url, digest, original_url, original_date in catalog.payload_history():
                history._by_url[url] = digest
                if original_url:
                    history._by_digest.setdefault(digest, PayloadRef(original_url, original_date))
        return history

    def previous_digest(self, url: str) -> str | None:
        """The payload digest of the latest 2xx capture of `url`, None if it has none."""
        return self._by_url.get(url)

    def original(self, digest: str) -> PayloadRef | None:
        """The record that first held the payload `digest`, None if it is new."""
        return self._by_digest.get(digest)

    def remember(self, url: str, digest: str, original: PayloadRef) -> None:
        """Note a payload written (or revisited) at `url`, `original` being the response
        record that holds it; the first record of a digest stays the one revisits refer to."""
        self._by_url[url] = digest
        self._by_digest.setdefault(digest, original)
