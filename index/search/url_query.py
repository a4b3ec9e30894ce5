"""A search box that also takes a URL, as Wayback machines and pywb do.

`http://allyvia.test/about/` or `allyvia.test/about/` names one URL (its timeline);
`http://allyvia.test/updates/*` and `allyvia.test/*` name every URL under a prefix, and
`*.allyvia.test` every URL of a domain and its subdomains (pywb's match types). A bare host
(`allyvia.test`) is a URL only if the archive has captured that host: `node.js` stays words.
Everything else is a text query for index.search.query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from index.catalog import Catalog
from index.errors import QueryError
from index.timestamps import iso_date

# the URLs a page lists, and how far their count goes before it says "more than"
MAX_COUNTED = 10_000
_SCHEME = re.compile(r"(?i)https?://\S*")
# a host with a dotted name ending in letters (allyvia.test, www.example.co.uk), an optional
# port, then a path, query or nothing
_SCHEMELESS = re.compile(r"(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\.?"
                         r"(?::\d{1,5})?(?P<rest>[/?]\S*)?")


@dataclass(frozen=True)
class UrlQuery:
    """A query read as a URL: the URL (with a scheme) and the pywb match type for it."""

    url: str
    match_type: str  # "exact", "prefix" or "domain"


def read_url(q: str, catalog: Catalog) -> UrlQuery | None:
    """The URL (or URL pattern) `q` names, or None if `q` is a text query. QueryError for a
    URL among other words: it would read as an unknown field `http:`."""
    q = q.strip()
    if " " in q or "\t" in q:
        if any(_SCHEME.fullmatch(word) for word in q.split()):
            raise QueryError("a URL is searched on its own (it names the URL's captures); "
                             "to find words in URLs, use url:word")
        return None
    schemeless = _SCHEMELESS.fullmatch(q)
    if not (_SCHEME.fullmatch(q) or schemeless):
        return None
    url, match_type = q.split("#", 1)[0], "exact"
    if url.startswith("*."):
        url, match_type = url[2:], "domain"
    elif url.endswith("*"):
        url, match_type = url[:-1], "prefix"
    if "://" not in url:
        url = "http://" + url
    if schemeless and not schemeless.group("rest") and match_type == "exact" and \
            not catalog.captured_urls(url, "host", limit=1):
        return None  # a dotted word like node.js, not a host of the archive
    return UrlQuery(url, match_type)


def list_urls(catalog: Catalog, wanted: UrlQuery, *, limit: int, offset: int = 0
              ) -> dict[str, Any]:
    """The search JSON object for a URL query: `{"read_as": "url", "url", "match_type",
    "total", "total_capped", "results": [{"url", "captures", "first_seen", "last_seen",
    "timestamp"}], "facets": {}}`, the URLs in SURT order, `timestamp` being the latest
    capture's. `total` is counted up to MAX_COUNTED (`total_capped` says if it stopped)."""
    found = catalog.captured_urls(wanted.url, wanted.match_type, limit=limit, offset=offset)
    total = catalog.count_captured_urls(wanted.url, wanted.match_type, up_to=MAX_COUNTED)
    return {
        "read_as": "url", "url": wanted.url, "match_type": wanted.match_type,
        "total": total, "total_capped": total >= MAX_COUNTED,
        "results": [{"url": u.url, "captures": u.captures,
                     "first_seen": iso_date("", u.first), "last_seen": iso_date("", u.last),
                     "timestamp": u.last} for u in found],
        "facets": {}}
