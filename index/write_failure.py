"""Turning a failed write of the derived files (a full disk, an I/O error) into WriteFailed.

Every write of the catalog and the full-text index is a transaction or a batch that the
failure drops whole, so what was written before stays consistent and the command can simply
be run again once there is room.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from index.catalog import CATALOG_NAME
from index.collection import Collection
from index.errors import WriteFailed

# the errors of a write that cannot be done (disk full, quota, I/O error, read-only)
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)
# how Tantivy names the OS error in the ValueError it raises
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


@contextmanager
def stop_at_write_failure(collection: Collection) -> Iterator[None]:
    """Turn the first failure to write the catalog or the full-text index (a full disk, an
    I/O error) into WriteFailed, in one line. Other errors pass through unchanged."""
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
        found = _OS_ERROR.search(str(exc))
        if not found or int(found.group(1)) not in _WRITE_ERRORS:
            raise
        raise WriteFailed(_cannot_write(collection.derived_dir,
                                        os.strerror(int(found.group(1))))) from None


def _cannot_write(path: str | os.PathLike, reason: str) -> str:
    return (f"cannot write {path}: {reason}; the catalog and the full-text index keep what "
            "was done before: make room, then run the command again")
