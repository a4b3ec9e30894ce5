"""The collection's CDXJ index, exactly as cdxj-indexer writes it.

`palimpsest cdxj` prints what `cdxj-indexer --sort --dir-root <collection> <its WARC files>`
prints: the same records (response, revisit, resource, and metadata other than warc-fields),
the same SURT keys and timestamps, the same JSON fields in the same order (url, mime, status,
digest, length, offset, filename; all strings, absent ones left out), filenames relative to the
collection, lines sorted as text. It is made from the catalog, not by re-reading the WARCs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from index.catalog import Catalog


def cdxj_lines(catalog: Catalog) -> Iterator[str]:
    """Every CDXJ line of the catalogued records (without newline), in sorted order."""
    # the catalog orders by "surt timestamp"; lines sharing that key sort by their JSON
    group_key, group = None, []
    for entry in catalog.cdx_entries():
        key = f"{entry[0]} {entry[1]}"
        if key != group_key:
            yield from sorted(group)
            group_key, group = key, []
        group.append(cdxj_line(*entry))
    yield from sorted(group)


def cdxj_line(surt: str, timestamp: str, url: str, mime: str | None, status: str | None,
              digest: str | None, length: int, offset: int, filename: str) -> str:
    """One CDXJ line (without newline) as cdxj-indexer writes it."""
    fields = {"url": url}
    for name, value in (("mime", mime), ("status", status), ("digest", digest)):
        if value is not None:
            fields[name] = value
    fields.update(length=str(length), offset=str(offset), filename=filename)
    return f"{surt} {timestamp} {json.dumps(fields)}"
