"""Comparisons: what changed between two captures of a page, and across the network between
two crawls.

    diff.py          two captures compared: text, links, metadata, with a receipt to cite
    textdiff.py      the word-level diff under every comparison
    excerpts.py      each change of a text diff as a short excerpt
    changes.py       the change report between two crawls (`palimpsest changes`, `/changes`)
    watch.py         watched phrases followed across crawls (`palimpsest watch`, `/watch/`)
    crawl_status.py  whether a crawl covered its ground (finished, reached every site)

They return data (dicts as the JSON API serves them); web/ and the CLI show it.
"""
