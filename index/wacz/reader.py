"""Reading WACZ packages from anyone (ours, Browsertrix's, py-wacz's) without trusting them.

`open_package()` opens the zip and refuses, with one line, anything that is not a sound WACZ
or could do harm: a member named with `..`, an absolute or drive path, a backslash or a NUL; a
symlink; an encrypted member; a member inflating past `_MAX_RATIO` times its stored size; a
datapackage.json past `_MAX_JSON_BYTES`. Members are read through zipfile, which stops at
each member's declared size and checks its CRC, so a lying header cannot make one grow.

`verify_package()` checks a package as a third party would: the zip reads back, every
resource of datapackage.json is there with its hash and size, nothing is there unlisted, the
datapackage-digest.json hash is datapackage.json's, and the signature (wacz-auth, anonymous)
verifies against its publicKey. `stage_import()` is `palimpsest add FILE.wacz`'s half: the
package's WARCs and page titles extracted into a temporary folder inside the collection, each
WARC checked against its hash, then moved in as `imported/<name>/` by one rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from index.collection import Collection
from index.errors import BadPackage, UsageError
from index.wacz.signing import digest_of, signature_problems
from index.wacz.titles import TITLES_FILE
from index.warc_reader import looks_like_archive

DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
PAGES = ("pages/pages.jsonl", "pages/extraPages.jsonl")

_MAX_MEMBERS = 200_000
_MAX_JSON_BYTES = 16 << 20  # datapackage.json, datapackage-digest.json
_MAX_PAGE_LINE = 1 << 20  # one line of pages.jsonl (its text included)
_MAX_PAGES = 2_000_000
_MAX_RATIO = 200  # inflated / stored, past _RATIO_FLOOR: a bomb, not a WARC
_RATIO_FLOOR = 64 << 20
_DISK_MARGIN = 256 << 20  # left free on the collection's disk after an import
_CHUNK = 1 << 20
_WARC_MEMBER = re.compile(r"archive/([\w.~-]+\.warc(\.gz)?)")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Resource:
    """One file datapackage.json vouches for."""

    path: str
    hash: str | None
    size: int | None


class Package:
    """An open, checked WACZ: its zip members by name and datapackage.json's resources."""

    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.zip = archive
        self.members = _checked_members(archive)
        if DATAPACKAGE not in self.members:
            raise BadPackage(f"{path}: not a WACZ (a zip without {DATAPACKAGE})")
        self.datapackage_bytes = self.read_json_bytes(DATAPACKAGE)
        self.datapackage = _json_object(self.datapackage_bytes, DATAPACKAGE, path)
        self.resources = _resources(self.datapackage, path)

    def read_json_bytes(self, name: str) -> bytes:
        """A small JSON member's bytes (BadPackage past _MAX_JSON_BYTES or when damaged)."""
        info = self.members[name]
        if info.file_size > _MAX_JSON_BYTES:
            raise BadPackage(f"{self.path}: {name} is {info.file_size} bytes, more than a "
                             f"WACZ's {name} may be ({_MAX_JSON_BYTES} bytes)")
        return b"".join(self.chunks(name))

    def chunks(self, name: str) -> Iterator[bytes]:
        """A member's bytes, a chunk at a time; BadPackage if the zip's copy is damaged."""
        try:
            with self.zip.open(self.members[name]) as member:
                while chunk := member.read(_CHUNK):
                    yield chunk
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise BadPackage(f"{self.path}: {name} is damaged in the zip ({exc})") from None

    def warc_members(self) -> list[str]:
        """The package's WARC files, as zip member names (`archive/<file>`)."""
        return sorted(name for name in self.members if _WARC_MEMBER.fullmatch(name))


