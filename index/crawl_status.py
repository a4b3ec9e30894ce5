"""Whether a crawl covered its ground: finished, and reached every site it set out to crawl.

Read from the summary the crawler writes beside a crawl's WARCs when it ends. A crawl stopped
by Ctrl-C and not resumed, killed (no summary at all), or that captured nothing of one of its
sites (its proxy was down, the site did not answer) is incomplete: what it did not capture
says nothing about what the sites held, so comparisons skip it by default and, when asked
for it, never call a page removed because this crawl did not reach it. An imported batch of
WARCs has no summary to judge by and counts as complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from index.collection import Collection
from index.errors import UsageError

SUMMARY_NAME = "summary.json"
OTHER_SITE = "(other)"  # where the summary counts URLs of no site of the network


@dataclass(frozen=True)
class CrawlStatus:
    """What a crawl covered. `sites`: the sites it crawled (None when not known: an imported
    batch); `unreached`: those of which it captured nothing."""

    crawl: str
    finished: bool = True
    why: str | None = None  # what makes the crawl incomplete, for people
    sites: frozenset[str] | None = None
    unreached: frozenset[str] = frozenset()
    listed: bool = False  # it fetched given URLs only (the pages `palimpsest monitor` chose)

    @property
    def complete(self) -> bool:
        return self.finished and not self.unreached

    def not_reached(self, site: str | None) -> str | None:
        """Why a page of `site` that this crawl did not capture may still have been there:
        the crawl stopped early, reached nothing of the site, or did not crawl it."""
        if not self.finished:
            return f"crawl {self.crawl} was {self.why}"
        if site in self.unreached:
            return f"crawl {self.crawl} captured nothing of {site}"
        if self.sites is not None and site not in self.sites:
            return f"crawl {self.crawl} did not crawl {site or 'this site'}"
        if self.listed:
            return f"crawl {self.crawl} fetched only the pages it was given (those due)"
        return None

    def to_json(self) -> dict[str, Any]:
        return {"crawl": self.crawl, "complete": self.complete, "why": self.why,
                "unreached": sorted(self.unreached)}


def crawl_status(collection: Collection, crawl: str) -> CrawlStatus:
    """The status of `crawl` (a crawl id, or the name of an imported batch)."""
    try:
        crawl_dir = collection.crawl_dir(crawl)
    except UsageError:
        return CrawlStatus(crawl)  # an imported batch
    if not crawl_dir.is_dir():
        return CrawlStatus(crawl)
    try:
        summary = json.loads((crawl_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CrawlStatus(crawl, finished=False,
                           why="interrupted (no summary: killed, or still running)")
    except (OSError, ValueError):
        return CrawlStatus(crawl, finished=False, why="of unknown state (unreadable summary)")
    return status_from_summary(crawl, summary)


def status_from_summary(crawl: str, summary: dict[str, Any]) -> CrawlStatus:
    """The status of `crawl` from its summary."""
    sites = summary.get("sites") or {}
    unreached = frozenset(name for name, site in sites.items()
                          if not site.get("captures") and name != OTHER_SITE)
    reason = summary.get("finish_reason")
    finished = reason == "finished"
    why = None if finished else f"stopped before the end ({reason or 'no reason given'})"
    if finished and unreached:
        why = "without a capture of " + ", ".join(sorted(unreached))
    return CrawlStatus(crawl, finished, why, frozenset(sites), unreached,
                       listed=bool(summary.get("listed")))
