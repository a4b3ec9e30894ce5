"""`palimpsest export`: the collection, or a selection of it, as one WACZ 1.1.1 file.

    archive/*.warc.gz          the WARCs, stored (not deflated): a whole collection's files
                               as they are, a selection's records copied into new files
    indexes/index.cdx.gz       the CDXJ as ZipNum blocks, and indexes/index.idx over them
    pages/pages.jsonl          the pages with their titles and extracted texts
    datapackage.json           every resource with its sha256 and size
    datapackage-digest.json    the sha256 of datapackage.json (and its signature)

Everything streams: each member is hashed as it is written, WARCs are copied a chunk at a
time, the CDXJ is sorted on disk and the pages read a batch at a time, so peak memory does
not grow with the collection. The zip is written beside its final name and renamed into
place once whole, so a failed export leaves no half-written package.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from index import __version__
from index.catalog import Catalog
from index.cdxj import cdxj_line
from index.collection import Collection
from index.errors import CatalogOutOfDate, UsageError
from index.wacz.pages import PAGES_PATH, given_page_lines, page_lines
from index.wacz.records import SelectionCopier
from index.wacz.selection import Selection, resolve
from index.wacz.zipnum import CDX_NAME, SortedLines, write_zipnum
from index.warc_names import PORTABLE_NAME, portable_name

WACZ_VERSION = "1.1.1"
SOFTWARE = f"palimpsest {__version__}"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    captures: int  # the captures the selection names (the whole collection: all of them)
    records: int  # CDXJ lines of the package's index
    pages: int
    warc_files: int
    bytes: int  # of the .wacz
    signed: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "captures": self.captures, "records": self.records,
                "pages": self.pages, "warc_files": self.warc_files, "bytes": self.bytes,
                "signed": self.signed}


def export_wacz(collection: Collection, out_path: str | os.PathLike,
                selection: Selection | None = None, *, title: str | None = None,
                extra_files: dict[str, bytes] | None = None, sign: bool = False,
                pages: Iterable[dict[str, Any]] | None = None) -> ExportSummary:
    """Write `selection` of `collection` (None: all of it) as a WACZ at `out_path`.

    `extra_files` ({path in the zip: bytes}, e.g. `evidence/receipt.json`) go into the zip
    and into datapackage.json's resources. `pages` replaces the pages list made from the
    selection (dicts with url, ts and optionally title, text, id). With `sign`,
    index.wacz.signing.sign_digest(collection, datapackage.json's bytes) gives the
    signedData of datapackage-digest.json. UsageError for a bad path, extra file or
    selection; CatalogOutOfDate if the catalog does not hold the WARCs as on disk."""
    out = _out_path(out_path)
    extra = _checked_extra(extra_files or {})
    selection = selection or Selection()
    with Catalog.open(collection) as catalog, \
            tempfile.TemporaryDirectory(prefix=".palimpsest-export-", dir=out.parent) as work:
        _check_catalog(catalog)
        partial = out.with_name(out.name + ".part")
        try:
            with _Package(partial) as package:
                summary = _write(package, collection, catalog, selection, Path(work),
                                 pages, title, extra, sign)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return ExportSummary(out, *summary, out.stat().st_size, sign)


def _write(package: _Package, collection: Collection, catalog: Catalog, selection: Selection,
           work: Path, pages: Iterable[dict[str, Any]] | None, title: str | None,
           extra: dict[str, bytes], sign: bool) -> tuple[int, int, int, int]:
    """Every member of the package; (captures, CDXJ lines, pages, WARC files)."""
    lines = SortedLines(work)
    try:
        if selection.is_everything:
            captures = catalog.count()
            warc_files = _copy_whole_files(package, collection, catalog, lines)
        else:
            captures = resolve(collection, catalog, selection)
            warc_files = _copy_selection(package, collection, catalog, lines)
        records = lines.count
        _write_index(package, lines, work)
    finally:
        lines.close()
    page_count = _write_pages(package, collection, catalog, selection, pages, work)
    for path, data in extra.items():
        package.add_bytes(path, data)
    datapackage = _datapackage(package.resources, title, selection)
    package.add_bytes("datapackage.json", datapackage, listed=False)
    package.add_bytes("datapackage-digest.json", _digest(collection, datapackage, sign),
                      listed=False)
    return captures, records, page_count, warc_files


def _copy_whole_files(package: _Package, collection: Collection, catalog: Catalog,
                      lines: SortedLines) -> int:
    """Every catalogued WARC as it is, under its portable name; the catalog's CDXJ lines
    naming them so."""
    names = archive_names(sorted(catalog.indexed_files()))
    for rel, name in names.items():
        package.add_file(f"archive/{name}", collection.inside(rel))
    for entry in catalog.cdx_entries(precise=True):
        lines.add(cdxj_line(*entry[:-1], names[entry[-1]]))
    return len(names)


def _copy_selection(package: _Package, collection: Collection, catalog: Catalog,
                    lines: SortedLines) -> int:
    """The selection's records into new WARC files (ARC files with a selected record
    whole), and their CDXJ lines."""
    member: list[_Member] = []

    def open_warc(name: str, big: bool) -> _Member:
        # its size is known only once written; SelectionCopier keeps a file under 1 GiB
        # unless one record group is larger: only then are its headers given room for
        # zip64 sizes (ReplayWeb.page misreads a member with zip64 local headers)
        member.append(package.open(f"archive/{name}", force_zip64=big))
        return member[-1]

    copier = SelectionCopier(collection, open_warc, lambda: member.pop().close(), lines.add)
    plan = copier.copy(catalog.export_records())
    if plan.whole_files:
        # an ARC file goes in whole: its selected records' lines name it at their offsets
        names = archive_names(plan.whole_files)
        for rel, name in names.items():
            package.add_file(f"archive/{name}", collection.inside(rel))
        for record in catalog.export_records():
            if record.warc_file in names:
                lines.add(cdxj_line(*record.cdx[:-1], names[record.warc_file]))
    return plan.warc_files + len(plan.whole_files)


def _write_index(package: _Package, lines: SortedLines, work: Path) -> None:
    """indexes/index.cdx.gz and indexes/index.idx, each written to a scratch file first so
    that its size, and whether it needs zip64, is known when it goes into the zip."""
    cdx_path, idx_path = work / CDX_NAME, work / "index.idx"
    with open(cdx_path, "wb") as cdx, open(idx_path, "wb") as idx:
        write_zipnum(iter(lines), cdx.write, idx)
    package.add_file(f"indexes/{CDX_NAME}", cdx_path)
    package.add_file("indexes/index.idx", idx_path, stored=False)


def _write_pages(package: _Package, collection: Collection, catalog: Catalog,
                 selection: Selection, pages: Iterable[dict[str, Any]] | None,
                 work: Path) -> int:
    """pages/pages.jsonl; returns how many pages it lists."""
    if pages is not None:
        lines = given_page_lines(pages)
    else:
        lines = page_lines(collection,
                           catalog.export_pages(selected=not selection.is_everything))
    counted = [-1]  # the header is no page

    def counting() -> Iterator[bytes]:
        for line in lines:
            counted[0] += 1
            yield line

    # written to a scratch file first: a member's size must be known when it is opened for
    # zipfile to write zip64 headers only where needed (ReplayWeb.page misreads a deflated
    # member whose local header has zip64 sizes)
    path = work / "pages.jsonl"
    with open(path, "wb") as out:
        for chunk in _chunks(counting()):
            out.write(chunk)
    package.add_file(PAGES_PATH, path, stored=False)
    return counted[0]


def _chunks(pieces: Iterable[bytes], size: int = _CHUNK) -> Iterator[bytes]:
    """`pieces` joined into chunks of about `size` bytes."""
    held: list[bytes] = []
    length = 0
    for piece in pieces:
        held.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(held)
            held, length = [], 0
    if held:
        yield b"".join(held)


def archive_names(warc_files: Iterable[str]) -> dict[str, str]:
    """{file relative to the collection: its name in archive/}: portable (index.warc_names),
    and unique (a clash gets -1, -2... before its extension)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for rel in warc_files:
        name = portable_name(rel.rsplit("/", 1)[-1])
        stem, dot, ext = name.partition(".")
        n = 0
        while name in taken:
            n += 1
            name = f"{stem}-{n}{dot}{ext}"
        taken.add(name)
        names[rel] = name
    return names


