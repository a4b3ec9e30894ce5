"""The full-text pass: the text of every text-bearing capture into the full-text index.

Each (URL, payload digest) is extracted once, in worker processes; later captures of it
(recrawls, revisits) reuse its document. `index_texts()` adds what is new after a catalog
update; `rebuild_fulltext()` extracts everything again into a new index beside the one in
use. The full-text index is committed before the catalog records what went into it, so a
kill leaves at worst a document that the next run finds already there.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from contextlib import closing
from typing import NamedTuple

from tqdm import tqdm

from index.catalog import ENGINE_META, Catalog
from index.catalog_records import TextLink, TextSource
from index.collection import CONFIG_FILE, Collection, ConfigSource
from index.config import NetworkConfig
from index.errors import DamagedRecord, UsageError
from index.extract import (
    HTML_TYPES,
    MAX_TEXT_BYTES,
    TEXT_TYPES,
    Extracted,
    charset_of,
    extract,
)
from index.index_summary import IndexSummary
from index.search.engine import TextDoc, TextIndex
from index.search.engines import (
    engine_moved,
    engine_name,
    new_index_dir,
    open_index,
    switch_index_dir,
)
from index.wacz.titles import imported_titles
from index.warc_reader import Damage, read_payload
from index.worker_pool import map_jobs
from index.write_failure import stop_at_write_failure

_TEXT_JOB = 200  # payloads per worker task
_TEXT_COMMIT = 2000  # documents per full-text commit (each Whoosh commit writes a segment)
# how long a replaced full-text index is kept for the searches that opened it (they take
# milliseconds, and hold its files open once they have begun)
_READERS_GRACE = 1.0


class _Payload(NamedTuple):
    """A payload for a worker to extract: where it is (an absolute path) and its type."""

    url: str
    digest: str
    path: str
    offset: int
    length: int
    mime: str


class _Text(NamedTuple):
    """What a worker made of a payload: its text (None if it has none), or the damage
    that kept it from being read."""

    url: str
    digest: str
    extracted: Extracted | None
    problem: Damage | None


def index_texts(collection: Collection, catalog: Catalog, config: NetworkConfig | None,
                summary: IndexSummary, *, workers: int | None, progress: bool) -> None:
    """Give every text-bearing 2xx capture of the catalog its full-text document."""
    catalog.apply_known_texts()
    todo = catalog.texts_to_extract(HTML_TYPES | TEXT_TYPES, missing_only=True)
    if not todo:
        return

    def record(done: list[TextLink]) -> None:
        with catalog.transaction():
            catalog.record_texts(done)

    with open_index(collection, config) as texts:
        _extract_texts(collection, todo, texts, summary, record, workers=workers,
                       progress=progress)


def rebuild_fulltext(collection: Collection, *,
                     config: NetworkConfig | None | ConfigSource = CONFIG_FILE,
                     progress: bool = False, workers: int | None = None) -> IndexSummary:
    """Rebuild the full-text index of the engine the network config names (`config`, by
    default the collection's) from the catalog and the WARCs (to switch engines, or to
    recover a lost or outdated index): every text-bearing capture is extracted again into a
    new index, beside the one in use, which searches keep answering from meanwhile,
    complete. Then, in one catalog transaction, the catalog's links to documents are
    replaced and readers are pointed at the new index; the old one is removed once the
    searches that had it open are done. Text keys depend only on URL and text, so the links
    usually come out the same. Two rebuilds of one collection must not run at once."""
    config = collection.config_if_any(config)
    engine = engine_name(config)
    summary = IndexSummary()
    started = time.perf_counter()
    directory = new_index_dir(collection, engine)
    with stop_at_write_failure(collection), Catalog.open(collection) as catalog:
        todo = catalog.texts_to_extract(HTML_TYPES | TEXT_TYPES, missing_only=False)
        extracted: list[TextLink] = []
        try:
            with open_index(collection, config, directory=directory) as texts:
                _extract_texts(collection, todo, texts, summary, extracted.extend,
                               workers=workers, progress=progress)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        with catalog.transaction():
            catalog.forget_texts()
            catalog.record_texts(extracted)
            catalog.set_meta(ENGINE_META, engine)
            # last: should the switch fail, the catalog stays as the old index needs it
            unused = switch_index_dir(collection, engine, directory)
    time.sleep(_READERS_GRACE)
    for old in unused:
        shutil.rmtree(old, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def claim_engine(collection: Collection, catalog: Catalog, config: NetworkConfig | None
                 ) -> None:
    """Check that the catalog's texts are in the engine the config names, and record it
    for a catalog without texts yet. A collection switched to another engine must be
    rebuilt first: indexing on would put only the new texts in the new engine, and its
    searches would silently miss the older ones. Raises UsageError then."""
    engine = engine_name(config)
    recorded = catalog.get_meta(ENGINE_META)
    if recorded is None:
        # a catalog from before the engine was recorded: its texts are in the engine whose
        # index is not empty
        recorded = engine
        if catalog.has_texts():
            with open_index(collection, config) as texts:
                recorded = engine if texts.count() else "another engine"
        if recorded == engine:
            with catalog.transaction():
                catalog.set_meta(ENGINE_META, engine)
    if recorded != engine:
        raise UsageError(engine_moved(recorded, engine))


def text_key(url: str, full_text: str) -> str:
    """The key of the full-text document of `url` with this text (docs/catalog-contract.md)."""
    return hashlib.sha1(f"{url}\0{full_text}".encode()).hexdigest()[:24]


def _extract_texts(collection: Collection, todo: list[TextSource], texts: TextIndex,
                   summary: IndexSummary, record: Callable[[list[TextLink]], None], *,
                   workers: int | None, progress: bool) -> None:
    """Extract the payloads of `todo` into `texts`, committing every _TEXT_COMMIT payloads
    and then handing `record` the document link of each payload committed."""
    sites = {(s.url, s.digest): s.site for s in todo}
    titles = imported_titles(collection)
    folders = {(s.url, s.digest): s.payload_file.rpartition("/")[0] for s in todo}
    jobs = [[_Payload(s.url, s.digest, str(collection.root / s.payload_file),
                      s.payload_offset, s.payload_length, s.mime) for s in todo[i:i + _TEXT_JOB]]
            for i in range(0, len(todo), _TEXT_JOB)]
    done: list[TextLink] = []

    def flush() -> None:
        texts.commit()
        record(list(done))
        done.clear()

    with tqdm(total=len(todo), desc="full text", disable=not progress) as bar, \
            closing(map_jobs(_extract, jobs, workers, parallel=len(jobs) > 1)) as batches:
        for results in batches:
            for result in results:
                summary.texts += 1
                if result.problem:
                    summary.damaged.append(result.problem)
                key = _add_document(texts, result, sites[(result.url, result.digest)],
                                    titles.get((folders[(result.url, result.digest)],
                                                result.url)), summary)
                done.append(TextLink(result.url, result.digest, key))
            bar.update(len(results))
            if len(done) >= _TEXT_COMMIT:
                flush()
        flush()


def _add_document(texts: TextIndex, result: _Text, site: str | None,
                  listed_title: str | None, summary: IndexSummary) -> str | None:
    """The key of the document of `result`'s text, added to `texts` unless it is there
    already; None for a payload without text or title. `listed_title` (an imported WACZ's
    page list's, index/wacz/titles.py) is taken over the title extraction finds."""
    extracted = result.extracted
    if extracted is None:
        return None
    title = listed_title or extracted.title
    if not (extracted.full_text.strip() or title.strip()):
        return None
    key = text_key(result.url, extracted.full_text)
    if not texts.has(key):
        texts.add(TextDoc(
            text_key=key, url=result.url, site=site, title=title,
            main_text=extracted.main_text, full_text=extracted.full_text,
            description=extracted.description, language=extracted.language,
            published=extracted.published))
        summary.documents += 1
    return key


def _extract(payloads: list[_Payload]) -> list[_Text]:
    """Read and extract `payloads` (runs in a worker process)."""
    out = []
    for p in payloads:
        try:
            # extraction reads no further than this: a bomb is inflated no further either
            head, body = read_payload(p.path, p.offset, p.length, limit=MAX_TEXT_BYTES)
        except DamagedRecord as exc:
            out.append(_Text(p.url, p.digest, None, Damage(p.path, p.offset, str(exc), None)))
            continue
        charset = charset_of(head.get_header("Content-Type"))
        out.append(_Text(p.url, p.digest, extract(body, p.mime, p.url, charset), None))
    return out
