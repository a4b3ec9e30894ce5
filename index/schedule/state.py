"""What `palimpsest monitor` keeps in the collection between runs, and its lock.

    <collection>/monitor/state.json   the fetches of the last 24 hours (the budget's window),
                                      the new links waiting for their first fetch, the crawls
                                      it ran; written whole to a temporary file and renamed
    <collection>/monitor/lock         flock'ed by the running monitor, holding its pid

When each page was last visited is not kept here: the catalog says so, from the WARCs, so a
monitor stopped at any point (or a `palimpsest crawl` run meanwhile) leaves nothing to redo.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from index.collection import Collection
from index.errors import PalimpsestError

STATE_DIR = "monitor"
STATE_NAME = "state.json"
LOCK_NAME = "lock"
MAX_CANDIDATES = 100_000  # new links waiting: the oldest are dropped past this
MAX_TRIED = 100_000


class MonitorRunning(PalimpsestError):
    """Another monitor holds the collection's lock."""


@dataclass
class MonitorState:
    """`fetches`: [days since the epoch, site, URL] of the last 24 hours; `candidates`: new
    links (URL -> site) for the next crawl; `tried`: new links a crawl asked for and did not
    capture (refused by robots.txt, say), not asked for again; `crawls`: every crawl the
    monitor ran, all kept (index.notify reads them: such a crawl fetched the pages due, not
    whole sites, and is compared page by page); `notify`: crawls indexed whose
    notifications have not gone out yet; `running`: the crawl under way, still set after a
    kill."""

    fetches: list[list] = field(default_factory=list)
    candidates: dict[str, str] = field(default_factory=dict)
    tried: list[str] = field(default_factory=list)
    crawls: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    running: str | None = None  # the crawl under way (left set: the monitor was killed)

    @classmethod
    def load(cls, collection: Collection) -> MonitorState:
        """The saved state; a fresh one if there is none (a torn one cannot be: see save)."""
        path = state_path(collection)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, json.JSONDecodeError) as exc:
            raise PalimpsestError(f"cannot read the monitor's state {path}: {exc}") from None
        return cls(fetches=list(raw.get("fetches", [])),
                   candidates=dict(raw.get("candidates", {})),
                   tried=list(raw.get("tried", [])), crawls=list(raw.get("crawls", [])),
                   notify=list(raw.get("notify", [])), running=raw.get("running"))

    def save(self, collection: Collection) -> None:
        write_json_atomically(state_path(collection), {
            "fetches": self.fetches, "candidates": self.candidates,
            "tried": self.tried[-MAX_TRIED:], "crawls": self.crawls,
            "notify": self.notify, "running": self.running})

    def recent(self, now: float) -> list[tuple[float, str]]:
        """(time, site) of each fetch in the 24 hours before `now` (days)."""
        return [(t, site) for t, site, _url in self.fetches if now - t < 1.0]

    def record_fetches(self, now: float, fetched: list[tuple[str, str]]) -> None:
        """Count (URL, site) fetched at `now` against the budget; forget fetches over a day
        old."""
        self.fetches = [f for f in self.fetches if now - f[0] < 1.0]
        self.fetches += [[now, site, url] for url, site in fetched]

    def add_candidates(self, found: dict[str, str]) -> int:
        """Keep new links (URL -> site) not tried before for the next crawl; how many were
        new."""
        tried = set(self.tried)
        new = {u: s for u, s in found.items() if u not in tried and u not in self.candidates}
        self.candidates.update(new)
        while len(self.candidates) > MAX_CANDIDATES:
            self.candidates.pop(next(iter(self.candidates)))
        return len(new)


def state_path(collection: Collection) -> Path:
    return collection.root / STATE_DIR / STATE_NAME


class MonitorLock:
    """One monitor per collection: an exclusive flock on `<collection>/monitor/lock`, freed by
    the kernel when the process ends however it ends."""

    def __init__(self, collection: Collection) -> None:
        self.path = collection.root / STATE_DIR / LOCK_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> MonitorLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until __exit__)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise MonitorRunning(f"another `palimpsest monitor` (pid {holder}) is watching "
                                 f"{self.path.parent.parent}: one monitor per collection"
                                 ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._file = lock
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None


def write_json_atomically(path: Path, value: object) -> None:
    """Write `value` as JSON at `path` so that a reader (or a kill) sees the old file or the
    new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(value, out, ensure_ascii=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
