"""What changed across the network between two crawls: the change report (`palimpsest
changes`, `/changes`, `/api/changes`), with each site's section and the watched phrases.

Pages are HTML captures that answered 2xx. Payload digests from the catalog tell unchanged
pages apart at no cost; only pages whose payload differs are read and compared, and a page
whose bytes differ but whose text, links and metadata do not (a new token, noise the rules
remove) counts as unchanged. A page one crawl did not fetch because of that crawl's own limits
(its crawl log says so: a trap guard, the page or depth limit) or because that crawl is
incomplete (stopped early, or it captured nothing of the page's site) is neither added nor
removed. Incomplete crawls are skipped unless asked for by name. A crawl of some pages only
(`palimpsest monitor`'s of the pages due; its summary says `listed`) leaves the rest alone: as
the later side, each page it fetched is compared with its own last capture before it; as the
earlier side, it stands for the network as it left it (the last whole crawl before it, with
what it and the crawls of some pages between fetched over it).

Each changed page carries excerpts of its first few changes (the words deleted and inserted,
with a little context), and crawls are named by when they started, for people to read. A page a
browser captured in both crawls also carries `visual`, the share of its full-page screenshot's
pixels that differ (index.compare.visual, computed once per pair), and `by_visual_change`
orders the changed pages by it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from index.catalog import Capture, Catalog
from index.collection import Collection
from index.compare.crawls import crawl_names, crawl_pair
from index.compare.diff import Options, compare, rules_for
from index.compare.excerpts import excerpts
from index.compare.permalinks import capture_url, report_url
from index.compare.terminal import bold
from index.compare.versions import load_version
from index.compare.visual import visual_diff
from index.compare.watch import html_pages, watch_between
from index.config import NetworkConfig
from index.crawl_log import crawl_entries
from index.crawl_status import CrawlStatus, crawl_status
from index.errors import UsageError

_LIMITS = ("limit:", "trap:")  # crawl-log reasons that are the crawl's, not the site's
# a changed page's excerpts in the report: its first changes, each cut short, a few words of
# context either side (the diff itself shows them all)
EXCERPTS_SHOWN, EXCERPT_WORDS, EXCERPT_CONTEXT = 3, 24, 6
MOVES = ("appeared", "disappeared")  # what a watched phrase did on a page


@dataclass(frozen=True)
class _Crawl:
    """One side of the report: a crawl, what it captured and what it says it did not fetch."""

    crawl: str
    status: CrawlStatus
    captures: dict[str, Capture]  # the last capture of each URL, whatever it answered
    pages: dict[str, Capture]  # of those, the HTML pages that answered 2xx
    log: _CrawlLog


def change_report(collection: Collection, from_crawl: str | None = None,
                  to_crawl: str | None = None, config: NetworkConfig | None = None,
                  *, since_each_page: bool = False) -> dict[str, Any]:
    """The changes JSON object of DESIGN.md, with `status_changes`, `crawl_limited`, per-site
    sections (`sites`) and the watched phrases (`watch`).

    With `since_each_page` (and `to_crawl`), each page `to_crawl` captured is compared with
    its own last capture by a complete crawl before it, not with one earlier crawl: what a
    crawl of some pages only (`palimpsest monitor` fetches those due) changed. Nothing is
    then removed for not being reached, and `from` is the latest crawl compared with."""
    if config is None and collection.config_path.exists():
        config = collection.load_config()
    with Catalog.open(collection) as catalog:
        crawls = catalog.crawls()
        statuses = {c: crawl_status(collection, c) for c in crawls}
        earlier, to = _pair(collection, crawls, statuses, from_crawl, to_crawl)
        # a crawl of some pages only (those `palimpsest monitor` found due) is compared page
        # by page with what came before it, and stands as the network it left unfetched
        since_each_page = since_each_page or (statuses[to].listed and not from_crawl)
        if since_each_page:
            new = _read_crawl(collection, catalog, to, statuses[to])
            old = _captured_before(catalog, new, statuses, crawls)
        else:
            new = _read_crawl(collection, catalog, to, statuses[to])
            old = (_as_of(collection, catalog, earlier, statuses, crawls)
                   if statuses[earlier].listed else
                   _read_crawl(collection, catalog, earlier, statuses[earlier]))
        shots = catalog.page_resources([*old.pages.values(), *new.pages.values()], "fullPage")
    report: dict[str, Any] = {"from": old.crawl, "to": new.crawl, "crawls": crawls,
                              "crawl_names": crawl_names(crawls),
                              "incomplete": {c: s.to_json() for c, s in statuses.items()
                                             if not s.complete},
                              "added": [], "removed": [], "changed": [], "status_changes": [],
                              "unchanged": 0, "crawl_limited": []}
    _add_new_pages(report, collection, old, new)
    _add_pages_gone(report, collection, old, new)
    unchanged_by_site = _add_pages_in_both(report, collection, old, new, config, shots)
    report["status_changes"] = [
        {"url": u, "site": new.captures[u].site, "from": old.captures[u].status,
         "to": new.captures[u].status}
        for u in sorted(old.captures.keys() & new.captures.keys())
        if old.captures[u].status != new.captures[u].status]
    report["sites"] = _by_site(report, old.pages, new.pages, unchanged_by_site)
    report["watch"] = {w.name: watch_between(collection, w, old.pages, new.pages)
                       for w in (config.watch if config else ())}
    _mark_watched(report)
    if since_each_page:
        report["since_each_page"] = True
    return report


def _pair(collection: Collection, crawls: list[str], statuses: dict[str, CrawlStatus],
          from_crawl: str | None, to_crawl: str | None) -> tuple[str, str]:
    """The two crawls to compare (see `crawl_pair`); a crawl asked for that has a folder but
    not one capture in the catalog is an error that says so."""
    for asked in {from_crawl, to_crawl} - set(crawls) - {None}:
        status = crawl_status(collection, asked)
        if not status.complete:  # a crawl folder, but not one capture in the catalog
            raise UsageError(f"crawl {asked} is incomplete ({status.why}) and captured "
                             "nothing: there is nothing of it to compare")
    return crawl_pair(crawls, {c for c, s in statuses.items() if s.complete}, from_crawl,
                      to_crawl)


def _read_crawl(collection: Collection, catalog: Catalog, crawl: str, status: CrawlStatus
                ) -> _Crawl:
    # by_crawl is ordered by URL then time: the last capture of a URL in the crawl wins
    captures = {c.url: c for c in catalog.by_crawl(crawl)}
    return _Crawl(crawl, status, captures, html_pages(list(captures.values())),
                  _crawl_log(collection, crawl))


def _as_of(collection: Collection, catalog: Catalog, crawl: str,
           statuses: dict[str, CrawlStatus], crawls: list[str]) -> _Crawl:
    """The network as it stood after `crawl`, a crawl of some pages only: the last complete
    crawl of the sites before it, with what the complete crawls of some pages since then
    (`crawl` the last) captured over it. Named `crawl`; what it did not see is the base's."""
    upto = crawls[:crawls.index(crawl) + 1]
    base = next((c for c in reversed(upto)
                 if statuses[c].complete and not statuses[c].listed), None)
    captures: dict[str, Capture] = {}
    for c in upto[upto.index(base) if base else 0:]:
        if c == base or (statuses[c].complete and statuses[c].listed):
            captures.update((capture.url, capture) for capture in catalog.by_crawl(c))
    status = statuses[base] if base else statuses[crawl]
    return _Crawl(crawl, status, captures, html_pages(list(captures.values())),
                  _crawl_log(collection, base) if base else _CrawlLog())


