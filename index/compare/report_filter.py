"""A change report narrowed to some sites, kinds of change and changed pages of at least a
size: the page `/changes` and its JSON twin `/api/changes` take these as filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from index.errors import QueryError

# the kinds of change a report can be narrowed to, and the report's list of each
KINDS = {"added": "added", "removed": "removed", "changed": "changed",
         "status": "status_changes", "limited": "crawl_limited"}


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
    urls_kept: dict[str, set[str]] = {}
    for kind, key in KINDS.items():
        narrow[key] = [e for e in report[key] if kept(kind, e)]
        urls_kept[key] = {e["url"] for e in narrow[key]}
    narrow["sites"] = {}
    for site, section in report["sites"].items():
        rows = {key: [u for u in section[key] if u in urls_kept[key]] for key in KINDS.values()}
        if site in sites or (not sites and any(rows.values())):
            narrow["sites"][site] = {**section, **rows}
    return narrow