def _datapackage(resources: list[dict[str, Any]], title: str | None,
                 selection: Selection) -> bytes:
    package = {"profile": "data-package", "resources": resources,
               "wacz_version": WACZ_VERSION, "software": SOFTWARE,
               "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "title": title or "Palimpsest collection",
               "description": f"Exported from Palimpsest: {selection.describe()}"}
    return json.dumps(package, indent=2).encode()


def _digest(collection: Collection, datapackage: bytes, sign: bool) -> bytes:
    digest: dict[str, Any] = {"path": "datapackage.json",
                              "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest()}
    if sign:
        try:
            from index.wacz.signing import sign_digest
        except ImportError:
            raise UsageError("signing is not available in this version: export with "
                             "--no-sign") from None
        digest["signedData"] = sign_digest(collection, datapackage)
    return json.dumps(digest, indent=2).encode()


def _out_path(out_path: str | os.PathLike) -> Path:
    out = Path(out_path).resolve()
    if out.suffix.lower() != ".wacz":
        raise UsageError(f"{out_path}: a WACZ file's name ends in .wacz")
    if not out.parent.is_dir():
        raise UsageError(f"{out_path}: no directory {out.parent}")
    if out.is_dir():
        raise UsageError(f"{out_path} is a directory")
    return out


def _checked_extra(extra: dict[str, bytes]) -> dict[str, bytes]:
    reserved = ("archive/", "indexes/", "pages/", "datapackage")
    for path in extra:
        if not PORTABLE_NAME.match(path) or path.startswith(reserved) or ".." in path \
                or path.startswith("/"):
            raise UsageError(f"{path!r} cannot name an extra file of a WACZ "
                             "(a-z, 0-9, '-', '.', '_', '/' only, outside the WACZ's own)")
    return extra


def _check_catalog(catalog: Catalog) -> None:
    stale = catalog.files_out_of_date()
    if stale:
        more = f" and {len(stale) - 1} more" if len(stale) > 1 else ""
        raise CatalogOutOfDate(f"the catalog does not hold {stale[0]}{more} as on disk: "
                               "run `palimpsest index`, then export again")
    if catalog.count() == 0:
        raise UsageError("nothing to export: the collection has no captures")


class _Member:
    """A member of the zip being written, hashed and counted as it is written."""

    def __init__(self, package: _Package, path: str, handle: BinaryIO) -> None:
        self.package, self.path, self.handle = package, path, handle
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha.update(data)
        self.size += len(data)

    def tell(self) -> int:
        return self.size

    def write_all(self, chunks: Iterable[bytes]) -> None:
        """Write `chunks`, the zip's part of the work (CRC, deflate, the disk) in a thread of
        its own while the next chunk is made and hashed: zlib and hashlib let go of the GIL,
        so the two overlap on a second core."""
        pending: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        failed: list[BaseException] = []

        def drain() -> None:
            while (data := pending.get()) is not None:
                if not failed:
                    try:
                        self.handle.write(data)
                    except BaseException as exc:  # raised below, in the caller's thread
                        failed.append(exc)

        thread = threading.Thread(target=drain, name="wacz-member", daemon=True)
        thread.start()
        try:
            for data in chunks:
                if failed:
                    break
                self.sha.update(data)
                self.size += len(data)
                pending.put(data)
        finally:
            pending.put(None)
            thread.join()
        if failed:
            raise failed[0]

    def close(self, listed: bool = True) -> None:
        self.handle.close()
        if listed:
            self.package.list_resource(self.path, self.sha.hexdigest(), self.size)


class _Package:
    """The zip, written member by member, and the datapackage resources of its members."""

    def __init__(self, path: Path) -> None:
        # deflated members (pages.jsonl, the idx, the JSON) at level 1: pages.jsonl holds
        # every page's text, and level 6 took 3x the time of copying the WARCs for 2/3 the size
        self.zip = zipfile.ZipFile(path, "w", allowZip64=True, compresslevel=1)
        self.resources: list[dict[str, Any]] = []
        self._names: set[str] = set()
        self._moment = datetime.now(UTC).timetuple()[:6]

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def open(self, path: str, *, stored: bool = True, size: int | None = None,
             force_zip64: bool = False) -> _Member:
        info = zipfile.ZipInfo(path, self._moment)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        if size is not None:
            info.file_size = size  # zipfile then writes zip64 headers if it needs them
        return _Member(self, path, self.zip.open(info, "w", force_zip64=force_zip64))

    def add_file(self, path: str, source: Path, *, stored: bool = True) -> None:
        member = self.open(path, stored=stored, size=source.stat().st_size)
        with open(source, "rb") as stream:
            member.write_all(iter(lambda: stream.read(_CHUNK), b""))
        member.close()

    def add_bytes(self, path: str, data: bytes, *, listed: bool = True) -> None:
        member = self.open(path, stored=False, size=len(data))
        member.write(data)
        member.close(listed)

    def list_resource(self, path: str, sha256: str, size: int) -> None:
        name = path.rsplit("/", 1)[-1].lower()
        if name in self._names:  # resource names are unique in a data package
            name = path.replace("/", "-").lower()
        self._names.add(name)
        self.resources.append({"name": name, "path": path, "hash": f"sha256:{sha256}",
                               "bytes": size})

