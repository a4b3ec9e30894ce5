"""What changed across the network between two crawls: the change report (`palimpsest
changes`, `/changes`, `/api/changes`), with each site's section and the watched phrases.

Pages are HTML captures that answered 2xx. Payload digests from the catalog tell unchanged
pages apart at no cost; only pages whose payload differs are read and compared, and a page
whose bytes differ but whose text, links and metadata do not (a new token, noise the rules
remove) counts as unchanged. A page one crawl did not fetch because of that crawl's own limits
(its crawl log says so: a trap guard, the page or depth limit) or because that crawl is
incomplete (stopped early, or it captured nothing of the page's site) is neither added nor
removed. Incomplete crawls are skipped unless asked for by name.

Each changed page carries excerpts of its first few changes (the words deleted and inserted,
with a little context), and crawls are named by when they started, for people to read.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from index.catalog import Capture, Catalog
from index.collection import Collection
from index.compare.crawl_status import CrawlStatus, crawl_status
from index.compare.diff import Options, compare, load_version, rules_for
from index.compare.excerpts import excerpts
from index.compare.watch import html_pages, watch_between
from index.config import NetworkConfig
from index.errors import QueryError, UsageError

LOG_NAME = "crawl-log.jsonl"  # written by the crawler into each crawl's folder
_LIMITS = ("limit:", "trap:")  # crawl-log reasons that are the crawl's, not the site's
# a changed page's excerpts in the report: its first changes, each cut short, a few words of
# context either side (the diff itself shows them all)
EXCERPTS_SHOWN, EXCERPT_WORDS, EXCERPT_CONTEXT = 3, 24, 6
# the kinds of change a report can be narrowed to, and the report's list of each
KINDS = {"added": "added", "removed": "removed", "changed": "changed",
         "status": "status_changes", "limited": "crawl_limited"}
_CRAWL_ID = re.compile(r"^(\d{14})(?:-(\d+))?$")  # a crawl folder's id: its UTC start time


def crawl_pair(crawls: list[str], complete: set[str], from_crawl: str | None,
               to_crawl: str | None) -> tuple[str, str]:
    """The two crawls to compare: those asked for, else the last two complete ones (or the one
    given and its nearest complete neighbour). `crawls` oldest first."""
    for crawl in (from_crawl, to_crawl):
        if crawl and crawl not in crawls:
            raise UsageError(f"no crawl {crawl!r} in the catalog (crawls: "
                             f"{', '.join(crawls) or 'none'})")
    if from_crawl and to_crawl:
        return from_crawl, to_crawl
    usable = [c for c in crawls if c in complete]
    if to_crawl:
        before = [c for c in usable if crawls.index(c) < crawls.index(to_crawl)]
        return before[-1] if before else to_crawl, to_crawl
    if from_crawl:
        later = [c for c in usable if crawls.index(c) > crawls.index(from_crawl)]
        return from_crawl, later[-1] if later else from_crawl
    if len(usable) < 2:
        skipped = len(crawls) - len(usable)
        raise UsageError(
            f"the change report needs two complete crawls; the catalog has {len(usable)}"
            + (f" and {skipped} incomplete (name one with --from/--to to compare it anyway, "
               "or finish it with `palimpsest crawl --resume`)" if skipped else
               " (run `palimpsest crawl` and `palimpsest index`)"))
    return usable[-2], usable[-1]


def change_report(collection: Collection, from_crawl: str | None = None,
                  to_crawl: str | None = None, config: NetworkConfig | None = None
                  ) -> dict[str, Any]:
    """The changes JSON object of DESIGN.md, with `status_changes`, `crawl_limited`, per-site
    sections (`sites`) and the watched phrases (`watch`)."""
    if config is None and collection.config_path.exists():
        config = collection.load_config()
    with Catalog.open(collection) as catalog:
        crawls = catalog.crawls()
        statuses = {c: crawl_status(collection, c) for c in crawls}
        for asked in {from_crawl, to_crawl} - set(crawls) - {None}:
            status = crawl_status(collection, asked)
            if not status.complete:  # a crawl folder, but not one capture in the catalog
                raise UsageError(f"crawl {asked} is incomplete ({status.why}) and captured "
                                 "nothing: there is nothing of it to compare")
        old_crawl, new_crawl = crawl_pair(
            crawls, {c for c, s in statuses.items() if s.complete}, from_crawl, to_crawl)
        old_all, new_all = _last_by_url(catalog.by_crawl(old_crawl)), _last_by_url(
            catalog.by_crawl(new_crawl))
    old, new = html_pages(list(old_all.values())), html_pages(list(new_all.values()))
    log_old, log_new = _crawl_log(collection, old_crawl), _crawl_log(collection, new_crawl)
    status_old, status_new = statuses[old_crawl], statuses[new_crawl]
    report: dict[str, Any] = {"from": old_crawl, "to": new_crawl, "crawls": crawls,
                              "crawl_names": crawl_names(crawls),
                              "incomplete": {c: s.to_json() for c, s in statuses.items()
                                             if not s.complete},
                              "added": [], "removed": [], "changed": [], "status_changes": [],
                              "unchanged": 0, "crawl_limited": []}
    for url in sorted(new.keys() - old.keys()):
        missed = None if url in old_all else _missed(status_old, log_old, new[url])
        if missed:
            report["crawl_limited"].append({**_entry(new[url]), "not_fetched_in": old_crawl,
                                            "why": missed})
        else:
            report["added"].append({**_entry(new[url]), "title": _title(collection, new[url])})
    for url in sorted(old.keys() - new.keys()):
        after = new_all.get(url)
        missed = None if after else _missed(status_new, log_new, old[url])
        if missed:
            report["crawl_limited"].append({**_entry(old[url]), "not_fetched_in": new_crawl,
                                            "why": missed})
            continue
        if after is not None:
            why = f"answered {after.status}" + (f" ({after.mime})" if after.status and
                                                after.status < 300 else "")
        else:
            excluded = log_new.why_not_fetched(old[url])
            why = f"not fetched: {excluded}" if excluded else "not reached"
        report["removed"].append({**_entry(old[url]), "title": _title(collection, old[url]),
                                  "after": after.status if after else None, "why": why})
    unchanged_by_site: dict[str, int] = defaultdict(int)
    for url in sorted(old.keys() & new.keys()):
        entry = _changed(collection, old[url], new[url], config)
        if entry is None:
            report["unchanged"] += 1
            unchanged_by_site[new[url].site or "(other)"] += 1
        else:
            report["changed"].append(entry)
    report["changed"].sort(key=lambda e: (-e["ratio"], e["url"]))
    report["status_changes"] = [
        {"url": u, "site": new_all[u].site, "from": old_all[u].status, "to": new_all[u].status}
        for u in sorted(old_all.keys() & new_all.keys()) if old_all[u].status != new_all[u].status]
    report["sites"] = _by_site(report, old, new, unchanged_by_site)
    report["watch"] = {w.name: watch_between(collection, w, old, new)
                       for w in (config.watch if config else ())}
    # on each changed page, the watched phrases it gained or lost, to see them in the list
    # (and the diff of the full text that shows it, where the page's own diff may not)
    moved: dict[tuple[str, str], list[str]] = defaultdict(list)
    shown_in: dict[str, str] = {}
    for name, watched in report["watch"].items():
        for move in ("appeared", "disappeared"):
            for m in watched[move]:
                moved[move, m["url"]].append(name)
                shown_in[m["url"]] = m["diff"]
    for entry in report["changed"]:
        entry["watch"] = {move: moved.get((move, entry["url"]), [])
                          for move in ("appeared", "disappeared")}
        entry["watch_diff"] = shown_in.get(entry["url"])
    return report


def narrowed(report: dict[str, Any], sites: Sequence[str] = (), kinds: Sequence[str] = (),
             min_ratio: float = 0.0) -> dict[str, Any]:
    """The report with only the rows of these `sites` and `kinds` of change (names of KINDS;
    all when none is given) and, of the changed pages, those with a ratio of at least
    `min_ratio`; `filters` says what was asked. Site sections without a row left are dropped
    unless their site was asked for. With no filter, the report itself."""
    if set(kinds) >= set(KINDS):  # every kind asked for, as a form with each box ticked asks
        kinds = ()
    if not (sites or kinds or min_ratio):
        return report
    for kind in kinds:
        if kind not in KINDS:
            raise QueryError(f"no kind of change {kind!r} (kinds: {', '.join(KINDS)})")
    for site in sites:
        if site not in report["sites"]:
            raise QueryError(f"no site {site!r} in this report (sites: "
                             f"{', '.join(report['sites']) or 'none'})")
    if not 0 <= min_ratio <= 1:
        raise QueryError("min_ratio is a share of the words, from 0 to 1")

    def kept(kind: str, entry: dict[str, Any]) -> bool:
        return ((not sites or (entry.get("site") or "(other)") in sites)
                and (not kinds or kind in kinds)
                and (kind != "changed" or entry["ratio"] >= min_ratio))

    narrow = {**report, "filters": {"site": list(sites), "kind": list(kinds),
                                    "min_ratio": min_ratio}}
    shown: dict[str, set[str]] = {}
    for kind, key in KINDS.items():
        narrow[key] = [e for e in report[key] if kept(kind, e)]
        shown[key] = {e["url"] for e in narrow[key]}
    narrow["sites"] = {}
    for site, section in report["sites"].items():
        rows = {key: [u for u in section[key] if u in shown[key]] for key in KINDS.values()}
        if site in sites or (not sites and any(rows.values())):
            narrow["sites"][site] = {**section, **rows}
    return narrow


def crawl_names(crawls: list[str]) -> dict[str, str]:
    """Each crawl's name for people: when it started ("2 Dec 2026 04:33 UTC"; with the seconds
    where two crawls started in one minute, and "#2" where in one second). A batch of imported
    WARCs keeps its own name."""
    ids = {c: found for c in crawls if (found := _CRAWL_ID.match(c))}
    minutes = Counter(found.group(1)[:12] for found in ids.values())
    names = {}
    for crawl in crawls:
        found = ids.get(crawl)
        if not found:
            names[crawl] = crawl
            continue
        start = datetime.strptime(found.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        seconds = ":%S" if minutes[found.group(1)[:12]] > 1 else ""
        names[crawl] = f"{start.day} {start:%b %Y %H:%M{seconds}} UTC" + (
            f" #{int(found.group(2)) + 1}" if found.group(2) else "")
    return names


def _changed(collection: Collection, a: Capture, b: Capture, config: NetworkConfig | None
             ) -> dict[str, Any] | None:
    """The report's entry for a page found in both crawls, or None if it did not change."""
    if a.digest == b.digest:
        return None
    diff = compare(collection, a, b, Options(rules=rules_for(config, b.url)))
    metadata = {k: v for k, v in diff["metadata"].items() if not k.startswith("header:")}
    if not diff["changes"] and not diff["links"]["added"] and not diff["links"]["removed"] \
            and not metadata:
        return None  # the bytes differ, the page does not (or only in its noise)
    return {**_entry(b), "title": diff["to"]["title"], "ratio": diff["ratio"],
            "changes": diff["changes"], "from": a.timestamp, "diff": diff["receipt"]["permalink"],
            "excerpts": excerpts(diff["text"], EXCERPT_CONTEXT, EXCERPT_WORDS)[:EXCERPTS_SHOWN],
            "title_changed": "title" in metadata, "old_title": diff["from"]["title"],
            "text": diff["options"]["text"], "text_why": diff["options"]["text_why"],
            "links_added": len(diff["links"]["added"]),
            "links_removed": len(diff["links"]["removed"])}


