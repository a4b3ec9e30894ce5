"""Watched phrases: named phrases or patterns from the network config (`[[watch]]`), followed
across the network's crawls. For each: which pages carry it in each crawl, where it appeared
or disappeared (with the diff that shows it), and each site's coverage (pages carrying it /
pages). Looked for in the full visible text of each page's payload, where footers and
disclosure lines live.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

from index.catalog import Capture, Catalog
from index.collection import Collection
from index.compare.permalinks import diff_url
from index.compare.terminal import bold
from index.compare.versions import check_payload, read_version
from index.config import NetworkConfig, Watch
from index.crawl_status import crawl_status
from index.errors import UsageError
from index.extract import HTML_TYPES

_REMEMBERED = 100_000  # payloads (with a pattern) whose verdict is kept per process


def find_watch(config: NetworkConfig | None, name: str) -> Watch:
    """The watched phrase called `name` in the network config."""
    watches = config.watch if config else ()
    for watch in watches:
        if watch.name == name:
            return watch
    known = ", ".join(w.name for w in watches) or "none; add [[watch]] to the network config"
    raise UsageError(f"no watched phrase named {name!r} (watched: {known})")


def watch_pattern(watch: Watch) -> re.Pattern:
    """The regular expression a watch looks for: its pattern, or its phrase matched whatever
    the case and the whitespace between its words."""
    if watch.pattern:
        try:
            return re.compile(watch.pattern)
        except re.error as exc:
            raise UsageError(f"watch {watch.name!r}: bad pattern: {exc}") from None
    return re.compile(r"\s+".join(map(re.escape, (watch.phrase or "").split())), re.I)


def html_pages(captures: list[Capture]) -> dict[str, Capture]:
    """The HTML pages among `captures` that answered 2xx, by URL (the last capture of each)."""
    return {c.url: c for c in captures
            if c.mime in HTML_TYPES and c.status is not None and 200 <= c.status < 300
            and c.has_payload}


def carries(collection: Collection, capture: Capture, pattern: re.Pattern) -> bool:
    """Whether the full visible text of the capture's payload matches `pattern`."""
    check_payload(capture)
    if capture.rendered:  # a browser capture: the text is its rendered DOM's
        return _payload_carries(collection, capture.dom_file, capture.dom_offset,
                                capture.dom_length, capture.dom_digest, capture.url,
                                "text/html", 200, pattern)
    return _payload_carries(collection, capture.payload_file, capture.payload_offset,
                            capture.payload_length, capture.digest, capture.url,
                            capture.mime or "", capture.status or 0, pattern)


@lru_cache(maxsize=_REMEMBERED)
def _payload_carries(collection: Collection, payload_file: str, offset: int, length: int,
                     digest: str | None, url: str, mime: str, status: int,
                     pattern: re.Pattern) -> bool:
    # remembered by where the payload is: the captures of many crawls (revisits) share one,
    # and a payload never changes, so each is looked at once per process (the key is the
    # payload's name in the collection, not its resolved path: no file system call on a hit)
    text = read_version(collection.inside(payload_file), offset, length, digest, url, mime,
                        status, ())[2]
    return bool(text and pattern.search(text.full_text))


def watch_between(collection: Collection, watch: Watch, old: dict[str, Capture],
                  new: dict[str, Capture]) -> dict[str, Any]:
    """The watched phrase from one crawl's pages (`old`, by URL) to another's (`new`): pages
    carrying it before and after, where it appeared and disappeared on pages in both (each
    with the diff of the full text, where the change shows), and each site's coverage."""
    pattern = watch_pattern(watch)
    before = {u for u, c in old.items() if carries(collection, c, pattern)}
    after = {u for u, c in new.items() if carries(collection, c, pattern)}
    both = old.keys() & new.keys()
    coverage = _coverage(new, after)
    for site, figures in _coverage(old, before).items():
        coverage.setdefault(site, {"pages": 0, "carrying": 0, "share": 0.0})["before"] = figures
    return {
        "phrase": watch.phrase, "pattern": watch.pattern,
        "pages_before": len(before), "pages_after": len(after),
        "appeared": _moves(collection, old, new, (after - before) & both),
        "disappeared": _moves(collection, old, new, (before - after) & both),
        "on_new_pages": sorted(after - both), "on_pages_gone": sorted(before - both),
        "carrying": {"before": sorted(before), "after": sorted(after)},
        "coverage": dict(sorted(coverage.items())),
    }


