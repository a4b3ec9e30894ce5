"""Which captures an export holds: the whole collection, or a selection by crawl, site,
capture date, URL prefix, search query or an explicit list of captures, resolved against
the catalog into its temporary `export_ids` table (index/catalog_export.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.catalog import Catalog
from index.catalog_export import ExportSelection
from index.catalog_records import Capture
from index.collection import Collection
from index.errors import UsageError
from index.search.engine import text_key_of
from index.search.engines import open_index
from index.search.query import TextQuery
from index.search.query_cost import Budget
from index.surt_key import match_range
from index.timestamps import pad_timestamp

_SEPARATORS = re.compile(r"[-:T\sZ]")
_DATE_HELP = "YYYY, YYYY-MM, YYYY-MM-DD or a 14-digit timestamp"


@dataclass(frozen=True)
class Selection:
    """What to export; every field given narrows it (None: no bound). `captures` names the
    captures themselves (an evidence package's two versions, say). Dates are YYYY[-MM[-DD]]
    or 4-14 digits, `date_to` running to the end of the period it names."""

    crawl: str | None = None
    site: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    url_prefix: str | None = None
    query: str | None = None
    captures: Sequence[Capture] | None = None

    @property
    def is_everything(self) -> bool:
        return all(getattr(self, f) is None for f in self.__dataclass_fields__)

    def describe(self) -> str:
        """The selection in a few words, for the package's description."""
        parts = [f"{name.replace('_', ' ')} {value}" for name, value in (
            ("crawl", self.crawl), ("site", self.site), ("from", self.date_from),
            ("to", self.date_to), ("url_prefix", self.url_prefix), ("query", self.query))
            if value is not None]
        if self.captures is not None:
            parts.append(f"{len(self.captures)} chosen captures")
        return ", ".join(parts) or "the whole collection"


def resolve(collection: Collection, catalog: Catalog, selection: Selection) -> int:
    """Fill the catalog's `export_ids` with `selection`'s captures and the records they
    need; returns how many captures the selection names. UsageError for a bad date, an
    unknown crawl or site, a malformed query, or a selection that names nothing."""
    filters = ExportSelection(
        crawl=_crawl(catalog, selection.crawl), site=_site(catalog, selection.site),
        from_ts=_date(selection.date_from, "--from") if selection.date_from else None,
        to_ts=_date(selection.date_to, "--to", up=True) if selection.date_to else None,
        surt_range=match_range(selection.url_prefix, "prefix") if selection.url_prefix
        else None)
    if filters.from_ts and filters.to_ts and filters.from_ts > filters.to_ts:
        raise UsageError(f"--from {selection.date_from} is after --to {selection.date_to}")
    ids = None
    if selection.captures is not None:
        ids = [c.id for c in selection.captures]
    if selection.query is not None:
        found = _query_ids(collection, catalog, selection.query)
        ids = found if ids is None else sorted(set(ids) & set(found))
    named = catalog.select_for_export(filters, ids)
    if not named:
        raise UsageError(f"nothing to export: no capture matches {selection.describe()}")
    return named


def _query_ids(collection: Collection, catalog: Catalog, query: str) -> list[int]:
    """The live captures of every text the search query matches (all of them, not a page
    of results: a search's captures, as SolrWayback exports them)."""
    parsed = TextQuery.parse(query)
    with open_index(collection, collection.config_if_any()) as engine:
        keys = [text_key_of(n) for n in engine.match(parsed, Budget()).numbers()]
    return [row[4] for row in catalog.live_captures_of_texts(keys)]


def _crawl(catalog: Catalog, crawl: str | None) -> str | None:
    if crawl is not None and crawl not in catalog.crawls():
        raise UsageError(f"no crawl {crawl!r} in the catalog (a crawl id is a folder name "
                         "under crawls/, e.g. 20261125061729)")
    return crawl


def _site(catalog: Catalog, site: str | None) -> str | None:
    if site is not None and site not in catalog.sites():
        raise UsageError(f"no site {site!r} in the catalog")
    return site


def _date(value: str, name: str, *, up: bool = False) -> str:
    """A date given as YYYY[-MM[-DD]], ISO 8601 or 4-14 digits, padded to 14 digits."""
    digits = _SEPARATORS.sub("", value.strip())
    if len(digits) % 2 or not digits.isdigit() or not 4 <= len(digits) <= 14:
        raise UsageError(f"{name}: {value!r} is not a date ({_DATE_HELP})")
    return pad_timestamp(digits, up=up)
