"""The crawls a change report compares: the pair chosen when none or one is named, and each
crawl's name for people."""

from __future__ import annotations

import re
from collections import Counter

from index.errors import UsageError
from index.timestamps import timestamp_time

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
        start = timestamp_time(found.group(1))
        seconds = ":%S" if minutes[found.group(1)[:12]] > 1 else ""
        names[crawl] = f"{start.day} {start:%b %Y %H:%M{seconds}} UTC" + (
            f" #{int(found.group(2)) + 1}" if found.group(2) else "")
    return names
