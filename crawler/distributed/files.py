"""A worker's files in the crawl folder it shares with the other workers on its machine.

Each worker has `workers/<name>/` (its crawl log, its own summary, and a lock file it holds
while alive) and writes WARC files ending in `-<name>.warc.gz`. A worker killed with -9
leaves its lock free and perhaps a torn `.open` WARC: the next worker to start in the folder,
or the crawl's first process when the crawl ends, cuts that file back to its last whole
record as `crawl --resume` does (crawler.warc_writer.repair_open_file). The first process
merges every worker's log into the crawl's one `crawl-log.jsonl` and summary at the end.
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from crawler.report import summarize, write_summary
from crawler.warc_writer import OPEN_SUFFIX, repair_open_file
from index.crawl_log import LOG_NAME
from index.warc_names import name_part

WORKERS_DIR = "workers"
LOCK_NAME = "alive.lock"


def worker_name() -> str:
    """This process's name in file names: pid and host, as the WARC file names of a crawl
    end (crawler/warc_writer.py), within the portable set of index/warc_names.py."""
    return f"{os.getpid()}-{name_part(socket.gethostname())}"


def worker_dir(crawl_dir: Path, name: str) -> Path:
    return crawl_dir / WORKERS_DIR / name


def hold_lock(crawl_dir: Path, name: str) -> IO[bytes]:
    """Take this worker's lock (held until the process ends, however it ends)."""
    directory = worker_dir(crawl_dir, name)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_NAME, "ab")  # noqa: SIM115 (held for the process's life)
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def repair_dead_workers(crawl_dir: Path) -> int:
    """Cut back the torn WARC files of workers no longer alive; the number of files."""
    repaired = 0
    for directory in sorted((crawl_dir / WORKERS_DIR).glob("*")):
        lock = directory / LOCK_NAME
        if not lock.exists():
            continue
        with open(lock, "ab") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # alive
            for torn in sorted(crawl_dir.glob(f"*-{directory.name}.warc.gz{OPEN_SUFFIX}")):
                repair_open_file(torn)
                repaired += 1
            lock.unlink()
    return repaired


def merge_logs(crawl_dir: Path, crawl_id: str, finish_reason: str) -> dict:
    """Every worker's crawl log as the crawl's one log, in time order (a killed worker's torn
    last line left out), and the crawl's summary from it."""
    logs = sorted((crawl_dir / WORKERS_DIR).glob(f"*/{LOG_NAME}"))
    target = crawl_dir / LOG_NAME
    tmp = target.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        streams = [_entries(path) for path in logs]
        for _when, line in heapq.merge(*streams):
            out.write(line)
    tmp.replace(target)
    summary = summarize(target, crawl_id=crawl_id, finish_reason=finish_reason)
    write_summary(crawl_dir, summary)
    return summary


def _entries(path: Path) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            if not line.endswith("\n"):
                return  # torn by a kill
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            yield entry.get("time", ""), line
