"""`palimpsest add`: WARC and ARC files written by any tool, brought into the collection.

Each file is copied into `<collection>/imported/<name>/` (under a temporary name until the
copy is whole), a WACZ package's WARCs extracted there (index/wacz/reader.py: into a temporary
folder first, moved in by one rename), then the collection is indexed as `palimpsest index`
would.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from index.collection import ARCHIVE_SUFFIXES, CONFIG_FILE, Collection, ConfigSource
from index.config import NetworkConfig
from index.errors import UsageError
from index.index_summary import IndexSummary
from index.indexer import update
from index.wacz.reader import StagedImport, stage_import
from index.warc_reader import is_arc, looks_like_archive

# `~` too: our crawler's older file names hold one (…-00000-<pid>~<host>.warc.gz)
_FOLDER_NAME = re.compile(r"[\w.~-]+")
_ARCHIVE_END = re.compile(r"\.w?arc(\.gz)?$")
WACZ_SUFFIX = ".wacz"


def add_warcs(collection: Collection, paths: Iterable[str | os.PathLike], *,
              name: str | None = None, progress: bool = False, fulltext: bool = True,
              config: NetworkConfig | None | ConfigSource = CONFIG_FILE) -> IndexSummary:
    """Copy WARC (or ARC) files written by any tool into `<collection>/imported/<name>/`
    (`name` defaults to each file's name without its extension), and the WARCs of WACZ
    packages (`.wacz`) into `imported/<name>/` (default: the package's name), then
    `update()`. A file already there with the same bytes is not copied twice; a different
    file of the same name is never overwritten. Raises UsageError (or BadPackage), before
    anything is added, for a file that is missing, is not a WARC, ARC or WACZ, or would
    clash."""
    given = [Path(p) for p in paths]
    plan = [(source, _target(collection, source, name)) for source in given
            if not source.name.endswith(WACZ_SUFFIX)]
    staged: list[StagedImport] = []
    try:
        for source in given:
            if source.name.endswith(WACZ_SUFFIX):
                folder = name or source.name.removesuffix(WACZ_SUFFIX)
                staged.append(stage_import(collection, source, _folder(collection, folder)))
        collection.root.mkdir(parents=True, exist_ok=True)
        for source, target in plan:
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                # copy under a temporary name, so an interrupted copy is never taken for a WARC
                partial = target.with_name(target.name + ".part")
                shutil.copyfile(source, partial)
                os.replace(partial, target)
        for package in staged:
            package.move_in()
    finally:
        for package in staged:
            package.discard()
    return update(collection, config=config, progress=progress, fulltext=fulltext)


def _target(collection: Collection, source: Path, name: str | None) -> Path:
    """Where `source` goes in the collection; UsageError if it cannot go there."""
    _check_archive(source)
    target = _folder(collection, name or _ARCHIVE_END.sub("", source.name)) / source.name
    if target.exists() and not _same_bytes(source, target):
        raise UsageError(f"{target.relative_to(collection.root)} already holds a different "
                         f"file: give the import another name (--name)")
    return target


def _folder(collection: Collection, folder: str) -> Path:
    """`imported/<folder>` of the collection; UsageError if `folder` cannot name one."""
    if not _FOLDER_NAME.fullmatch(folder) or folder.strip(".") == "":
        raise UsageError(f"{folder!r} cannot name an import folder (letters, digits, "
                         "'.', '_', '~' and '-' only)")
    return collection.inside(f"imported/{folder}")


def _check_archive(source: Path) -> None:
    """UsageError unless `source` is a readable file that begins with a WARC or ARC record."""
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