def _captured_before(catalog: Catalog, new: _Crawl, statuses: dict[str, CrawlStatus],
                     crawls: list[str]) -> _Crawl:
    """Each URL `new` captured, as last captured by a complete crawl before it: the earlier
    side of a report `since_each_page`, named after the latest crawl it draws on."""
    captures = {}
    for url, capture in new.captures.items():
        earlier = [c for c in catalog.captures(url) if c.crawl != new.crawl
                   and c.timestamp < capture.timestamp and statuses[c.crawl].complete]
        if earlier:
            captures[url] = earlier[-1]
    drawn = {c.crawl for c in captures.values()}
    crawl = max(drawn, key=crawls.index) if drawn else new.crawl
    return _Crawl(crawl, statuses[crawl], captures, html_pages(list(captures.values())),
                  _CrawlLog())


def _add_new_pages(report: dict[str, Any], collection: Collection, old: _Crawl, new: _Crawl
                   ) -> None:
    """Pages only the later crawl has: added, unless the earlier crawl missed them for a
    reason of its own."""
    for url in sorted(new.pages.keys() - old.pages.keys()):
        page = new.pages[url]
        missed = None if url in old.captures else _missed(old, page)
        if missed:
            report["crawl_limited"].append({**_entry(page), "not_fetched_in": old.crawl,
                                            "why": missed})
        else:
            report["added"].append({**_entry(page), "title": _title(collection, page)})


