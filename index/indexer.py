"""Bringing the catalog and the full-text index up to date with the collection's WARC files.

`update()` reads only WARC files that are new or changed since the last run (the catalog keeps
each file's size and mtime), several at a time in worker processes when that pays; the main
process writes each file's captures in one transaction, so a killed run leaves every file
either wholly catalogued or not at all, and the next run completes it. Revisits are then
resolved to the records holding their payloads, the browser captures of the files read tied to
their rendered DOMs (of those files only), and (with `fulltext`) the text of every
(URL, payload) not yet extracted goes into the full-text index (index.fulltext_pass).
WARC files written by other tools come in through index.warc_import first.
"""

from __future__ import annotations

import time
from contextlib import closing

from tqdm import tqdm

from index.catalog import Catalog
from index.catalog_rows import FileJob, FileRows, crawl_of, read_file
from index.collection import CONFIG_FILE, Collection, ConfigSource
from index.config import NetworkConfig
from index.index_summary import IndexSummary
from index.worker_pool import map_jobs
from index.write_failure import stop_at_write_failure

# below this much to read, starting worker processes costs more than it saves
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024


def update(collection: Collection, *, config: NetworkConfig | None | ConfigSource = CONFIG_FILE,
           fulltext: bool = True, progress: bool = False,
           workers: int | None = None) -> IndexSummary:
    """Bring the catalog (and with `fulltext`, the full-text index) up to date with every
    closed WARC file of `collection`, filing captures under the sites of `config` (by
    default the collection's network config). Incremental and idempotent: a second run
    reads nothing and changes nothing. Damaged records are reported in the summary, never
    raised.

    Large runs read files in `forkserver` worker processes (`workers`, default one per CPU):
    a script calling this needs the `if __name__ == "__main__":` guard."""
    started = time.monotonic()
    summary = IndexSummary()
    config = collection.config_if_any(config)
    if fulltext:
        # only then: the crawl's catalog-only update never imports the engines (and numpy)
        from index.fulltext_pass import claim_engine, index_texts
    with stop_at_write_failure(collection), Catalog.open(collection) as catalog:
        if fulltext:
            claim_engine(collection, catalog, config)
        _refresh_sites(catalog, config)
        jobs = _file_jobs(collection, catalog, config, summary)
        total = sum(j.size for j in jobs)
        # closing: an exception here stops the workers now, not when the generator is freed
        with tqdm(total=total, unit="B", unit_scale=True, desc="catalog",
                  disable=not progress or not jobs) as bar, \
                closing(map_jobs(read_file, jobs, workers,
                                 parallel=total >= _PARALLEL_MIN_BYTES)) as results:
            for result in results:
                _store(catalog, result, summary)
                bar.update(result.job.size)
        summary.revisits_resolved, summary.revisits_unresolved = catalog.resolve_revisits()
        summary.renderings_examined, summary.renderings_tied = catalog.link_renderings()
        if fulltext:
            index_texts(collection, catalog, config, summary, workers=workers,
                        progress=progress)
    summary.seconds = time.monotonic() - started
    return summary


def _file_jobs(collection: Collection, catalog: Catalog, config: NetworkConfig | None,
               summary: IndexSummary) -> list[FileJob]:
    """The WARC files to read: new or changed since the catalog read them. Files gone from
    the collection are dropped from the catalog on the way."""
    known = catalog.indexed_files()
    on_disk = {p.relative_to(collection.root).as_posix(): p for p in collection.warc_files()}
    for gone in sorted(known.keys() - on_disk.keys()):
        catalog.forget_file(gone)
        summary.files_removed += 1
    jobs = []
    for rel, path in on_disk.items():
        stat = path.stat()
        if known.get(rel) != (stat.st_size, stat.st_mtime_ns):
            jobs.append(FileJob(path, rel, crawl_of(rel), stat.st_size, stat.st_mtime_ns,
                                config))
    return jobs


def _store(catalog: Catalog, result: FileRows, summary: IndexSummary) -> None:
    """Catalogue what was read from one file, and count it."""
    job = result.job
    summary.captures += catalog.store_file(
        job.rel, job.size, job.mtime_ns, job.crawl, result.rows, result.cdx_only,
        [(d.offset, d.what, d.resumed_at) for d in result.damage])
    summary.files += 1
    summary.records += result.records
    summary.damaged += result.damage
    summary.warnings += result.quirks


def _refresh_sites(catalog: Catalog, config: NetworkConfig | None) -> None:
    """Recompute every capture's site when the network config changed since the last run."""
    digest = config.digest if config else ""
    if catalog.get_meta("config_digest") == digest:
        return

    def site_of(url: str) -> str | None:
        found = config.site_of(url) if config else None
        return found.name if found else None

    catalog.refile_sites(site_of, config_digest=digest)