def watch_history(collection: Collection, watch: Watch, *, incomplete: bool = False
                  ) -> dict[str, Any]:
    """The watched phrase in every complete crawl (with `incomplete`, in every crawl): pages
    carrying it, coverage per site, and where it appeared or disappeared since the crawl
    before. A crawl that stopped early or reached nothing of a site would show the phrase's
    coverage falling where the crawl only fell short: it is skipped and named in `skipped`,
    or, when asked for, marked; either way a page it did not reach is no disappearance. A
    crawl of some pages only (`listed`: the monitor's) counts the pages it left alone as they
    were, and the next crawl is compared with that."""
    pattern = watch_pattern(watch)
    with Catalog.open(collection) as catalog:
        statuses = [crawl_status(collection, crawl) for crawl in catalog.crawls()]
        crawls = [(status, html_pages(catalog.by_crawl(status.crawl))) for status in statuses
                  if incomplete or status.complete]
    history, previous, carried = [], None, set()
    for status, fetched in crawls:
        crawl = status.crawl
        carrying = {u for u, c in fetched.items() if carries(collection, c, pattern)}
        pages = fetched
        if status.listed and previous is not None:
            # a crawl of some pages only: the network as it left it, the rest as before
            pages = {**previous, **fetched}
            carrying |= carried - fetched.keys()
        entry: dict[str, Any] = {
            "crawl": crawl, "complete": status.complete, "why_incomplete": status.why,
            "pages": len(pages), "carrying": sorted(carrying),
            "coverage": dict(sorted(_coverage(pages, carrying).items())),
            "appeared": [], "disappeared": [], "listed": status.listed}
        if previous is not None:
            both = previous.keys() & fetched.keys()
            entry["appeared"] = _moves(collection, previous, pages, (carrying - carried) & both)
            entry["disappeared"] = _moves(collection, previous, pages,
                                          (carried - carrying) & both)
        history.append(entry)
        previous, carried = pages, carrying
    return {"name": watch.name, "phrase": watch.phrase, "pattern": watch.pattern,
            "crawls": history,
            "skipped": [s.to_json() for s in statuses if not (incomplete or s.complete)]}


def _coverage(pages: dict[str, Capture], carrying: set[str]) -> dict[str, dict[str, Any]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for url, capture in pages.items():
        counts[capture.site or "(other)"][0] += 1
        counts[capture.site or "(other)"][1] += url in carrying
    return {site: {"pages": n, "carrying": c, "share": round(c / n, 4) if n else 0.0}
            for site, (n, c) in counts.items()}


def _moves(collection: Collection, old: dict[str, Capture], new: dict[str, Capture],
           urls: set[str]) -> list[dict[str, Any]]:
    # the full-text diff: a disclosure line lives in the footer, outside the main text
    return [{"url": u, "site": new[u].site, "from": old[u].timestamp, "to": new[u].timestamp,
             "diff": diff_url(old[u].timestamp, new[u].timestamp, u, text="full")}
            for u in sorted(urls)]


def watch_text(histories: list[dict[str, Any]]) -> str:
    """The plain-text form of watch histories (what `palimpsest watch` prints): per crawl,
    the pages carrying the phrase per site, and where it appeared or disappeared."""
    if not histories:
        return "no watched phrases: add [[watch]] entries to the network config"
    lines = []
    for history in histories:
        lines.append(bold(f"{history['name']}: {history['phrase'] or history['pattern']}"))
        for crawl in history["crawls"]:
            sites = "  ".join(f"{site} {c['carrying']}/{c['pages']}"
                              for site, c in crawl["coverage"].items())
            mark = "" if crawl["complete"] else f"  [incomplete: {crawl['why_incomplete']}]"
            if crawl.get("listed"):
                mark += "  [some pages fetched: the rest as the crawls before left them]"
            lines.append(f"  crawl {crawl['crawl']}: {len(crawl['carrying'])}/{crawl['pages']} "
                         f"pages  ({sites}){mark}")
            lines += [f"    disappeared  {move['url']}  {move['diff']}"
                      for move in crawl["disappeared"]]
            lines += [f"    appeared     {move['url']}  {move['diff']}"
                      for move in crawl["appeared"]]
        lines += [f"  crawl {skipped['crawl']} skipped: incomplete ({skipped['why']}); "
                  "--incomplete shows it" for skipped in history["skipped"]]
    return "\n".join(lines)
