"""A search's matches grouped into results, one way whatever the engine and however much
matched: vector operations over numpy columns of the matching texts' live captures (those
of the whole catalog once a process has read it, else of the matching texts alone): which
captures pass the site, date and "as of" filters, then per text and per URL their counts,
first and last times and best text, the page of results, the facets and the chart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from index.catalog import Catalog
from index.search.engine import Matches
from index.search.periods import Periods, count_by_period
from index.search.text_captures import Columns, TextCaptures

# from this many matching texts on, a search reads the whole catalog (once per process) and
# works on its columns rather than on columns of the matching texts' captures alone
BULK = 2000
FIRST, LAST = "0" * 14, "9" * 14
Bounds = tuple[str, str, str | None]  # capture dates from, to (14 digits), as of (or None)


@dataclass(slots=True)
class Entry:
    """A result before formatting: the capture it stands for and the counts over the URL's
    matching texts. Collapsed, the best capture of the URL's matching texts (a text's best is
    its latest capture, in either order)."""

    order: tuple  # (score, timestamp, url) for relevance, (timestamp, score, url) for date
    capture_id: int
    text_number: int
    site: str | None
    url: str
    timestamp: str
    score: float
    versions: int  # matching texts of the URL
    captures: int  # their chosen captures
    first_seen: str
    last_seen: str


@dataclass
class Grouped:
    """What a search found: how many results, the facets' counts, the requested page."""

    total: int
    sites: Counter[str | None]  # results per site
    site_months: Counter[tuple[str | None, str]]  # results per (site, YYYYMM)
    page: list[Entry]
    periods: Periods  # results per site and period, for the chart


@dataclass(frozen=True)
class _Chosen:
    """The captures of the matching texts that pass the filters (positions in the columns'
    captures, each text's together, oldest first), and per text and per URL what the
    results need."""

    at: np.ndarray
    row: np.ndarray  # each chosen capture's text row, time, URL number and text's score
    time: np.ndarray
    url: np.ndarray
    score: np.ndarray
    ends: np.ndarray  # per text: the position in `at` of its last chosen capture
    versions: np.ndarray  # per URL number: matching texts, chosen captures, first, last
    counts: np.ndarray
    first: np.ndarray
    last: np.ndarray


def group(captures: TextCaptures, catalog: Catalog, matches: Matches, bounds: Bounds, *,
          site: str | None, collapse: bool, sort: str, need: int) -> Grouped:
    """The matching texts' captures that pass the filters (`site`, `bounds`), grouped into
    results: one per URL if `collapse`, else one per capture; the best `need` of them in
    the order `sort` names ("relevance" or "date") make the page."""
    if captures.complete or len(matches) > BULK:
        columns = captures.columns(catalog)
    else:
        columns = captures.columns_of(catalog, matches.numbers())
    chosen = _choose(columns, matches, bounds, site)
    if collapse:
        total, entries, sites, periods = _collapsed(columns, chosen, sort, need)
    else:
        total, entries, sites, periods = _every_capture(columns, chosen, sort, need)
    names = list(columns.site_number)
    found = np.flatnonzero(chosen.versions)
    start, end, _ = bounds
    # every capture of the results' pages in the date range: the chart's axis
    axis = np.isin(columns.all_url, found) & (columns.all_time >= int(start)) & \
        (columns.all_time <= int(end))
    by_period = count_by_period(chosen.time, chosen.url, columns.url_site, names,
                                columns.all_time[axis], collapse)
    return Grouped(total, Counter({names[s]: n for s, n in enumerate(sites.tolist()) if n}),
                   Counter({columns.period[p]: n for p, n in enumerate(periods.tolist()) if n}),
                   entries, by_period)


def _choose(columns: Columns, matches: Matches, bounds: Bounds, site: str | None) -> _Chosen:
    """The matching texts' captures that pass the filters, and their counts per URL."""
    start, end, as_of = bounds
    rows = columns.rows(matches)
    live = rows >= 0  # texts without a live capture are not results
    text_score = np.full(len(columns.numbers), np.nan)
    text_score[rows[live]] = matches.scores[live]
    cap = columns.captures
    # each text's captures together, oldest first: gathered for a few texts, else a mask
    at = cap.of_rows(rows[live]) if 8 * len(rows) < len(columns.numbers) \
        else np.flatnonzero(~np.isnan(text_score[cap.row]))
    if site is not None:
        at = at[cap.site[at] == columns.site_number.get(site, -1)]
    if start != FIRST or end != LAST:
        at = at[(cap.time[at] >= int(start)) & (cap.time[at] <= int(end))]
    if as_of is not None:
        # the capture a visitor would have seen: the URL's latest at that date, whatever
        # its status; an error page or a redirect then means the page was not live
        at = at[cap.time[at] == columns.standing(int(as_of))[cap.url[at]]]
    row, time, url = cap.row[at], cap.time[at], cap.url[at]
    # per text: its chosen captures' count, first and last
    ends = np.flatnonzero(np.r_[row[1:] != row[:-1], True]) if len(at) else at
    starts = np.r_[0, ends[:-1] + 1] if len(at) else at
    t_url = url[ends]
    # per URL: versions (texts), captures, first and last seen
    urls = len(columns.url_name)
    first = np.full(urls, np.iinfo(np.int64).max)
    np.minimum.at(first, t_url, time[starts])
    last = np.zeros(urls, np.int64)
    np.maximum.at(last, t_url, time[ends])
    return _Chosen(at, row, time, url, text_score[row], ends,
                   np.bincount(t_url, minlength=urls), np.bincount(url, minlength=urls),
                   first, last)


