"""Bringing the catalog and the full-text index up to date with the collection's WARC files.

`update()` reads only WARC files that are new or changed since the last run (the catalog keeps
each file's size and mtime), several at a time in worker processes when that pays; the main
process writes each file's captures in one transaction, so a killed run leaves every file
either wholly catalogued or not at all, and the next run completes it. Revisits are then
resolved to the records holding their payloads, and (with `fulltext`) the text of every
(URL, payload) not yet extracted goes into the full-text index. `add_warcs()` brings WARC files
written by other tools into the collection first.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import select
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm
from warcio.timeutils import iso_date_to_timestamp

from index.catalog import CATALOG_NAME, ENGINE_META, Catalog
from index.collection import ARCHIVE_SUFFIXES, Collection
from index.config import NetworkConfig
from index.errors import DamagedRecord, UsageError, WriteFailed
from index.fulltext import (
    TextDoc,
    TextIndex,
    engine_moved,
    engine_name,
    new_index_dir,
    open_index,
    switch_index_dir,
)
from index.surt_key import surt_key
from index.warc_reader import (
    Damage,
    Quirk,
    WarcReader,
    WarcRecord,
    is_arc,
    looks_like_archive,
    read_payload,
)

# the errors of a write that cannot be done (disk full, quota, I/O error, read-only)
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)
# below this much to read, starting worker processes costs more than it saves
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024
_MIME_END = re.compile(r"[;\s]")  # where cdxj-indexer cuts a Content-Type
_CAPTURE_TYPES = ("response", "revisit", "resource")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.I)
_TEXT_JOB = 200  # payloads per worker task
_TEXT_COMMIT = 2000  # documents per full-text commit (each Whoosh commit writes a segment)
# how long a replaced full-text index is kept for the searches that opened it (they take
# milliseconds, and hold its files open once they have begun)
_READERS_GRACE = 1.0
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class IndexSummary:
    """What one `update()` did."""

    files: int = 0  # WARC files read
    records: int = 0  # WARC records read in them
    captures: int = 0  # captures added to the catalog
    revisits_resolved: int = 0
    revisits_unresolved: int = 0  # in the whole catalog, after this run
    texts: int = 0  # payloads whose text was extracted
    documents: int = 0  # new documents in the full-text index
    files_removed: int = 0  # catalogued files no longer in the collection
    damaged: list[Damage] = field(default_factory=list)
    warnings: list[Quirk] = field(default_factory=list)  # records read whole, but irregular
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k not in ("damaged", "warnings")},
                "damaged": [{"file": d.file, "offset": d.offset, "what": d.what,
                             "resumed_at": d.resumed_at} for d in self.damaged],
                "warnings": [{"file": q.file, "offset": q.offset, "what": q.what}
                             for q in self.warnings]}

    def __str__(self) -> str:
        rate = self.captures / self.seconds if self.seconds else 0.0
        lines = [f"{self.files} WARC file{'' if self.files == 1 else 's'} read, "
                 f"{self.records} records, {self.captures} captures added in "
                 f"{self.seconds:.1f}s ({rate:.0f} captures/s)",
                 f"revisits: {self.revisits_resolved} resolved, {self.revisits_unresolved} "
                 "without their original in the collection",
                 f"full text: {self.texts} payloads extracted, {self.documents} new documents"]
        if self.files_removed:
            lines.append(f"{self.files_removed} WARC files gone from the collection: "
                         "their captures were dropped")
        if self.damaged:
            lines.append(f"{len(self.damaged)} damaged stretches skipped:")
            lines += [f"  {d}" for d in self.damaged]
        if self.warnings:
            lines.append(f"{len(self.warnings)} warnings (records read whole, but not as "
                         "the format says):")
            lines += [f"  {q}" for q in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class _FileJob:
    path: Path
    rel: str
    crawl: str
    size: int
    mtime_ns: int
    config: NetworkConfig | None


@dataclass
class _FileResult:
    job: _FileJob
    records: int
    rows: list[tuple]
    cdx_only: list[tuple]
    damage: list[Damage]
    quirks: list[Quirk]


def update(collection: Collection, *, fulltext: bool = True, progress: bool = False,
           workers: int | None = None) -> IndexSummary:
    """Bring the catalog (and with `fulltext`, the full-text index) up to date with every
    closed WARC file of `collection`. Incremental and idempotent: a second run reads nothing
    and changes nothing. Damaged records are reported in the summary, never raised.

    Large runs read files in `forkserver` worker processes (`workers`, default one per CPU):
    a script calling this needs the `if __name__ == "__main__":` guard."""
    started = time.monotonic()
    summary = IndexSummary()
    config = collection.load_config() if collection.config_path.exists() else None
    with _stop_at_write_failure(collection), Catalog.open(collection) as catalog:
        if fulltext:
            claim_engine(collection, catalog, config)
        _refresh_sites(catalog, config)
        known = catalog.indexed_files()
        on_disk = {p.relative_to(collection.root).as_posix(): p for p in collection.warc_files()}
        for gone in sorted(known.keys() - on_disk.keys()):
            catalog.forget_file(gone)
            summary.files_removed += 1
        jobs = []
        for rel, path in on_disk.items():
            stat = path.stat()
            if known.get(rel) != (stat.st_size, stat.st_mtime_ns):
                jobs.append(_FileJob(path, rel, crawl_of(rel), stat.st_size, stat.st_mtime_ns,
                                     config))
        total = sum(j.size for j in jobs)
        parallel = total >= _PARALLEL_MIN_BYTES
        # closing: an exception here stops the workers now, not when the generator is freed
        with tqdm(total=total, unit="B", unit_scale=True, desc="catalog",
                  disable=not progress or not jobs) as bar, \
                closing(map_jobs(_read_file, jobs, workers, parallel=parallel)) as results:
            for result in results:
                job = result.job
                summary.captures += catalog.store_file(
                    job.rel, job.size, job.mtime_ns, job.crawl, result.rows, result.cdx_only,
                    [(d.offset, d.what, d.resumed_at) for d in result.damage])
                summary.files += 1
                summary.records += result.records
                summary.damaged += result.damage
                summary.warnings += result.quirks
                bar.update(job.size)
        summary.revisits_resolved, summary.revisits_unresolved = catalog.resolve_revisits()
        if fulltext:
            _index_texts(collection, catalog, config, summary, workers=workers,
                         progress=progress)
    summary.seconds = time.monotonic() - started
    return summary


def add_warcs(collection: Collection, paths: Iterable[str | os.PathLike], *,
              name: str | None = None, progress: bool = False,
              fulltext: bool = True) -> IndexSummary:
    """Copy WARC (or ARC) files written by any tool into `<collection>/imported/<name>/`
    (`name` defaults to each file's name without its extension), then `update()`. A file
    already there with the same bytes is not copied twice; a different file of the same name
    is never overwritten. Raises UsageError, before copying anything, for a file that is
    missing, is not a WARC or ARC, or would clash."""
    plan: list[tuple[Path, Path]] = []
    for given in paths:
        source = Path(given)
        if not source.is_file():
            raise UsageError(f"{source}: no such file")
        if not source.name.endswith(ARCHIVE_SUFFIXES):
            raise UsageError(f"{source}: a WARC file's name ends in .warc or .warc.gz (an "
                             "ARC file's in .arc or .arc.gz)")
        try:
            readable = looks_like_archive(source)
        except OSError as exc:
            raise UsageError(f"{source}: cannot be read ({exc.strerror})") from None
        if not readable:
            kind = "an ARC" if is_arc(source) else "a WARC"
            raise UsageError(f"{source}: not {kind} file (it does not begin with {kind} "
                             "record)")
        folder = name or re.sub(r"\.w?arc(\.gz)?$", "", source.name)
        # `~` too: our crawler's file names hold one (…-00000-<pid>~<host>.warc.gz)
        if not re.fullmatch(r"[\w.~-]+", folder) or folder.strip(".") == "":
            raise UsageError(f"{folder!r} cannot name an import folder (letters, digits, "
                             "'.', '_', '~' and '-' only)")
        target = collection.inside(f"imported/{folder}/{source.name}")
        if target.exists() and not _same_bytes(source, target):
            raise UsageError(f"{target.relative_to(collection.root)} already holds a different "
                             f"file: give the import another name (--name)")
        plan.append((source, target))
    collection.root.mkdir(parents=True, exist_ok=True)
    for source, target in plan:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # copy under a temporary name, so an interrupted copy is never taken for a WARC
            partial = target.with_name(target.name + ".part")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
    return update(collection, progress=progress, fulltext=fulltext)


def crawl_of(rel: str) -> str:
    """The crawl a WARC file belongs to: its crawl id, or `imported/<name>`."""
    parts = rel.split("/")
    if parts[0] == "crawls" and len(parts) > 2:
        return parts[1]
    if parts[0] == "imported" and len(parts) > 2:
        return f"imported/{parts[1]}"
    return parts[0]


def _read_file(job: _FileJob) -> _FileResult:
    """Read one WARC file into catalog rows (runs in a worker process)."""
    reader = WarcReader(job.path)
    rows: list[tuple] = []
    cdx_only: list[tuple] = []
    damage: list[Damage] = []
    count = 0
    for record in reader:
        count += 1
        if not _listed(record):
            continue
        timestamp, problem = None, None
        if not record.target_uri:
            problem = "record has no WARC-Target-URI"
        else:
            try:
                timestamp = iso_date_to_timestamp(record.warc_date)
            except (ValueError, TypeError, AttributeError):
                problem = f"WARC-Date {record.warc_date!r} is not a date"
        if problem or timestamp is None:
            damage.append(Damage(str(job.path), record.offset, problem or "bad WARC-Date",
                                 record.offset + record.length))
            continue
        if record.warc_type == "metadata":
            cdx_only.append((surt_key(record.target_uri), timestamp, record.target_uri,
                             _cdx_mime(record), record.http_status, record.payload_digest,
                             record.length, record.offset, job.rel))
        else:
            rows.append(_capture_row(record, timestamp, job))
    # the reader's damage goes first: it is what a reader of the file meets first
    return _FileResult(job, count, rows, cdx_only, reader.damage + damage, reader.quirks)


def _listed(record: WarcRecord) -> bool:
    """Whether cdxj-indexer lists the record (its default record selection)."""
    if record.warc_type in _CAPTURE_TYPES or record.warc_type == "metadata":
        return not (record.warc_type in ("resource", "metadata")
                    and record.content_type == "application/warc-fields")
    return False


def _capture_row(record: WarcRecord, timestamp: str, job: _FileJob) -> tuple:
    url = record.target_uri or ""
    kind = record.warc_type
    status = record.http_status
    mime_source = record.content_type if kind == "resource" else record.http_content_type
    mime = (_MIME_END.split(mime_source, maxsplit=1)[0].strip().lower() or None
            if mime_source else None)
    own = kind != "revisit"
    site = None
    if job.config is not None:
        found = job.config.site_of(url)
        site = found.name if found else None
    return (url, surt_key(url), timestamp, record.warc_date, kind,
            int(status) if status and status.isdigit() else None, mime, record.payload_digest,
            record.length, record.offset, job.rel, job.rel if own else None,
            record.offset if own else None, record.length if own else None, job.crawl, site,
            record.record_id, record.refers_to, record.refers_to_uri, record.refers_to_date,
            _cdx_mime(record), status)


def _cdx_mime(record: WarcRecord) -> str | None:
    if record.warc_type == "revisit":
        return "warc/revisit"
    value = record.http_content_type if record.warc_type == "response" else record.content_type
    return _MIME_END.split(value, maxsplit=1)[0].strip() if value else value


def _index_texts(collection: Collection, catalog: Catalog, config: NetworkConfig | None,
                 summary: IndexSummary, *, workers: int | None, progress: bool) -> None:
    """Give every text-bearing 2xx capture its full-text document. Each (URL, payload digest)
    is extracted once; later captures of it (recrawls, revisits) reuse the document. The
    full-text index is committed before the catalog records what went into it, so a kill
    leaves at worst a document that the next run finds already there."""
    db = catalog.db
    with catalog.transaction():
        _apply_known_texts(db)
    todo = _texts_to_extract(db, missing_only=True)
    if not todo:
        return

    def record(done: list[tuple[str, str, str | None]]) -> None:
        with catalog.transaction():
            _record_texts(db, done)

    with open_index(collection, config) as texts:
        _extract_texts(collection, todo, texts, summary, record, workers=workers,
                       progress=progress)


def _texts_to_extract(db: Any, *, missing_only: bool) -> list[tuple]:
    """(url, digest, payload file, offset, length, mime, site) of each text-bearing
    (URL, payload digest), in file order; with `missing_only`, of those not extracted yet."""
    from index.extract import HTML_TYPES, TEXT_TYPES

    mimes = sorted(HTML_TYPES | TEXT_TYPES)
    missing = """AND text_key IS NULL AND NOT EXISTS (
        SELECT 1 FROM texts AS t WHERE t.url = c.url AND t.digest = c.digest)"""
    return db.execute(f"""
        SELECT url, digest, payload_file, payload_offset, payload_length, mime, site
        FROM captures AS c WHERE payload_file IS NOT NULL
        AND digest IS NOT NULL AND mime IN ({", ".join("?" * len(mimes))})
        AND (status BETWEEN 200 AND 299 OR (status IS NULL AND record_type = 'resource'))
        {missing if missing_only else ""}
        GROUP BY url, digest ORDER BY payload_file, payload_offset""", mimes).fetchall()


def _record_texts(db: Any, done: list[tuple[str, str, str | None]]) -> None:
    """Record in the catalog (inside a transaction) which document each (url, digest, key)
    gave, for the pair and for every capture of it."""
    db.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?, ?)", done)
    db.executemany("UPDATE captures SET text_key = ? WHERE url = ? AND digest = ?",
                   [(key, url, digest) for url, digest, key in done])


def _extract_texts(collection: Collection, todo: list[tuple], texts: TextIndex,
                   summary: IndexSummary, record: Callable[[list[tuple]], None], *,
                   workers: int | None, progress: bool) -> None:
    """Extract the payloads of `todo` (as `_texts_to_extract` gives them) into `texts`,
    committing every _TEXT_COMMIT payloads and then handing `record` the (url, digest, text
    key or None) of each payload committed."""
    sites = {(url, digest): site for url, digest, *_, site in todo}
    jobs = [[(u, d, str(collection.root / f), o, n, m) for u, d, f, o, n, m, _ in
             todo[i:i + _TEXT_JOB]] for i in range(0, len(todo), _TEXT_JOB)]
    done: list[tuple[str, str, str | None]] = []

    def flush() -> None:
        texts.commit()
        record(list(done))
        done.clear()

    with tqdm(total=len(todo), desc="full text", disable=not progress) as bar, \
            closing(map_jobs(_extract, jobs, workers, parallel=len(jobs) > 1)) as batches:
        for results in batches:
            for url, digest, extracted, problem in results:
                summary.texts += 1
                if problem:
                    summary.damaged.append(problem)
                key = None
                if extracted is not None and (extracted.full_text.strip()
                                              or extracted.title.strip()):
                    key = text_key(url, extracted.full_text)
                    if not texts.has(key):
                        texts.add(TextDoc(
                            text_key=key, url=url, site=sites[(url, digest)],
                            title=extracted.title, main_text=extracted.main_text,
                            full_text=extracted.full_text, description=extracted.description,
                            language=extracted.language, published=extracted.published))
                        summary.documents += 1
                done.append((url, digest, key))
            bar.update(len(results))
            if len(done) >= _TEXT_COMMIT:
                flush()
        flush()


def rebuild_fulltext(collection: Collection, *, progress: bool = False,
                     workers: int | None = None) -> IndexSummary:
    """Rebuild the full-text index of the configured engine from the catalog and the WARCs
    (to switch engines, or to recover a lost or outdated index): every text-bearing capture
    is extracted again into a new index, beside the one in use, which searches keep
    answering from meanwhile, complete. Then, in one catalog transaction, the catalog's
    links to documents are replaced and readers are pointed at the new index; the old one
    is removed once the searches that had it open are done. Text keys depend only on URL
    and text, so the links usually come out the same. Two rebuilds of one collection must
    not run at once."""
    config = collection.load_config() if collection.config_path.exists() else None
    engine = engine_name(config)
    summary = IndexSummary()
    started = time.perf_counter()
    directory = new_index_dir(collection, engine)
    with _stop_at_write_failure(collection), Catalog.open(collection) as catalog:
        todo = _texts_to_extract(catalog.db, missing_only=False)
        extracted: list[tuple[str, str, str | None]] = []
        try:
            with open_index(collection, config, directory=directory) as texts:
                _extract_texts(collection, todo, texts, summary, extracted.extend,
                               workers=workers, progress=progress)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        with catalog.transaction() as db:
            db.execute("DELETE FROM texts")
            db.execute("UPDATE captures SET text_key = NULL")
            _record_texts(db, extracted)
            catalog.set_meta(ENGINE_META, engine)
            # last: should the switch fail, the catalog stays as the old index needs it
            unused = switch_index_dir(collection, engine, directory)
    time.sleep(_READERS_GRACE)
    for old in unused:
        shutil.rmtree(old, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


@contextmanager
def _stop_at_write_failure(collection: Collection) -> Iterator[None]:
    """Turn the first failure to write the catalog or the full-text index (a full disk, an
    I/O error) into WriteFailed, in one line. Every write is a transaction or a batch that
    the failure drops whole, so what was written before stays consistent."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
            raise
        raise WriteFailed(_cannot_write(collection.derived_dir / CATALOG_NAME,
                                        str(exc))) from None
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS:
            raise
        raise WriteFailed(_cannot_write(exc.filename or collection.derived_dir,
                                        exc.strerror)) from None
    except ValueError as exc:
        # Tantivy's I/O errors arrive as ValueError, naming the OS error
        errno_ = re.search(r"\(os error (\d+)\)", str(exc))
        if not errno_ or int(errno_.group(1)) not in _WRITE_ERRORS:
            raise
        raise WriteFailed(_cannot_write(collection.derived_dir,
                                        os.strerror(int(errno_.group(1))))) from None


def _cannot_write(path: str | os.PathLike, reason: str) -> str:
    return (f"cannot write {path}: {reason}; the catalog and the full-text index keep what "
            "was done before: make room, then run the command again")


def claim_engine(collection: Collection, catalog: Catalog, config: NetworkConfig | None
                 ) -> None:
    """Check that the catalog's texts are in the engine the config names, and record it
    for a catalog without texts yet. A collection switched to another engine must be
    rebuilt first: indexing on would put only the new texts in the new engine, and its
    searches would silently miss the older ones. Raises UsageError then."""
    engine = engine_name(config)
    held = catalog.get_meta(ENGINE_META)
    if held is None:
        # a catalog from before the engine was recorded: its texts are in the engine whose
        # index is not empty
        has_texts = catalog.db.execute(
            "SELECT 1 FROM texts WHERE text_key IS NOT NULL LIMIT 1").fetchone()
        if has_texts:
            with open_index(collection, config) as texts:
                held = engine if texts.count() else "another engine"
        else:
            held = engine
        if held == engine:
            with catalog.transaction():
                catalog.set_meta(ENGINE_META, engine)
    if held != engine:
        raise UsageError(engine_moved(held, engine))


def text_key(url: str, full_text: str) -> str:
    """The key of the full-text document of `url` with this text (docs/catalog-contract.md)."""
    return hashlib.sha1(f"{url}\0{full_text}".encode()).hexdigest()[:24]


def _apply_known_texts(db: Any) -> None:
    """Captures of an already extracted (URL, payload) get its document."""
    db.execute("""UPDATE captures SET text_key = (SELECT t.text_key FROM texts AS t
                  WHERE t.url = captures.url AND t.digest = captures.digest)
                  WHERE text_key IS NULL AND digest IS NOT NULL""")


def _extract(items: list[tuple]) -> list[tuple[str, str, Any, Damage | None]]:
    """Read and extract the payloads of (url, digest, file, offset, length, mime) items
    (runs in a worker process)."""
    from index.extract import MAX_TEXT_BYTES, extract

    out = []
    for url, digest, path, offset, length, mime in items:
        try:
            # extraction reads no further than this: a bomb is inflated no further either
            head, body = read_payload(path, offset, length, limit=MAX_TEXT_BYTES)
        except DamagedRecord as exc:
            out.append((url, digest, None, Damage(path, offset, str(exc), None)))
            continue
        charset = _CHARSET.search(head.get_header("Content-Type") or "")
        out.append((url, digest, extract(body, mime, url, charset and charset.group(1)), None))
    return out


def _refresh_sites(catalog: Catalog, config: NetworkConfig | None) -> None:
    """Recompute every capture's site when the network config changed since the last run."""
    digest = config.digest if config else ""
    if catalog.get_meta("config_digest") == digest:
        return
    with catalog.transaction():
        urls = [u for (u,) in catalog.db.execute("SELECT DISTINCT url FROM captures")]
        for url in urls:
            found = config.site_of(url) if config else None
            catalog.db.execute("UPDATE captures SET site = ? WHERE url = ?",
                               (found.name if found else None, url))
        catalog.set_meta("config_digest", digest)


def map_jobs(fn: Callable[[_T], _R], jobs: list[_T], workers: int | None, *,
             parallel: bool) -> Iterator[_R]:
    """`fn` over `jobs`, results in order; in worker processes when `parallel` is set and
    more than one worker is allowed (default: one per CPU). The workers never outlive this
    process: they stop when it leaves the loop, by an exception too, and die when it dies,
    even by kill -9."""
    count = min(workers or os.cpu_count() or 1, len(jobs))
    if not parallel or count < 2:
        yield from map(fn, jobs)
        return
    # forkserver: workers start clean, not as forks of a process that may run threads
    pool = ProcessPoolExecutor(count, mp_context=get_context("forkserver"),
                               initializer=_die_with, initargs=(os.getpid(),))
    try:
        yield from pool.map(fn, jobs)
    except BaseException:
        # a task already running would otherwise be waited for (at exit too)
        for process in list(pool._processes.values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _die_with(parent: int) -> None:
    """Make this worker exit as soon as process `parent` ends (a pool initializer).

    The workers are children of multiprocessing's forkserver, not of `parent`, and each
    holds the forkserver's keep-alive pipe and both ends of its task queue: killed, the
    parent would leave them (and so the forkserver) waiting for tasks for good. A pidfd
    becomes readable when its process ends, whoever ends it."""
    try:
        watched = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)

    def watch() -> None:
        select.select([watched], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(1 << 20)
            if chunk != fb.read(1 << 20):
                return False
            if not chunk:
                return True
