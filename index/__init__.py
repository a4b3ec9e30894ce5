"""The archive's model: the collection and its config, reading WARCs, the catalog, extraction,
search engines and comparisons. Everything else in Palimpsest imports from here; this package
imports from nothing of ours above it."""

__version__ = "0.1.0"