def _missed(status: CrawlStatus, log: _CrawlLog, capture: Capture) -> str | None:
    """Why a crawl has no capture of this page for a reason of its own, not the site's: it
    stopped early, reached nothing of the site, or a limit of its own cut the page off."""
    incomplete = status.not_reached(capture.site)
    if incomplete:
        return incomplete
    why = log.why_not_fetched(capture)
    return why if why and why.startswith(_LIMITS) else None


def _last_by_url(captures: list[Capture]) -> dict[str, Capture]:
    # by_crawl is ordered by URL then time: the last capture of a URL in the crawl wins
    return {c.url: c for c in captures}


@dataclass
class _CrawlLog:
    """What a crawl's log says it did not fetch, and why."""

    urls: dict[str, str] = field(default_factory=dict)  # URL -> why it was excluded
    trapped: set[tuple[str, str]] = field(default_factory=set)  # (host, path): query trap hit
    full: set[str] = field(default_factory=set)  # sites that reached their page limit

    def why_not_fetched(self, capture: Capture) -> str | None:
        """Why the crawl did not fetch this URL, as far as its log tells: the URL itself
        excluded, or its path's query variants cut by the trap guard, or its site full."""
        if capture.url in self.urls:
            return self.urls[capture.url]
        parts = urlsplit(capture.url)
        if parts.query and (parts.hostname or "", parts.path) in self.trapped:
            return "trap:query-variants"
        if capture.site in self.full:
            return "limit:pages"
        return None


