"""What the crawl may fetch: scope per site, limits, and guards against crawler traps.

`Frontier.admit` answers for one discovered URL: fetch it (None) or why not ("scope",
"limit:pages", "limit:depth", "limit:url-length", "trap:repeated-segment",
"trap:path-depth", "trap:query-variants"). The crawl log records every refusal with its reason.

A URL is in scope if it belongs to a site (see `Site.claim`: under a seed's prefix, or on a
site's configured hosts). Page requisites are fetched from anywhere, as a browser would; a
sitemap must be in scope but is not a page, so it does not count against the page limit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from urllib.parse import urlsplit

from scrapy.settings.default_settings import URLLENGTH_LIMIT

from index.config import Limits, NetworkConfig, Site, SiteIndex

# a requisite may pull in requisites of its own (CSS -> font, CSS -> image), not endlessly
MAX_EMBED_CHAIN = 3


class Frontier:
    def __init__(self, config: NetworkConfig, sites: tuple[Site, ...],
                 max_pages: int | None = None,
                 max_url_length: int = URLLENGTH_LIMIT) -> None:
        self.config = config
        self.max_url_length = max_url_length
        self.sites = sites
        self._index = SiteIndex(sites)
        # the last URL asked of site_of and its site: an outlink is asked by admit, then by
        # the spider for its request, one after the other
        self._last: tuple[str, Site | None] = ("", None)
        self.limits: Limits = config.limits
        self._max_pages = {
            s.name: max_pages or s.max_pages or config.limits.max_pages_per_site for s in sites
        }
        self.pages = Counter[str]()
        self._queries: dict[tuple[str, str], set[str]] = defaultdict(set)

    def page_limit(self, site: str) -> int:
        """The most pages of `site` this crawl fetches."""
        return self._max_pages[site]

    def site_of(self, url: str) -> Site | None:
        """The crawled site `url` belongs to, if any."""
        last_url, last_site = self._last
        if url != last_url:
            last_site = self._index.site_for_url(url)
            self._last = (url, last_site)
        return last_site

    def admit(self, url: str, hop: str, hops: str, count: bool = True) -> str | None:
        """None if `url`, found by a hop of type `hop` ("L" link, "E" requisite, "P" sitemap)
        at hop path `hops`, may be fetched; else the reason it may not. Admitted pages count
        against their site's limit."""
        if self.max_url_length and len(url) > self.max_url_length:
            return "limit:url-length"
        parts = urlsplit(url)
        if hop == "E":
            if len(hops) - len(hops.rstrip("E")) >= MAX_EMBED_CHAIN:
                return "limit:depth"
            return self._trap(parts)
        site = self.site_of(url)
        if site is None:
            return "scope"
        if hop == "P":
            return self._trap(parts)
        if hops.count("L") + 1 > self.limits.max_depth:
            return "limit:depth"
        trap = self._trap(parts)
        if trap:
            return trap
        if self.pages[site.name] >= self._max_pages[site.name]:
            return "limit:pages"
        if count:
            self.pages[site.name] += 1
        return None

    def mark_done(self, url: str) -> None:
        """Count a page fetched before (a resumed crawl) against its site's limit."""
        site = self.site_of(url)
        if site is not None:
            self.pages[site.name] += 1
            self.count_variant(url)

    def count_variant(self, url: str) -> None:
        """`url`'s query counts against its path's variants (a URL fetched before, or
        admitted by another worker of a shared crawl), as if admitted here."""
        if "?" in url:
            parts = urlsplit(url)
            if parts.query:
                self._variants(parts).add(parts.query)

    def _variants(self, parts) -> set[str]:
        """The queries admitted so far for the path of `parts` (a urlsplit result)."""
        return self._queries[parts.hostname or "", parts.path]

    def _trap(self, parts) -> str | None:
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) > self.limits.max_path_segments:
            return "trap:path-depth"
        if segments and max(Counter(segments).values()) > self.limits.max_repeated_segments:
            return "trap:repeated-segment"
        if parts.query:
            variants = self._variants(parts)
            if parts.query not in variants:
                if len(variants) >= self.limits.max_query_variants:
                    return "trap:query-variants"
                variants.add(parts.query)
        return None
