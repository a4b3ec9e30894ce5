"""Bomb bench: peak memory of crawl, index and replay against 1 GiB decompression bombs.

The hostile site of tests/test_bombs.py on loopback, each bomb `--size` MiB inflated (default
1024) and about 1/1000 of that on the wire: a gzip page, a page gzipped twice, a br page and a
gzipped sitemap. Palimpsest, with the default limits (max_response_bytes 20 MB), crawls it and
indexes it (child processes, peak RSS as the kernel accounted them), then serves it with
`palimpsest serve`, whose VmHWM is read from /proc before and after replaying every bomb page
(id_ as archived, mp_ rewritten). wget fetches the same site side by side, with its default
`--compression=none` (it stores the gzip body and reads no link from it) and with
`--compression=auto` (it inflates to disk and follows the links). Prints figures; never asserts.

    .venv/bin/python bench/bomb.py [--size MIB]
"""

from __future__ import annotations

import argparse
import http.client
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.catalog import Catalog  # noqa: E402
from index.collection import Collection  # noqa: E402
from palimpsest.setup import write_config  # noqa: E402
from tests.test_bombs import BOMB_PAGES, MIB, BombSite, peak_rss  # noqa: E402

PALIMPSEST = (sys.executable, "-m", "palimpsest.cli")


@dataclass
class Run:
    seconds: float
    peak: int  # bytes: the process's peak RSS, its waited-for descendants included
    code: int


def measured(*argv: str, cwd: Path = ROOT) -> Run:
    began = time.perf_counter()
    done, peak = peak_rss(*argv, cwd=cwd)
    return Run(time.perf_counter() - began, peak, done.returncode)


def high_water(pid: int) -> int:
    """VmHWM of a running process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


def replay_peaks(collection: Collection) -> tuple[int, list[tuple[str, float, int, int]]]:
    """`palimpsest serve` over the collection: its VmHWM once started, and for each bomb page
    and modifier (path, seconds, bytes served, VmHWM after it)."""
    with Catalog.open(collection) as catalog:
        captures = [c for c in catalog.all_captures() if c.status == 200]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*PALIMPSEST, "serve", "--collection", str(collection.root),
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        started = high_water(server.pid)
        rows = []
        for capture in captures:
            path = capture.url.split("/", 3)[3]
            if "/" + path not in BOMB_PAGES:
                continue
            for modifier in ("id_", "mp_"):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                began = time.perf_counter()
                connection.request("GET", f"/web/{capture.timestamp}{modifier}/{capture.url}")
                size = len(connection.getresponse().read())
                rows.append((f"/{path} {modifier}", time.perf_counter() - began, size,
                             high_water(server.pid)))
                connection.close()
        return started, rows
    finally:
        server.terminate()
        server.wait(10)


def wget(site: BombSite, work: Path, compression: str) -> tuple[Run, int]:
    """wget over the site: its run, and the bytes it left on disk (files and WARC)."""
    out = work / f"wget-{compression}"
    out.mkdir()
    run = measured("wget", "--recursive", "--level=2", "--no-verbose", "--tries=1",
                   f"--compression={compression}", f"--warc-file={out}/bombs",
                   "--directory-prefix", str(out / "files"), site.url, cwd=work)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return run, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB each bomb inflates to")
    args = parser.parse_args()
    began = time.perf_counter()
    with BombSite(args.size * MIB) as site, tempfile.TemporaryDirectory() as tmp:
        wire = {p: len(site.routes[p][1]) for p in [*BOMB_PAGES, "/sitemap.xml.gz"]}
        print(f"bombs of {args.size} MiB built in {time.perf_counter() - began:.1f} s; on the "
              "wire: " + ", ".join(f"{p} {n / 1e3:.0f} kB" for p, n in wire.items()))
        collection = Collection(Path(tmp) / "collection")
        write_config(collection, (f"bombs={site.url}",), None)
        where = ("--collection", str(collection.root))
        crawl = measured(*PALIMPSEST, "crawl", *where, "--delay", "0")
        index = measured(*PALIMPSEST, "index", *where)
        started, replays = replay_peaks(collection)
        peers = {mode: wget(site, Path(tmp), mode) for mode in ("none", "auto")}

    print(f"\n{'run':<34}{'exit':>5}{'wall s':>9}{'peak MiB':>10}")
    for name, run in (("palimpsest crawl", crawl), ("palimpsest index", index)):
        print(f"{name:<34}{run.code:>5}{run.seconds:>9.2f}{run.peak / MIB:>10.0f}")
    for mode, (run, size) in peers.items():
        print(f"{'wget --compression=' + mode:<34}{run.code:>5}{run.seconds:>9.2f}"
              f"{run.peak / MIB:>10.0f}   {size / MIB:,.0f} MiB left on disk")
    print(f"\npalimpsest serve: VmHWM {started / MIB:.0f} MiB once started")
    print(f"{'replay':<34}{'s':>9}{'bytes served':>15}{'VmHWM MiB':>11}")
    for path, seconds, size, peak in replays:
        print(f"{path:<34}{seconds:>9.2f}{size:>15,}{peak / MIB:>11.0f}")


if __name__ == "__main__":
    main()
