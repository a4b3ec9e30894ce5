"""Signals our crawl components talk through (Scrapy's own signals cover the rest)."""

# records=[ArcWarcRecord, ...]: a group of WARC records to be written together
warc_records = object()

# entry=dict: one line of the crawl log (a capture, an exclusion or an error)
crawl_event = object()

# response=Response, outlinks=[Outlink, ...]: a document was parsed; its metadata record is due
document_parsed = object()

# error=OSError, path=Path: writing the crawl's files failed (a full disk); the crawl stops
write_failed = object()