def _add_pages_gone(report: dict[str, Any], collection: Collection, old: _Crawl, new: _Crawl
                    ) -> None:
    """Pages only the earlier crawl has: removed (with what the later crawl got instead, or
    why it did not fetch them), unless the later crawl missed them for a reason of its own."""
    for url in sorted(old.pages.keys() - new.pages.keys()):
        page, after = old.pages[url], new.captures.get(url)
        missed = None if after else _missed(new, page)
        if missed:
            report["crawl_limited"].append({**_entry(page), "not_fetched_in": new.crawl,
                                            "why": missed})
            continue
        if after is not None:
            why = f"answered {after.status}" + (f" ({after.mime})" if after.status and
                                                after.status < 300 else "")
        else:
            excluded = new.log.why_not_fetched(page)
            why = f"not fetched: {excluded}" if excluded else "not reached"
        report["removed"].append({**_entry(page), "title": _title(collection, page),
                                  "after": after.status if after else None, "why": why})


def _add_pages_in_both(report: dict[str, Any], collection: Collection, old: _Crawl,
                       new: _Crawl, config: NetworkConfig | None,
                       shots: dict[int, Capture]) -> dict[str, int]:
    """Pages both crawls have: changed (largest change first) or unchanged; the unchanged
    counted per site, which this returns. `shots`: the full-page screenshots by page id."""
    unchanged_by_site: dict[str, int] = defaultdict(int)
    for url in sorted(old.pages.keys() & new.pages.keys()):
        entry = _changed(collection, old.pages[url], new.pages[url], config, shots)
        if entry is None:
            report["unchanged"] += 1
            unchanged_by_site[new.pages[url].site or "(other)"] += 1
        else:
            report["changed"].append(entry)
    report["changed"].sort(key=lambda e: (-e["ratio"], e["url"]))
    return unchanged_by_site


def _mark_watched(report: dict[str, Any]) -> None:
    """On each changed page, the watched phrases it gained or lost, to see them in the list
    (and the diff of the full text that shows it, where the page's own diff may not)."""
    moved: dict[tuple[str, str], list[str]] = defaultdict(list)
    shown_in: dict[str, str] = {}
    for name, watched in report["watch"].items():
        for move in MOVES:
            for m in watched[move]:
                moved[move, m["url"]].append(name)
                shown_in[m["url"]] = m["diff"]
    for entry in report["changed"]:
        entry["watch"] = {move: moved.get((move, entry["url"]), []) for move in MOVES}
        entry["watch_diff"] = shown_in.get(entry["url"])


