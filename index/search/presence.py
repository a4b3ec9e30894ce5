"""Is it still there? For each search result: whether the page's latest capture still matches
the query, when a matching text was last captured and which capture first lacked it; and
which watched phrases of the network config the query is part of.

Worked out for the results of one page only, from the catalog (the URL's captures, through
its SURT index) and the engine's matches (is a capture's text one of the matching texts?):
no text is read again. Within the search's query_cost.Budget: past its deadline the search
fails, as it does in every other step, rather than answer with part of the presences.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from index.catalog import Capture, Catalog
from index.compare.watch import watch_pattern
from index.config import NetworkConfig
from index.errors import UsageError
from index.search.engine import Matches, text_number
from index.search.query import And, Node, Or, Phrase, Term, TextQuery
from index.search.query_cost import Budget
from index.timestamps import iso_date


def add_presence(catalog: Catalog, results: list[dict[str, Any]], matches: Matches,
                 budget: Budget) -> None:
    """Set `presence` on each result (search JSON objects with a `url`): `{"in_latest",
    "captures" (all of the URL's), "latest": {"timestamp", "date", "status"}, "last_match":
    {"timestamp", "date"} | None, "first_missing": {"timestamp", "date", "status"} | None}`.
    QueryTooCostly if the budget's deadline passes first."""
    histories: dict[str, list[Capture]] = {}
    for result in results:
        url = result["url"]
        if url not in histories:
            budget.check("checking the latest captures")
            histories[url] = catalog.captures(url)
    matching = _matching_keys(matches, {c.text_key for history in histories.values()
                                        for c in history if c.text_key})
    presences = {url: _presence(history, matching) for url, history in histories.items()}
    for result in results:
        result["presence"] = presences[result["url"]]


def _presence(history: list[Capture], matching: set[str]) -> dict[str, Any]:
    """Presence over one URL's captures, oldest first (a result's URL has at least one)."""
    hits = [i for i, c in enumerate(history) if _live(c) and c.text_key in matching]
    latest = history[-1]
    last = hits[-1] if hits else None
    missing = history[last + 1] if last is not None and last + 1 < len(history) else None
    return {
        "in_latest": last == len(history) - 1, "captures": len(history),
        "latest": _moment(latest),
        "last_match": None if last is None else {
            "timestamp": history[last].timestamp,
            "date": iso_date(history[last].warc_date, history[last].timestamp)},
        "first_missing": None if missing is None else _moment(missing)}


def _moment(capture: Capture) -> dict[str, Any]:
    return {"timestamp": capture.timestamp,
            "date": iso_date(capture.warc_date, capture.timestamp), "status": capture.status}


def _live(capture: Capture) -> bool:
    # as in search: a capture without HTTP status (a resource record) counts as live
    return capture.status is None or 200 <= capture.status < 300


def _matching_keys(matches: Matches, keys: set[str]) -> set[str]:
    """Those of `keys` (a page's worth of text keys) that are among the matches: one pass
    over the matches' columns, however many the query matched."""
    if not keys or not len(matches):
        return set()
    numbers = {text_number(k): k for k in keys}
    high = np.array([n >> 32 for n in numbers], np.uint64)
    near = np.flatnonzero(np.isin(matches.high, high))
    found = {(int(h) << 32) | int(lo) for h, lo in zip(matches.high[near].tolist(),
                                                        matches.low[near].tolist(),
                                                        strict=True)}
    return {key for number, key in numbers.items() if number in found}


def related_watches(query: TextQuery, config: NetworkConfig | None) -> list[str]:
    """The names of the config's watched phrases that the query's phrase is part of (`"on
    behalf of"` is part of a disclosure line watched whole), or that a watched pattern finds
    in it: the watch view follows that phrase crawl by crawl. Phrases of one word name none."""
    # one word (`of`) is part of too many phrases to name a watch
    phrases = [" ".join(p.lower().split()) for p in _phrases(query.root) if " " in p.strip()]
    names = []
    for watch in config.watch if config else ():
        if watch.phrase:
            held = " ".join(watch.phrase.lower().split())
            found = any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", held) for p in phrases)
        else:
            try:
                pattern = watch_pattern(watch)
            except UsageError:
                continue  # a bad pattern is reported where the watch is run
            found = any(pattern.search(p) for p in phrases)
        if found:
            names.append(watch.name)
    return names


def _phrases(node: Node) -> list[str]:
    """The phrases a query looks for in the text: its quoted phrases, and its words when it
    is nothing but words (`on behalf of` unquoted)."""
    if isinstance(node, Phrase) and node.field is None:
        return [node.text]
    if isinstance(node, Term) and node.field is None:
        return [node.text]
    if isinstance(node, And):
        words = [c.text for c in node.children if isinstance(c, Term) and c.field is None]
        found = [p for c in node.children if not isinstance(c, Term) for p in _phrases(c)]
        return ([" ".join(words)] if words else []) + found
    if isinstance(node, Or):
        return [p for c in node.children for p in _phrases(c)]
    return []  # what a query excludes (NOT), a wildcard, a field