@contextmanager
def open_package(path: str | os.PathLike) -> Iterator[Package]:
    """The WACZ at `path`, checked (see the module's docstring); BadPackage if it is not one
    that can be read safely."""
    path = Path(path)
    if not path.is_file():
        raise BadPackage(f"{path}: no such file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise BadPackage(f"{path}: not a zip file, or a damaged one ({exc})") from None
    with archive:
        yield Package(path, archive)


def _checked_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise BadPackage(f"{archive.filename}: {len(infos)} members, more than a WACZ may "
                         f"have here ({_MAX_MEMBERS})")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise BadPackage(f"{archive.filename}: member {info.filename!r} {problem}")
        if info.filename in members:
            raise BadPackage(f"{archive.filename}: member {info.filename!r} is there twice")
        if not info.is_dir():
            members[info.filename] = info
    return members


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member may not be read or extracted, or None."""
    name = info.filename
    parts = name.rstrip("/").split("/")
    if (name.startswith("/") or _DRIVE.match(name) or "\\" in name or "\x00" in name
            or any(part in ("", ".", "..") for part in parts)):
        return "has a name that could leave the folder it is extracted into"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.file_size > _RATIO_FLOOR and info.file_size > _MAX_RATIO * max(info.compress_size, 1):
        return (f"would inflate {info.compress_size} bytes into {info.file_size} (a zip "
                "bomb, not an archive)")
    return None


def _json_object(data: bytes, name: str, path: Path) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        raise BadPackage(f"{path}: {name} is not JSON") from None
    if not isinstance(value, dict):
        raise BadPackage(f"{path}: {name} is not a JSON object")
    return value


def _resources(datapackage: dict, path: Path) -> list[Resource]:
    listed = datapackage.get("resources")
    if not isinstance(listed, list):
        raise BadPackage(f"{path}: not a WACZ ({DATAPACKAGE} lists no resources)")
    resources = []
    for item in listed:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise BadPackage(f"{path}: {DATAPACKAGE} has a resource without a path")
        size = item.get("bytes")
        resources.append(Resource(item["path"], item.get("hash") if isinstance(
            item.get("hash"), str) else None, size if isinstance(size, int) else None))
    return resources


# -- verify ---------------------------------------------------------------------------------

@dataclass
class PackageReport:
    """What `verify_package()` found: `ok` when nothing failed."""

    path: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return {"file": self.path, "ok": self.ok, "passed": self.passed,
                "failed": self.failed, "notes": self.notes}

    def __str__(self) -> str:
        lines = ([f"ok      {line}" for line in self.passed]
                 + [f"FAILED  {line}" for line in self.failed]
                 + [f"note    {line}" for line in self.notes])
        verdict = ("intact" if self.ok else
                   f"NOT intact: {len(self.failed)} check{'s' if len(self.failed) != 1 else ''}"
                   " failed")
        return "\n".join([*lines, f"{self.path}: {verdict}"])


def verify_package(path: str | os.PathLike) -> PackageReport:
    """Check the WACZ at `path` as a third party would (see the module's docstring). A file
    that cannot be opened as a WACZ at all raises BadPackage; every other fault is a line
    of the report's `failed`."""
    with open_package(path) as package:
        report = PackageReport(str(path))
        _check_resources(package, report)
        _check_digest_and_signature(package, report)
    return report


def _check_resources(package: Package, report: PackageReport) -> None:
    listed = {r.path for r in package.resources}
    intact = 0
    for resource in package.resources:
        fault = _resource_fault(package, resource)
        if fault:
            report.failed.append(f"{resource.path}: {fault}")
        else:
            intact += 1
    unlisted = sorted(set(package.members) - listed - {DATAPACKAGE, DIGEST})
    report.failed.extend(f"{name}: in the zip but not listed in {DATAPACKAGE}"
                         for name in unlisted)
    if intact:
        report.passed.append(f"{intact} of {len(package.resources)} resources read back "
                             f"whole from the zip with the hash and size {DATAPACKAGE} gives")


def _resource_fault(package: Package, resource: Resource) -> str | None:
    """What is wrong with one resource, or None when it matches datapackage.json."""
    if resource.path not in package.members:
        return f"listed in {DATAPACKAGE} but not in the zip"
    if resource.hash is None:
        return f"{DATAPACKAGE} gives it no hash"
    algorithm, _, expected = resource.hash.partition(":")
    if algorithm not in ("sha256", "md5") or not expected:
        return f"{DATAPACKAGE} gives its hash as {resource.hash!r}, not sha256:<hex>"
    digest, size = hashlib.new(algorithm), 0
    try:
        for chunk in package.chunks(resource.path):
            digest.update(chunk)
            size += len(chunk)
    except BadPackage:
        return "its bytes do not match the zip's CRC (changed or damaged since it was packed)"
    if digest.hexdigest() != expected.lower():
        return f"its {algorithm} is not the one {DATAPACKAGE} gives (the file was changed)"
    if resource.size is not None and size != resource.size:
        return f"{size} bytes, {DATAPACKAGE} says {resource.size}"
    return None


def _check_digest_and_signature(package: Package, report: PackageReport) -> None:
    if DIGEST not in package.members:
        report.notes.append(f"no {DIGEST}: {DATAPACKAGE} itself is not protected, and the "
                            "package is not signed")
        return
    try:
        digest = _json_object(package.read_json_bytes(DIGEST), DIGEST, package.path)
    except BadPackage as exc:
        report.failed.append(f"{DIGEST}: {str(exc).removeprefix(f'{package.path}: ')}")
        return
    expected = digest_of(package.datapackage_bytes)
    if digest.get("hash") != expected:
        report.failed.append(f"{DIGEST}: its hash is not {DATAPACKAGE}'s (one of the two "
                             "was changed)")
    else:
        report.passed.append(f"{DIGEST}: its hash is {DATAPACKAGE}'s")
    signed = digest.get("signedData")
    if signed is None:
        report.notes.append("not signed (no signedData)")
        return
    problems = signature_problems(signed, expected, package.datapackage.get("created"))
    report.failed.extend(problems)
    if not problems:
        report.passed.append(f"signature: verifies against its publicKey (made "
                             f"{signed.get('created')} by {signed.get('software')})")


# -- import ---------------------------------------------------------------------------------

@dataclass
class StagedImport:
    """A package's WARCs extracted beside the collection's, not yet in it."""

    temp: Path | None  # None: the same import is there already
    target: Path

    def move_in(self) -> None:
        """Put the import in place with one rename: it is in whole, or not at all."""
        if self.temp is not None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.temp, self.target)
            self.temp = None

    def discard(self) -> None:
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
            self.temp = None


def stage_import(collection: Collection, path: Path, target: Path) -> StagedImport:
    """Extract the WARCs (and page titles) of the WACZ at `path` into a temporary folder
    inside the collection, to become `target` on `move_in()`. BadPackage (nothing left
    behind) for a package that is damaged, is not a WACZ, holds no WARC, or whose WARCs do
    not match their hashes; UsageError when `target` holds a different import."""
    with open_package(path) as package:
        names = package.warc_members()
        if not names:
            raise BadPackage(f"{path}: not a WACZ this can import (no .warc or .warc.gz "
                             "file under archive/)")
        hashes = {r.path: r.hash for r in package.resources}
        if target.exists():
            return _already_there(package, names, hashes, target)
        _check_room(collection, package, names)
        collection.root.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=".wacz-import-", dir=collection.root))
        try:
            for name in names:
                _extract_warc(package, name, hashes.get(name), temp)
            _write_titles(package, temp / TITLES_FILE)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    return StagedImport(temp, target)


