"""Web bench: bounded concurrent clients on loopback against search, timeline and capture pages.

Builds the demo collection (the sample network crawled at revisions 1 and 2, indexed) unless
`--collection` names one, serves it with `palimpsest serve` (waitress) in a child process, and
runs `--clients` threads for `--seconds`, each sending one request after another. Prints
requests/s, p50/p95 latency per page kind, and errors. Never asserts.

    .venv/bin/python bench/web.py [--seconds 30] [--clients 8] [--collection DIR]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.catalog import Catalog  # noqa: E402
from index.collection import Collection  # noqa: E402
from palimpsest.demo import crawl_both_revisions  # noqa: E402

QUERIES = ['"on behalf of"', "alliance", "security cooperation", "title:summit", "site:allyvia",
           "regional OR humanitarian", "recruit*", "mediation -ceasefire"]


def build_demo(root: Path) -> Collection:
    collection = Collection(root)
    crawl_both_revisions(collection)
    return collection


def targets(collection: Collection) -> dict[str, list[str]]:
    with Catalog.open(collection) as catalog:
        pages = [c for c in catalog.all_captures() if c.mime == "text/html" and c.status == 200]
    urls = sorted({c.url for c in pages})[:40]
    return {
        "search": [f"/search?q={quote(q)}" for q in QUERIES],
        "timeline": [f"/web/*/{u}" for u in urls],
        "capture": [f"/web/{c.timestamp}/{c.url}" for c in pages[:40]],
    }


def client(port: int, paths: list[tuple[str, str]], stop: float,
           results: dict[str, list[float]], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for kind, path in itertools.cycle(paths):
        if time.monotonic() >= stop:
            break
        start = time.perf_counter()
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                errors.append(f"{answer.status} {path}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__} {path}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        results[kind].append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--collection")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        collection = (Collection.locate(args.collection) if args.collection
                      else build_demo(Path(tmp) / "demo"))
        kinds = targets(collection)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # waitress's log (e.g. "Task queue depth" under load) goes to a file, not the figures
        log = open(Path(tmp) / "serve.log", "w+")
        server = subprocess.Popen([sys.executable, "-m", "palimpsest.cli", "serve",
                                   "--collection", str(collection.root), "--port", str(port)],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            mixed = [(k, p) for k, paths in kinds.items() for p in paths]
            results: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []
            stop = time.monotonic() + args.seconds
            threads = [threading.Thread(target=client, args=(port, mixed[i::args.clients]
                                                             + mixed, stop, results, errors))
                       for i in range(args.clients)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(10)
            log.seek(0)
            queued = sum("Task queue depth" in line for line in log)
            log.close()
    total = sum(len(v) for v in results.values())
    print(f"{args.clients} clients for {elapsed:.1f} s on loopback (waitress, 8 threads): "
          f"{total / elapsed:.0f} requests/s, {len(errors)} errors")
    print(f"{'page':<10}{'requests':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for kind, times in results.items():
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"{kind:<10}{len(times):>10}{1000 * statistics.median(times):>9.1f}"
              f"{1000 * p95:>9.1f}")
    for error in errors[:5]:
        print("error:", error)
    print(f"waitress queued requests {queued} times (all 8 threads busy)")
    print("goal: 0 errors, search p95 <= 200 ms")


if __name__ == "__main__":
    main()
