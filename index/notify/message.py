"""What one notification target is told about one crawl: the part of the change report its
filters cover, as a title and a plain-text body of bounded size.

Built from `index.compare.changes.change_report` (the same object `palimpsest changes --json`
prints), never from a second comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from index.compare.changes import MOVES
from index.compare.permalinks import capture_url, report_url
from index.config import Notify

PAGES_LISTED = 10  # pages listed per section of a notification; the rest are counted
BODY_MAX = 6000  # characters: under every common service's limit once apprise adds its frame
TITLE_MAX = 200
URL_SHOWN = 300  # characters of a page's URL shown (the link carries it whole)
TITLE_SHOWN = 120  # characters of a page's title shown


@dataclass(frozen=True)
class Message:
    title: str
    body: str


@dataclass(frozen=True)
class _Covered:
    """What of a change report one target's filters cover."""

    moves: list[tuple[str, str, list[dict[str, Any]]]]  # (watch name, move, pages)
    changed: list[dict[str, Any]]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.moves or self.changed or self.added or self.removed)


def covered(report: dict[str, Any], target: Notify) -> _Covered:
    """The watched phrases' moves and the pages changed, added and removed that `target`
    covers: with `watch`, only those phrases' moves; with `sites`, only those sites' pages;
    of the changed pages, only those with at least `min_ratio` of their words changed."""
    def of_sites(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in entries if not target.sites or e.get("site") in target.sites]

    names = target.watch or tuple(report["watch"])
    moves = [(name, move, pages) for name in names if name in report["watch"]
             for move in MOVES if (pages := of_sites(report["watch"][name][move]))]
    if target.watch:  # a target of watched phrases only
        return _Covered(moves, [], [], [])
    changed = [e for e in of_sites(report["changed"])
               if e["ratio"] >= target.min_ratio]
    return _Covered(moves, changed, of_sites(report["added"]), of_sites(report["removed"]))


def compose(report: dict[str, Any], target: Notify, network: str, base: str = ""
            ) -> Message | None:
    """The notification `target` gets for this change report of the network named
    `network`, or None when nothing it covers changed; links start with `base` (the web
    UI's address, without its final "/"), else are paths. The Atom feed of changes words its
    entries so too, for a target without filters."""
    found = covered(report, target)
    if not found:
        return None
    names = report["crawl_names"]
    if report.get("since_each_page"):  # a crawl of the pages due (palimpsest monitor)
        lines = [f"Crawl {names[report['to']]} of the pages due, each compared with its "
                 "last capture."]
    else:
        lines = [f"Crawl {names[report['to']]} compared with {names[report['from']]}.",
                 f"Change report: {base}{report_url(report['from'], report['to'])}"]
    for name, move, pages in found.moves:
        watch = report["watch"][name]
        lines += ["", f"Watched phrase \"{name}\" ({_quoted(watch)}) {move} "
                      f"{'from' if move == 'disappeared' else 'on'} {_pages(len(pages))}:"]
        lines += _listed(pages, lambda m: [f"- {_page(m)}",
                                           f"  diff: {base}{m['diff']}"])
    sections = (("Changed", found.changed, lambda e: [
                    f"- {_page(e)}: {_share(e['ratio'])} of words changed, in "
                    f"{e['changes']} place{'' if e['changes'] == 1 else 's'}",
                    f"  diff: {base}{e['diff']}"]),
                ("Added", found.added, lambda e: [
                    f"- {_page(e)}",
                    f"  capture: {base}{capture_url(e['timestamp'], e['url'])}"]),
                ("Removed", found.removed, lambda e: [f"- {_page(e)}: {e['why']}"]))
    for label, entries, shown in sections:
        if entries:
            lines += ["", f"{label} pages: {len(entries)}"]
            lines += _listed(entries, shown)
    return Message(_title(network, report, found), _bounded("\n".join(lines)))


def _title(network: str, report: dict[str, Any], found: _Covered) -> str:
    parts = [f"\"{name}\" {move} {'from' if move == 'disappeared' else 'on'} "
             f"{_pages(len(pages))}" for name, move, pages in found.moves]
    parts += [f"{len(entries)} {label}" for label, entries in (
        ("changed", found.changed), ("added", found.added), ("removed", found.removed))
        if entries]
    crawl = report["crawl_names"][report["to"]]
    title = f"{network}: " + "; ".join(parts) + f" (crawl {crawl})"
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"


def _listed(entries: list[dict[str, Any]], shown: Any) -> list[str]:
    lines = [line for entry in entries[:PAGES_LISTED] for line in shown(entry)]
    if len(entries) > PAGES_LISTED:
        lines.append(f"... and {len(entries) - PAGES_LISTED} more (see the change report)")
    return lines


def _bounded(body: str) -> str:
    """`body`, cut at a line's end to BODY_MAX characters, saying so."""
    if len(body) <= BODY_MAX:
        return body
    cut = body.rfind("\n", 0, BODY_MAX - 60)
    return body[:cut] + "\n... (cut short: the change report has the rest)"


def _quoted(watch: dict[str, Any]) -> str:
    return f"phrase \"{watch['phrase']}\"" if watch["phrase"] else f"pattern {watch['pattern']}"


def _pages(n: int) -> str:
    return f"{n} page{'' if n == 1 else 's'}"


def _share(ratio: float) -> str:
    return f"{100 * ratio:.1f}%" if ratio >= 0.001 else "<0.1%"


def _url(url: str) -> str:
    return url if len(url) <= URL_SHOWN else url[:URL_SHOWN - 1] + "…"


def _page(entry: dict[str, Any]) -> str:
    """A page of the report as a line names it: its URL, site and title (the archived
    page's own words, cut short; escaping them is for whatever shows the message)."""
    title = " ".join((entry.get("title") or "").split())
    if len(title) > TITLE_SHOWN:
        title = title[:TITLE_SHOWN - 1] + "…"
    site = f" ({entry['site']})" if entry.get("site") else ""  # None: a URL of no site
    return f"{_url(entry['url'])}{site}" + (f" \u201c{title}\u201d" if title else "")
