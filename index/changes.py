"""What changed across the network between two crawls, and where watched phrases appeared or
disappeared: the change report (`palimpsest changes`, `/changes`, `/api/changes`).

Pages are HTML captures. Payload digests from the catalog tell unchanged pages apart at no
cost; only pages whose payload differs are read and compared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

from index.catalog import Capture, Catalog
from index.collection import Collection
from index.config import NetworkConfig, Watch
from index.diff import Options, compare, load_version, rules_for
from index.errors import UsageError

HTML = ("text/html", "application/xhtml+xml")


def crawl_pair(catalog: Catalog, from_crawl: str | None, to_crawl: str | None
               ) -> tuple[str, str]:
    """The two crawls to compare: those asked for, else the last two."""
    crawls = catalog.crawls()
    for crawl in (from_crawl, to_crawl):
        if crawl and crawl not in crawls:
            raise UsageError(f"no crawl {crawl!r} in the catalog (crawls: {', '.join(crawls)})")
    if from_crawl and to_crawl:
        return from_crawl, to_crawl
    if len(crawls) < 2:
        raise UsageError("the change report needs two crawls; the catalog has "
                         f"{len(crawls)} (run `palimpsest crawl` and `palimpsest index`)")
    if to_crawl:
        return crawls[crawls.index(to_crawl) - 1], to_crawl
    if from_crawl:
        later = crawls[crawls.index(from_crawl) + 1:]
        return from_crawl, later[-1] if later else from_crawl
    return crawls[-2], crawls[-1]


def pages_of(catalog: Catalog, crawl: str) -> dict[str, Capture]:
    """The HTML pages a crawl reached (and error answers, which have other types), by URL:
    the last capture of each URL in the crawl."""
    pages: dict[str, Capture] = {}
    for capture in catalog.by_crawl(crawl):
        if capture.mime in HTML or (capture.status or 0) >= 400:
            pages[capture.url] = capture
    return pages


def change_report(collection: Collection, from_crawl: str | None = None,
                  to_crawl: str | None = None, config: NetworkConfig | None = None
                  ) -> dict[str, Any]:
    """The changes JSON object of DESIGN.md, with per-site sections and watched phrases."""
    if config is None and collection.config_path.exists():
        config = collection.load_config()
    with Catalog.open(collection) as catalog:
        old_crawl, new_crawl = crawl_pair(catalog, from_crawl, to_crawl)
        old, new = pages_of(catalog, old_crawl), pages_of(catalog, new_crawl)
    ok_old = {u: c for u, c in old.items() if _ok(c) and c.mime in HTML}
    ok_new = {u: c for u, c in new.items() if _ok(c) and c.mime in HTML}
    added = [_entry(c) for u, c in sorted(ok_new.items()) if u not in ok_old]
    removed = []
    for url, capture in sorted(ok_old.items()):
        if url not in ok_new:
            after = new.get(url)
            removed.append({**_entry(capture), "after": after.status if after else None,
                            "why": f"answered {after.status}" if after else "not reached"})
    changed, unchanged = [], 0
    for url in sorted(set(ok_old) & set(ok_new)):
        a, b = ok_old[url], ok_new[url]
        if a.digest == b.digest:
            unchanged += 1
            continue
        diff = compare(collection, a, b, Options(rules=rules_for(config, url)))
        if diff["ratio"] == 0 and not diff["links"]["added"] and not diff["links"]["removed"] \
                and not _meaningful(diff["metadata"]):
            unchanged += 1  # the bytes differ, the page does not (or only its noise)
            continue
        changed.append({**_entry(b), "ratio": diff["ratio"], "from": a.timestamp,
                        "diff": diff["receipt"]["permalink"],
                        "title_changed": "title" in diff["metadata"],
                        "links_added": len(diff["links"]["added"]),
                        "links_removed": len(diff["links"]["removed"])})
    changed.sort(key=lambda e: (-e["ratio"], e["url"]))
    status_changes = [{"url": u, "from": old[u].status, "to": new[u].status, "site": new[u].site}
                      for u in sorted(set(old) & set(new)) if old[u].status != new[u].status]
    report = {"from": old_crawl, "to": new_crawl, "added": added, "removed": removed,
              "changed": changed, "status_changes": status_changes, "unchanged": unchanged}
    report["sites"] = _by_site(report)
    report["watch"] = {w.name: watch_report(collection, w, ok_old, ok_new)
                       for w in (config.watch if config else ())}
    return report


def watch_report(collection: Collection, watch: Watch, old: dict[str, Capture],
                 new: dict[str, Capture]) -> dict[str, Any]:
    """Where a watched phrase was before and after: pages carrying it, where it appeared and
    disappeared (with the diff), and each site's coverage."""
    pattern = watch_pattern(watch)
    carrying_old = {u for u, c in old.items() if _carries(collection, c, pattern)}
    carrying_new = {u for u, c in new.items() if _carries(collection, c, pattern)}
    both = set(old) & set(new)
    coverage: dict[str, dict[str, Any]] = defaultdict(lambda: {"pages": 0, "carrying": 0})
    for url, capture in new.items():
        site = coverage[capture.site or "(other)"]
        site["pages"] += 1
        site["carrying"] += url in carrying_new
    for site in coverage.values():
        site["share"] = round(site["carrying"] / site["pages"], 4) if site["pages"] else 0.0

    def moves(urls: set[str]) -> list[dict[str, Any]]:
        return [{"url": u, "site": new[u].site, "from": old[u].timestamp,
                 "to": new[u].timestamp,
                 "diff": f"/diff/{old[u].timestamp}/{new[u].timestamp}/{u}"} for u in sorted(urls)]

    return {"phrase": watch.phrase, "pattern": watch.pattern,
            "pages_before": len(carrying_old), "pages_after": len(carrying_new),
            "appeared": moves((carrying_new - carrying_old) & both),
            "disappeared": moves((carrying_old - carrying_new) & both),
            "coverage": dict(sorted(coverage.items()))}


def watch_pattern(watch: Watch) -> re.Pattern:
    if watch.pattern:
        try:
            return re.compile(watch.pattern)
        except re.error as exc:
            raise UsageError(f"watch {watch.name!r}: bad pattern: {exc}") from None
    # a phrase matches whatever the whitespace between its words
    return re.compile(r"\s+".join(map(re.escape, (watch.phrase or "").split())), re.I)


@lru_cache(maxsize=20_000)
def _carries(collection: Collection, capture: Capture, pattern: re.Pattern) -> bool:
    # a capture's payload never changes: the answer can be remembered between reports
    version = load_version(collection, capture)
    return bool(version.text and pattern.search(version.text.full_text))


def _ok(capture: Capture) -> bool:
    return capture.status is not None and 200 <= capture.status < 300


def _meaningful(metadata: dict[str, Any]) -> bool:
    # a new Date or Last-Modified alone is not a change of the page
    return any(not name.startswith("header:") for name in metadata)


def _entry(capture: Capture) -> dict[str, Any]:
    return {"url": capture.url, "site": capture.site, "timestamp": capture.timestamp,
            "status": capture.status}


def _by_site(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sites: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"added": [], "removed": [], "changed": [], "status_changes": []})
    for key in ("added", "removed", "changed", "status_changes"):
        for entry in report[key]:
            sites[entry.get("site") or "(other)"][key].append(entry["url"])
    return dict(sorted(sites.items()))
