"""Which full-text engine, and where its index is: the one module that knows the engines'
names, reads $PALIMPSEST_ENGINE and imports the engine modules.

The engine is the one the config names (`[search] engine`), overridden by $PALIMPSEST_ENGINE;
a collection without a config (imported WARCs only) takes $PALIMPSEST_ENGINE or the default.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from index.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from index.search.engine import TextIndex

ENGINES = ("whoosh", "tantivy")
DEFAULT_ENGINE = "whoosh"
ENGINE_ENV = "PALIMPSEST_ENGINE"


# What this module reads of an index.collection.Collection and an index.config.NetworkConfig:
# named here rather than imported, because both import this module (for the engines' names).
class Collection(Protocol):
    @property
    def derived_dir(self) -> Path: ...


class _SearchSection(Protocol):
    @property
    def engine(self) -> str: ...


class NetworkConfig(Protocol):
    @property
    def search(self) -> _SearchSection: ...


def check_config_engine(engine: str) -> str:
    """`engine` as the config's `search.engine` gives it; ConfigError if no engine has
    that name."""
    if engine not in ENGINES:
        raise ConfigError("search.engine: must be " + " or ".join(f'"{e}"' for e in ENGINES))
    return engine


def engine_override() -> str | None:
    """The engine $PALIMPSEST_ENGINE names (None if unset); UsageError if no engine has
    that name."""
    engine = os.environ.get(ENGINE_ENV)
    if engine and engine not in ENGINES:
        raise UsageError(f"{ENGINE_ENV}={engine}: must be " + " or ".join(ENGINES))
    return engine or None


def engine_name(config: NetworkConfig | None) -> str:
    """The engine the config names; without a config (a collection of imported WARCs
    only), $PALIMPSEST_ENGINE or whoosh."""
    return config.search.engine if config else engine_override() or DEFAULT_ENGINE


def engine_moved(indexed_in: str, engine: str) -> str:
    """What to do when the catalog's texts are in another engine than the configured one."""
    return (f"the full-text index is in {indexed_in}, but the config names {engine}: run "
            f"`palimpsest index --rebuild` to rebuild it in {engine}")


def open_index(collection: Collection, config: NetworkConfig | None, *,
               directory: Path | None = None) -> TextIndex:
    """The collection's full-text index in the engine the config names (created if absent):
    the one `index_dir` names, or the one in `directory`."""
    engine = engine_name(config)
    directory = directory or index_dir(collection, engine)
    if engine == "whoosh":
        from index.search.whoosh_engine import WhooshIndex

        return WhooshIndex(directory)
    if engine == "tantivy":
        from index.search.tantivy_engine import TantivyIndex

        return TantivyIndex(directory)
    raise UsageError(f"unknown search engine {engine!r}")


def let_go_of_indexes() -> None:
    """Close what an engine keeps open between searches in this process, for a reader of
    every document (an export) that would otherwise keep all it read mapped in memory."""
    tantivy_engine = sys.modules.get("index.search.tantivy_engine")
    if tantivy_engine is not None:
        tantivy_engine.forget_open()


# -- where an engine's index is ------------------------------------------------------------
# A rebuild writes a whole new index beside the one in use and then points readers at it, so
# that searches meanwhile answer from the old one, complete, never from a half-built one. The
# pointer is a file holding the directory's name, replaced in one rename; without one (as a
# collection is until its first rebuild) the index is in `fulltext-<engine>`.


def index_dir(collection: Collection, engine: str) -> Path:
    """The directory of the engine's full-text index in use."""
    pointer = _pointer(collection, engine)
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        name = ""
    return collection.derived_dir / (name or f"fulltext-{engine}")


def new_index_dir(collection: Collection, engine: str) -> Path:
    """A directory, not yet existing, for a new index of the engine (`switch_index_dir`
    makes it the one in use)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    return collection.derived_dir / f"fulltext-{engine}-{stamp}-{os.getpid()}"


def switch_index_dir(collection: Collection, engine: str, directory: Path) -> list[Path]:
    """Point readers at the index in `directory`, at once: a reader that opened the index
    before keeps answering from the old one. Returns the engine's other directories, now
    unused (the one replaced, those of rebuilds that were killed)."""
    pointer = _pointer(collection, engine)
    partial = pointer.with_name(pointer.name + ".part")
    with open(partial, "w") as stream:
        stream.write(directory.name + "\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, pointer)
    return [p for p in collection.derived_dir.glob(f"fulltext-{engine}*")
            if p.is_dir() and p.name != directory.name]


def _pointer(collection: Collection, engine: str) -> Path:
    return collection.derived_dir / f"fulltext-{engine}.current"
