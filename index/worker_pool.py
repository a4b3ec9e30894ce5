"""Running one function over many jobs in worker processes that never outlive their parent.

The indexer reads WARC files and extracts texts this way, and verify checks files this way:
results come back in order, the workers stop when the caller leaves its loop (by an
exception too), and they die when the caller dies, even by kill -9.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def map_jobs(fn: Callable[[_T], _R], jobs: list[_T], workers: int | None, *,
             parallel: bool) -> Iterator[_R]:
    """`fn` over `jobs`, results in order; in worker processes when `parallel` is set and
    more than one worker is allowed (default: one per CPU). The workers never outlive this
    process: they stop when it leaves the loop, by an exception too, and die when it dies,
    even by kill -9."""
    count = min(workers or os.cpu_count() or 1, len(jobs))
    if not parallel or count < 2:
        yield from map(fn, jobs)
        return
    # forkserver: workers start clean, not as forks of a process that may run threads
    pool = ProcessPoolExecutor(count, mp_context=get_context("forkserver"),
                               initializer=_die_with, initargs=(os.getpid(),))
    try:
        yield from pool.map(fn, jobs)
    except BaseException:
        # a task already running would otherwise be waited for (at exit too)
        for process in list(pool._processes.values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _die_with(parent: int) -> None:
    """Make this worker exit as soon as process `parent` ends (a pool initializer).

    The workers are children of multiprocessing's forkserver, not of `parent`, and each
    holds the forkserver's keep-alive pipe and both ends of its task queue: killed, the
    parent would leave them (and so the forkserver) waiting for tasks for good. A pidfd
    becomes readable when its process ends, whoever ends it."""
    try:
        watched = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)

    def watch() -> None:
        select.select([watched], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