def _entry(columns: Columns, chosen: _Chosen, i: int, relevance: bool) -> Entry:
    """The result of the chosen capture at position `i`, with its URL's counts."""
    u, t, s = int(chosen.url[i]), int(chosen.time[i]), float(chosen.score[i])
    stamp, name = _stamp(t), columns.url_name[u]
    number = columns.numbers[chosen.row[i]]
    return Entry((s, stamp, name) if relevance else (stamp, s, name),
                 int(columns.captures.id[chosen.at[i]]), number, columns.shown[number].site,
                 name, stamp, s, int(chosen.versions[u]), int(chosen.counts[u]),
                 _stamp(chosen.first[u]), _stamp(chosen.last[u]))


def _collapsed(columns: Columns, chosen: _Chosen, sort: str, need: int
               ) -> tuple[int, list[Entry], np.ndarray, np.ndarray]:
    """One result per URL, its best text's latest chosen capture: how many, the best
    `need`, and the results per site and per (site, month) number."""
    ends = chosen.ends
    t_url, t_last, t_score = chosen.url[ends], chosen.time[ends], chosen.score[ends]
    # each URL's best text: the highest (score, last time), or (last time, score)
    primary, secondary = (t_score, t_last) if sort == "relevance" else (t_last, t_score)
    best = _best_per_url(len(columns.url_name), t_url, primary, secondary)
    b_url = np.flatnonzero(best >= 0)
    best = best[b_url]
    b_primary, b_secondary = primary[best], secondary[best]
    if len(best) > need:  # only the URLs that may be on the page are sorted
        floor = np.partition(b_primary, len(best) - need)[len(best) - need]
        kept = b_primary >= floor
        best, b_url, b_primary, b_secondary = (best[kept], b_url[kept], b_primary[kept],
                                               b_secondary[kept])
    # URL numbers follow the URLs' order, so ties sort as the URL strings do
    page = best[np.lexsort((b_url, b_secondary, b_primary))[::-1][:need]]
    entries = [_entry(columns, chosen, int(ends[i]), sort == "relevance")
               for i in page.tolist()]
    found = np.flatnonzero(chosen.versions)
    sites = np.bincount(columns.url_site[found], minlength=len(columns.site_number))
    # a URL counts once in each month it has a chosen capture in
    url_periods = np.zeros(len(columns.period_of_url_period), bool)
    url_periods[columns.captures.url_period[chosen.at]] = True
    periods = np.bincount(columns.period_of_url_period[url_periods],
                          minlength=len(columns.period))
    return len(found), entries, sites, periods


def _every_capture(columns: Columns, chosen: _Chosen, sort: str, need: int
                   ) -> tuple[int, list[Entry], np.ndarray, np.ndarray]:
    """One result per chosen capture: how many, the best `need`, and the results per site
    and per (site, month) number."""
    url, time, score = chosen.url, chosen.time, chosen.score
    page = np.lexsort((url, time, score) if sort == "relevance"
                      else (url, score, time))[::-1][:need]
    entries = [_entry(columns, chosen, i, sort == "relevance") for i in page.tolist()]
    sites = np.bincount(columns.url_site[url], minlength=len(columns.site_number))
    periods = np.bincount(columns.captures.period[chosen.at], minlength=len(columns.period))
    return len(chosen.at), entries, sites, periods


def _best_per_url(urls: int, url: np.ndarray, primary: np.ndarray, secondary: np.ndarray
                  ) -> np.ndarray:
    """Per URL number (of `urls`), the position of its item with the highest (primary,
    secondary), -1 for a URL without items: two passes of maxima, no sort."""
    top = np.full(urls, -np.inf)
    np.maximum.at(top, url, primary)
    tied = np.flatnonzero(primary == top[url])
    second = np.full(urls, -np.inf)
    np.maximum.at(second, url[tied], secondary[tied])
    chosen = tied[secondary[tied] == second[url[tied]]]
    best = np.full(urls, -1, np.int64)
    best[url[chosen]] = chosen  # (equal items: the last wins)
    return best


def _stamp(time: int) -> str:
    return f"{time:014d}"
