"""Whether a file changed since it was read, for caches of what is parsed from it (the
network config, the catalog, a full-text index's meta file): each keeps the stamp of the
files it read and reads again when the stamp differs.
"""

from __future__ import annotations

from pathlib import Path

Stamp = tuple[tuple[int, int, int] | None, ...]


def file_stamp(*paths: Path) -> Stamp:
    """(modification time in ns, size, inode) of each of `paths`, None for one that does not
    exist: equal stamps, unchanged files (a file replaced by another has another inode).
    Take it before reading: a change during the read then gives a new stamp next time,
    never an old stamp on new contents."""
    stamps = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            stamps.append(None)
            continue
        stamps.append((info.st_mtime_ns, info.st_size, info.st_ino))
    return tuple(stamps)


def catalog_stamp(path: Path) -> Stamp:
    """The stamp of the SQLite catalog at `path`: in WAL mode, a write shows in its -wal
    file first. An empty -wal holds no write: a reader opening the catalog creates one, and
    that must not read as a change (it would throw away what a server read as it started)."""
    main, wal = file_stamp(path, path.with_name(path.name + "-wal"))
    return (main, wal if wal and wal[1] else None)
