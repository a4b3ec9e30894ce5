"""Page titles kept from imported WACZ packages, for pages whose own HTML gives none.

`palimpsest add FILE.wacz` writes `imported/<name>/pages.jsonl` beside the package's WARCs:
one {"url", "ts", "title"} object a line, from the package's pages/pages.jsonl and
pages/extraPages.jsonl. A browser-based crawler (Browsertrix) takes each title from the page as
rendered (a script may have set it), where our extraction only has the HTML's <title>, or a
plain-text file's first line: the full-text pass gives a payload read from an import's WARCs
the title that import's page list gives its URL, so search results show the package's titles.
(A module apart from the reader, so the full-text pass does not load cryptography.)
"""

from __future__ import annotations

import json

from index.collection import Collection

TITLES_FILE = "pages.jsonl"


def imported_titles(collection: Collection) -> dict[tuple[str, str], str]:
    """The title each imported package's page list gives a URL, by (import folder relative
    to the collection, e.g. "imported/btrix", URL): a title applies to the payloads read from
    that package's WARCs only."""
    titles: dict[tuple[str, str], str] = {}
    if not collection.imported_dir.is_dir():
        return titles
    for path in sorted(collection.imported_dir.glob(f"*/{TITLES_FILE}")):
        folder = path.parent.relative_to(collection.root).as_posix()
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    page = json.loads(line)
                except ValueError:
                    continue
                if (isinstance(page, dict) and isinstance(page.get("url"), str)
                        and isinstance(page.get("title"), str)):
                    titles[(folder, page["url"])] = page["title"]
    return titles