def by_visual_change(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its changed pages ordered by the share of their screenshots' pixels
    that differ, largest first; pages without screenshots follow, largest text change first."""
    def order(e: dict[str, Any]) -> tuple[bool, float, float, str]:
        visual = e.get("visual")
        return visual is None, -(visual or 0), -e["ratio"], e["url"]

    return {**report, "changed": sorted(report["changed"], key=order), "sort": "visual"}


def _changed(collection: Collection, a: Capture, b: Capture, config: NetworkConfig | None,
             shots: dict[int, Capture]) -> dict[str, Any] | None:
    """The report's entry for a page found in both crawls, or None if it did not change."""
    if a.text_digest == b.text_digest:  # a browser capture's: its rendered DOM's
        return None
    diff = compare(collection, a, b, Options(rules=rules_for(config, b.url)))
    metadata = {k: v for k, v in diff["metadata"].items() if not k.startswith("header:")}
    looked = (visual_diff(collection, shots[a.id], shots[b.id])
              if a.id in shots and b.id in shots else None)
    if not diff["changes"] and not diff["links"]["added"] and not diff["links"]["removed"] \
            and not metadata and not (looked and looked.share):
        return None  # the bytes differ, the page does not (or only in its noise)
    return {**_entry(b), "title": diff["to"]["title"], "ratio": diff["ratio"],
            "changes": diff["changes"], "from": a.timestamp, "diff": diff["receipt"]["permalink"],
            "excerpts": excerpts(diff["text"], EXCERPT_CONTEXT, EXCERPT_WORDS)[:EXCERPTS_SHOWN],
            "title_changed": "title" in metadata, "old_title": diff["from"]["title"],
            "text": diff["options"]["text"], "text_why": diff["options"]["text_why"],
            "links_added": len(diff["links"]["added"]),
            "links_removed": len(diff["links"]["removed"]),
            "visual": looked.share if looked else None}


def _missed(crawl: _Crawl, capture: Capture) -> str | None:
    """Why a crawl has no capture of this page for a reason of its own, not the site's: it
    stopped early, reached nothing of the site, or a limit of its own cut the page off."""
    incomplete = crawl.status.not_reached(capture.site)
    if incomplete:
        return incomplete
    why = crawl.log.why_not_fetched(capture)
    return why if why and why.startswith(_LIMITS) else None


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
    for event in crawl_entries(collection, crawl):
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


def changes_notes(report: dict[str, Any]) -> list[str]:
    """What a reader of the plain-text report should know first (`palimpsest changes` writes
    it to stderr): the incomplete crawls, and whether the report compared or skipped them."""
    return [f"note: crawl {crawl} is incomplete ({status['why']}): "
            + ("pages it did not reach are not compared"
               if crawl in (report["from"], report["to"]) else "skipped")
            for crawl, status in report["incomplete"].items()]


def changes_text(report: dict[str, Any], base: str = "") -> str:
    """The plain-text form of a change report (what `palimpsest changes` prints): the totals,
    each site's pages added, removed, changed (with their first changes), status changes
    and pages not compared, then the watched phrases. Links start with `base`, the web UI's
    address (the config's [web] base_url), or are paths without it."""
    names = report["crawl_names"]
    lines = [f"Changes from crawl {report['from']} ({names[report['from']]}) to crawl "
             f"{report['to']} ({names[report['to']]}): "
             f"{len(report['added'])} added, {len(report['removed'])} removed, "
             f"{len(report['changed'])} changed, {report['unchanged']} unchanged\n"
             f"report: {base}{report_url(report['from'], report['to'])}"]
    for site, section in report["sites"].items():
        lines += _site_lines(report, site, section, base)
    for name, watch in report["watch"].items():
        lines += _watch_lines(name, watch)
    return "\n".join(lines)


def _site_lines(report: dict[str, Any], site: str, section: dict[str, Any], base: str
                ) -> list[str]:
    def of_site(key: str) -> list[dict[str, Any]]:
        return [e for e in report[key] if e["site"] == site]

    lines = [bold(f"\n{site}  ({section['pages_before']} -> {section['pages_after']} pages, "
                  f"{section['unchanged']} unchanged)")]
    lines += [f"  + added    {e['url']}  {base}{capture_url(e['timestamp'], e['url'])}"
              for e in of_site("added")]
    lines += [f"  - removed  {e['url']} ({e['why']})" for e in of_site("removed")]
    for e in of_site("changed"):
        moved = "".join(f'  ["{name}" {move}]' for move, watched in e["watch"].items()
                        for name in watched)
        lines.append(f"  ~ {100 * e['ratio']:5.1f}%   {e['url']}  {base}{e['diff']}{moved}")
        lines += ["        " + " ".join(part for part in (
            x["before"] and f"...{x['before']}", x["deleted"] and f"[-{x['deleted']}-]",
            x["inserted"] and f"{{+{x['inserted']}+}}", x["after"] and f"{x['after']}...")
            if part) for x in e["excerpts"]]
    lines += [f"  ! status   {e['from']} -> {e['to']}  {e['url']}"
              for e in of_site("status_changes")]
    lines += [f"  ? not compared  {e['url']} (crawl {e['not_fetched_in']}: {e['why']})"
              for e in of_site("crawl_limited")]
    return lines


def _watch_lines(name: str, watch: dict[str, Any]) -> list[str]:
    lines = [bold(f"\nwatch {name!r}: on {watch['pages_before']} pages before, "
                  f"{watch['pages_after']} after")]
    for move in ("disappeared", "appeared"):
        if watch[move]:  # each page is marked in its site's list above
            sites = Counter(m["site"] for m in watch[move])
            lines.append(f"  {move} on {len(watch[move])} pages: "
                         + ", ".join(f"{site} {n}" for site, n in sorted(sites.items())))
    for site, cover in watch["coverage"].items():
        before = cover.get("before", {"carrying": 0, "pages": 0})
        lines.append(f"  {site:<12} {before['carrying']}/{before['pages']} -> "
                     f"{cover['carrying']}/{cover['pages']} pages")
    return lines
