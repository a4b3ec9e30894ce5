"""Full-text search over the archive, whichever engine holds the texts.

    query.py           the query language and its parser (TextQuery)
    query_cost.py      what one search may spend (Budget)
    engine.py          the engine interface (TextIndex) and the records crossing it
    engines.py         which engine: the engines' names, $PALIMPSEST_ENGINE, where each index is
    whoosh_engine.py   the Whoosh engine (the default)
    tantivy_engine.py  the Tantivy engine
    analysis.py        words as every engine indexes them
    snippets.py        the part of a page that shows why it matched, words marked
    text_captures.py   which captures show each text, held in memory
    service.py         a search: the engine's matches grouped into results from the catalog
    url_query.py       a search box query that names a URL
    presence.py        whether a result's page still says it
    periods.py         results counted over time, for the chart

Nothing outside whoosh_engine.py and tantivy_engine.py imports an engine's library, and
nothing outside engines.py knows the engines' names. Kept free of imports: index.config reads
the engines' names from engines.py.
"""
