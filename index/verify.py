"""Checking that the archive is intact: every record readable, every digest right, every
catalogued capture still where the catalog says it is.

Digests are checked by `WarcReader(check_digests=True)`, not warcio's DigestVerifyingReader:
that one skips a revisit's block digest, takes a lower-case base32 digest for a mismatch, and
when the HTTP headers are left to the caller (as the resyncing reader reads them) digests the
payload from the start of the block.

`verify()` re-reads every WARC file of the collection (in worker processes when that pays),
recomputes each record's block digest and payload digest and compares them with the record's
headers, lists every stretch that cannot be read, and checks each catalogued capture against
the record now at its offset (same record id, same payload digest, same length).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.catalog import Catalog
from index.collection import Collection
from index.warc_reader import WarcReader
from index.worker_pool import map_jobs

# below this much to read, starting worker processes costs more than it saves
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """One thing wrong with the archive."""

    file: str  # relative to the collection
    offset: int | None
    record_id: str | None
    what: str

    def __str__(self) -> str:
        where = self.file if self.offset is None else f"{self.file} at offset {self.offset}"
        record = f" record {self.record_id}" if self.record_id else ""
        return f"{where}{record}: {self.what}"

    def to_json(self) -> dict:
        return {"file": self.file, "offset": self.offset, "record_id": self.record_id,
                "what": self.what}


@dataclass
class VerifyReport:
    """What `verify()` found; `ok` when there is no fault."""

    files: int = 0
    records: int = 0
    captures_checked: int = 0
    faults: list[Fault] = field(default_factory=list)
    not_catalogued: list[str] = field(default_factory=list)  # files `index` has not read yet
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.faults

    def to_json(self) -> dict:
        return {"ok": self.ok, "files": self.files, "records": self.records,
                "captures_checked": self.captures_checked,
                "faults": [f.to_json() for f in self.faults],
                "not_catalogued": self.not_catalogued, "seconds": round(self.seconds, 3)}

    def __str__(self) -> str:
        lines = [str(f) for f in self.faults]
        lines += [f"{name}: not catalogued yet (run `palimpsest index`)"
                  for name in self.not_catalogued]
        verdict = "no faults" if self.ok else f"{len(self.faults)} faults"
        lines.append(f"verified {self.records} records in {self.files} WARC files and "
                     f"{self.captures_checked} catalogued captures in {self.seconds:.1f}s: "
                     f"{verdict}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Seen:
    """What a record read back from a WARC file says of itself."""

    record_id: str | None
    digest: str | None
    length: int


@dataclass
class _FileCheck:
    """What reading one WARC file with digest checks found."""

    rel: str  # the file, relative to the collection
    records: int = 0
    seen: dict[int, _Seen] = field(default_factory=dict)  # by offset
    faults: list[Fault] = field(default_factory=list)


def verify(collection: Collection, *, progress: bool = False,
           workers: int | None = None) -> VerifyReport:
    """Re-read and check every WARC record of `collection` against its own digests and
    against the catalog. Never raises for a damaged archive: every fault is in the report."""
    started = time.monotonic()
    report = VerifyReport()
    with Catalog.open(collection) as catalog:
        indexed = catalog.indexed_files()
        files = {p.relative_to(collection.root).as_posix(): p for p in collection.warc_files()}
        for missing in sorted(indexed.keys() - files.keys()):
            report.faults.append(Fault(missing, None, None, "catalogued WARC file is missing"))
        jobs = sorted(files.items())
        total = sum(p.stat().st_size for _, p in jobs)
        with tqdm(total=total, unit="B", unit_scale=True, desc="verify",
                  disable=not progress or not jobs) as bar:
            for checked in map_jobs(_check_file, jobs, workers,
                                    parallel=total >= _PARALLEL_MIN_BYTES):
                report.files += 1
                report.records += checked.records
                report.faults += checked.faults
                if checked.rel in indexed:
                    report.faults += _against_catalog(catalog, checked.rel, checked.seen,
                                                      report)
                else:
                    report.not_catalogued.append(checked.rel)
                bar.update(files[checked.rel].stat().st_size)
    report.seconds = time.monotonic() - started
    return report


def _check_file(job: tuple[str, Path]) -> _FileCheck:
    """Read one file with digest checks (runs in a worker process)."""
    rel, path = job
    reader = WarcReader(path, check_digests=True)
    checked = _FileCheck(rel)
    for record in reader:
        checked.records += 1
        checked.seen[record.offset] = _Seen(record.record_id, record.payload_digest,
                                            record.length)
        checked.faults += [Fault(rel, record.offset, record.record_id, problem)
                           for problem in record.digest_faults]
    for damage in reader.damage:
        after = ("nothing readable after it" if damage.resumed_at is None
                 else f"reading resumed at offset {damage.resumed_at}")
        checked.faults.append(Fault(rel, damage.offset, None,
                                    f"unreadable: {damage.what} ({after})"))
    return checked


def _against_catalog(catalog: Catalog, rel: str, seen: dict[int, _Seen],
                     report: VerifyReport) -> list[Fault]:
    faults = []
    for capture in catalog.captures_in_file(rel):
        report.captures_checked += 1
        offset, record_id = capture.offset, capture.record_id
        found = seen.get(offset)
        what = f"catalogued capture of {capture.url} at {capture.timestamp}"
        if found is None:
            faults.append(Fault(rel, offset, record_id, f"{what}: no readable record here"))
        elif found.record_id != record_id:
            faults.append(Fault(rel, offset, record_id,
                                f"{what}: the record here is now {found.record_id}"))
        elif found.digest != capture.digest or found.length != capture.length:
            faults.append(Fault(rel, offset, record_id,
                                f"{what}: digest or length differ from the catalog "
                                f"({found.digest}, {found.length} bytes; catalog: "
                                f"{capture.digest}, {capture.length} bytes)"))
    return faults
