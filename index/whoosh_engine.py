"""Where Whoosh indexes written before the search package (index/search/) find their schema.

A Whoosh index pickles its schema, and the pickle names the classes of our fields and filters
by module: `index.whoosh_engine.StemmedText` and the rest. These names keep such indexes
opening as they are (the on-disk format did not change); new code imports
index.search.whoosh_engine.
"""

from index.search.whoosh_engine import DropLongWords, LowerCase, Stem, StemmedText

__all__ = ["DropLongWords", "LowerCase", "Stem", "StemmedText"]
