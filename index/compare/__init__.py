"""Comparisons: what changed between two captures of a page, and across the network between
two crawls. They return data (dicts, as the JSON API serves them) and, for the CLI, its plain
text; web/ renders the same data in templates.

    versions.py       one side of a comparison: a capture's payload read and extracted
    textdiff.py       the word-level diff under every comparison
    diff.py           two captures compared: text, links, metadata (`palimpsest diff`, /diff/)
    receipt.py        a comparison's receipt: the records, the command, its permanent URL
    permalinks.py     the web UI's URLs that comparisons carry as data (the routes' contract)
    excerpts.py       each change of a text diff as a short excerpt
    crawls.py         the two crawls a change report compares, and their names for people
    changes.py        the change report between two crawls (`palimpsest changes`, /changes)
    report_filter.py  a change report narrowed to sites, kinds of change, a least ratio
    watch.py          watched phrases followed across crawls (`palimpsest watch`, /watch/)
    terminal.py       the terminal styles of the plain-text forms
"""
