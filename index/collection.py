"""The collection: one directory holding the network config, the WARC files and what is
derived from them.

    <collection>/palimpsest.toml          the network config
    <collection>/crawls/<crawl id>/       one folder per crawl: WARCs, crawl log, summary
    <collection>/imported/<name>/         WARC and ARC files of other tools (`palimpsest add`)
    <collection>/derived/                 catalog and full-text index, rebuilt from the WARCs

Every path handed out here stays inside the collection directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from index.config import CONFIG_NAME, NetworkConfig, Search, load_config
from index.errors import UsageError
from index.search.engines import engine_override
from index.timestamps import timestamp_of

COLLECTION_ENV = "PALIMPSEST_COLLECTION"
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
_CRAWL_ID = re.compile(r"^[0-9]{14}(-[0-9]+)?$")


class ConfigSource(Enum):
    """Where a library function is to take the network config from when not handed one."""

    FILE = "the collection's palimpsest.toml, read once"


# the default of a `config` parameter: the caller holds no config, read the collection's
CONFIG_FILE = ConfigSource.FILE


@dataclass(frozen=True)
class Collection:
    root: Path

    @classmethod
    def locate(cls, given: str | os.PathLike | None = None) -> Collection:
        """The collection named by `given`, else $PALIMPSEST_COLLECTION, else ./warcs."""
        root = given or os.environ.get(COLLECTION_ENV) or "warcs"
        return cls(Path(root).resolve())

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def crawls_dir(self) -> Path:
        return self.root / "crawls"

    @property
    def imported_dir(self) -> Path:
        return self.root / "imported"

    @property
    def derived_dir(self) -> Path:
        return self.root / "derived"

    def load_config(self) -> NetworkConfig:
        """The network config, with the engine overridden by $PALIMPSEST_ENGINE if set."""
        config = load_config(self.config_path)
        engine = engine_override()
        if engine:
            config = replace(config, search=Search(engine=engine))
        return config

    def config_if_any(self, given: NetworkConfig | None | ConfigSource = CONFIG_FILE
                      ) -> NetworkConfig | None:
        """`given`, or for CONFIG_FILE the network config as `load_config` reads it, and
        None for a collection without one (WARC files imported on their own)."""
        if given is not CONFIG_FILE:
            return given
        return self.load_config() if self.config_path.exists() else None

    def crawl_ids(self) -> list[str]:
        """Every crawl folder's id, oldest first (ids sort by their start time)."""
        if not self.crawls_dir.is_dir():
            return []
        return sorted(p.name for p in self.crawls_dir.iterdir()
                      if p.is_dir() and _CRAWL_ID.match(p.name))

    def crawl_dir(self, crawl_id: str) -> Path:
        if not _CRAWL_ID.match(crawl_id):
            raise UsageError(f"{crawl_id!r} is not a crawl id (14 digits, e.g. 20261125061729)")
        return self.crawls_dir / crawl_id

    def new_crawl_id(self, now: datetime | None = None) -> str:
        """A fresh crawl id: the UTC start time, with a counter if two start in one second."""
        stamp = timestamp_of(now or datetime.now(UTC))
        existing = set(self.crawl_ids())
        crawl_id, n = stamp, 1
        while crawl_id in existing:
            crawl_id, n = f"{stamp}-{n}", n + 1
        return crawl_id

    def warc_files(self) -> Iterator[Path]:
        """Every closed WARC (or ARC) file of the collection, in a stable order (files still
        being written carry `.open` and are left out)."""
        for top in (self.crawls_dir, self.imported_dir):
            if top.is_dir():
                yield from sorted(p for p in top.rglob("*")
                                  if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))

    def inside(self, relative: str) -> Path:
        """`relative` resolved against the collection; refuses any path that leaves it."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise UsageError(f"{relative!r} is outside the collection")
        return path