def _already_there(package: Package, names: list[str], hashes: dict[str, str | None],
                   target: Path) -> StagedImport:
    """The import is there already when every WARC of the package is, with its hash."""
    for name in names:
        there = target / name.removeprefix("archive/")
        expected = hashes.get(name)
        if not there.is_file() or expected is None or _file_hash(there, expected) != expected:
            raise UsageError(f"{target} already holds a different import: give this one "
                             "another name (--name)")
    return StagedImport(None, target)


def _file_hash(path: Path, like: str) -> str:
    algorithm = like.partition(":")[0]
    digest = hashlib.new(algorithm if algorithm in ("sha256", "md5") else "sha256")
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return f"{algorithm}:{digest.hexdigest()}"


def _check_room(collection: Collection, package: Package, names: list[str]) -> None:
    needed = sum(package.members[name].file_size for name in names)
    probe = collection.root if collection.root.exists() else collection.root.parent
    free = shutil.disk_usage(probe).free
    if needed + _DISK_MARGIN > free:
        raise BadPackage(f"{package.path}: its WARCs need {needed} bytes, and the "
                         f"collection's disk has {free} free")


def _extract_warc(package: Package, name: str, expected: str | None, folder: Path) -> None:
    """Copy one WARC out of the zip, hashing it on the way; BadPackage if it is damaged, not
    the file datapackage.json vouches for, or not a WARC."""
    out = folder / name.removeprefix("archive/")
    algorithm = (expected or "sha256:").partition(":")[0]
    if algorithm not in ("sha256", "md5"):
        algorithm = "sha256"
    digest = hashlib.new(algorithm)
    with open(out, "wb") as fh:
        for chunk in package.chunks(name):
            digest.update(chunk)
            fh.write(chunk)
    if expected is not None and f"{algorithm}:{digest.hexdigest()}" != expected.lower():
        raise BadPackage(f"{package.path}: {name} is not the file {DATAPACKAGE} vouches "
                         "for (its hash differs)")
    if not looks_like_archive(out):
        raise BadPackage(f"{package.path}: {name} is not a WARC file (it does not begin "
                         "with a WARC record)")


def _write_titles(package: Package, out: Path) -> None:
    """Keep each page's url, ts and title from the package's page lists (the text, which
    our own extraction gives again, is left out)."""
    kept = 0
    with open(out, "w", encoding="utf-8") as fh:
        for name in PAGES:
            if name not in package.members:
                continue
            for page in _pages(package, name):
                if kept >= _MAX_PAGES:
                    return
                fh.write(json.dumps(page, ensure_ascii=False) + "\n")
                kept += 1


def _pages(package: Package, name: str) -> Iterator[dict]:
    """The pages of one page list with a URL and a title; its header line and any line that
    is not a page (or is longer than _MAX_PAGE_LINE) are passed over."""
    buffer = b""
    for chunk in package.chunks(name):
        lines = (buffer + chunk).split(b"\n")
        buffer = lines.pop()
        if len(buffer) > _MAX_PAGE_LINE:
            buffer = b""  # an overlong line: dropped, and its tail with it below
        yield from filter(None, map(_page, lines))
    page = _page(buffer)
    if page:
        yield page


def _page(line: bytes) -> dict | None:
    if not line.strip() or len(line) > _MAX_PAGE_LINE:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("url"), str)
            and isinstance(value.get("title"), str) and value["title"].strip()):
        return None
    return {"url": value["url"], "ts": value.get("ts"), "title": value["title"].strip()}
