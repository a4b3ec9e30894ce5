"""The web UI's URLs that comparisons carry as data.

A diff's receipt cites the comparison by its permanent URL, and the change report and the
watched phrases link each change to its diff: these URLs are part of the JSON that the CLI and
the API give out and people keep (DESIGN.md's routes are a contract, as the CLI's commands are).
So they are built here, in one place, and web/ links to comparisons with these same functions
rather than a second spelling of its routes. Paths only: where the UI is served (the config's
[web] base_url) is for the caller to put in front.
"""

from __future__ import annotations


def diff_url(from_ts: str, to_ts: str, url: str, text: str | None = None,
             ignore_case: bool = False, count_breaks: bool = False) -> str:
    """`/diff/<from_ts>/<to_ts><flags>/<url>`: the comparison of two captures of `url`.
    Options other than the defaults ride on the second timestamp: `_full` or `_main` (`text`
    pinned; None leaves the choice to the page, which says why it compared the text it did),
    `_case` (case-only changes are no change), `_breaks` (moved paragraph breaks count)."""
    flags = "".join(f"_{flag}" for flag, on in ((text, bool(text)), ("case", ignore_case),
                                                ("breaks", count_breaks)) if on)
    return f"/diff/{from_ts}/{to_ts}{flags}/{url}"


def capture_url(timestamp: str, url: str) -> str:
    """`/web/<timestamp>/<url>`: a capture, in the archive's frame."""
    return f"/web/{timestamp}/{url}"


def report_url(from_crawl: str, to_crawl: str) -> str:
    """`/changes?from=&to=`: the change report between two crawls."""
    return f"/changes?from={from_crawl}&to={to_crawl}"