def _crawl_log(collection: Collection, crawl: str) -> _CrawlLog:
    """The crawl's log, read for its exclusions; empty for an imported batch (no log)."""
    found = _CrawlLog()
    try:
        log = collection.crawl_dir(crawl) / LOG_NAME
    except UsageError:
        return found
    if not log.is_file():
        return found
    with open(log, encoding="utf-8") as lines:
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a crawl cut off mid-write
            if event.get("outcome") != "excluded" or not event.get("url"):
                continue
            why = str(event.get("why") or "excluded")
            found.urls[event["url"]] = why
            if why == "trap:query-variants":
                parts = urlsplit(event["url"])
                found.trapped.add((parts.hostname or "", parts.path))
            elif why == "limit:pages" and event.get("site"):
                found.full.add(event["site"])
    return found


def _title(collection: Collection, capture: Capture) -> str:
    version = load_version(collection, capture)
    return version.text.title if version.text else ""


def _entry(capture: Capture) -> dict[str, Any]:
    return {"url": capture.url, "site": capture.site, "timestamp": capture.timestamp,
            "status": capture.status}


def _by_site(report: dict[str, Any], old: dict[str, Capture], new: dict[str, Capture],
             unchanged: dict[str, int]) -> dict[str, dict[str, Any]]:
    sites: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"pages_before": 0, "pages_after": 0, "added": [], "removed": [],
                 "changed": [], "status_changes": [], "crawl_limited": [], "unchanged": 0})
    for pages, key in ((old, "pages_before"), (new, "pages_after")):
        for capture in pages.values():
            sites[capture.site or "(other)"][key] += 1
    for key in ("added", "removed", "changed", "status_changes", "crawl_limited"):
        for entry in report[key]:
            sites[entry.get("site") or "(other)"][key].append(entry["url"])
    for site, count in unchanged.items():
        sites[site]["unchanged"] = count
    return dict(sorted(sites.items()))
