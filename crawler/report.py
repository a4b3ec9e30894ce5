"""The crawl summary: per site, what was fetched, how big, with which statuses and outcomes,
what was left out and why. Built from the crawl log alone, so a resumed crawl's summary covers
every run of it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from index.crawl_log import log_entries
from index.crawl_status import SUMMARY_NAME
from index.extract import HTML_TYPES


def summarize(log_path: Path, *, crawl_id: str, finish_reason: str, listed: int = 0
              ) -> dict[str, Any]:
    """Summary of the crawl whose log is at `log_path`; `listed`: how many URLs it was given
    to fetch, those only (0: a crawl of the sites from their seeds)."""
    sites: dict[str, dict[str, Any]] = {}
    for entry in log_entries(log_path):
        site = sites.setdefault(entry.get("site") or "(other)", {
            "captures": 0, "pages": 0, "bytes": 0, "statuses": Counter(),
            "outcomes": Counter(), "excluded": Counter(), "errors": 0,
            "first": entry["time"], "last": entry["time"]})
        site["last"] = max(site["last"], entry["time"])
        site["first"] = min(site["first"], entry["time"])
        outcome = entry["outcome"]
        site["outcomes"][outcome] += 1
        if outcome == "excluded":
            site["excluded"][entry.get("why", "")] += 1
        elif "status" in entry:
            site["captures"] += 1
            site["bytes"] += entry.get("bytes", 0)
            site["statuses"][str(entry["status"])] += 1
            if entry.get("mime") in HTML_TYPES:
                site["pages"] += 1
        elif outcome == "error":
            site["errors"] += 1
    for site in sites.values():
        site["duration_s"] = round(
            (_when(site.pop("last")) - _when(site.pop("first"))).total_seconds(), 2)
        for key in ("statuses", "outcomes", "excluded"):
            site[key] = dict(sorted(site[key].items()))
    totals = {key: sum(s[key] for s in sites.values())
              for key in ("captures", "pages", "bytes", "errors")}
    summary = {"crawl": crawl_id, "finish_reason": finish_reason, "totals": totals,
               "sites": dict(sorted(sites.items()))}
    if listed:  # a change report must not take what such a crawl left alone for gone
        summary["listed"] = listed
    return summary


def write_summary(crawl_dir: Path, summary: dict[str, Any]) -> None:
    path = crawl_dir / SUMMARY_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_summary(crawl_dir: Path) -> dict[str, Any] | None:
    path = crawl_dir / SUMMARY_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a table for a terminal."""
    lines = [f"crawl {summary['crawl']} ({summary['finish_reason']})",
             f"{'site':<14}{'pages':>7}{'captures':>10}{'MB':>8}{'secs':>7}  statuses · outcomes"
             " · excluded"]
    for name, s in summary["sites"].items():
        statuses = " ".join(f"{k}:{v}" for k, v in s["statuses"].items())
        outcomes = " ".join(f"{k}:{v}" for k, v in s["outcomes"].items() if k != "excluded")
        excluded = " ".join(f"{k}:{v}" for k, v in s["excluded"].items()) or "-"
        lines.append(f"{name:<14}{s['pages']:>7}{s['captures']:>10}{s['bytes'] / 1e6:>8.2f}"
                     f"{s['duration_s']:>7.1f}  {statuses} · {outcomes} · {excluded}")
    t = summary["totals"]
    lines.append(f"{'total':<14}{t['pages']:>7}{t['captures']:>10}{t['bytes'] / 1e6:>8.2f}"
                 f"{'':>7}  errors:{t['errors']}")
    return "\n".join(lines)


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
