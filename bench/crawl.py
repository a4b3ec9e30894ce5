"""Crawl bench: Palimpsest against `wget --mirror --warc-file` on the same sample network.

The sample network runs in a process of its own (`palimpsest sample-network`) with a
per-response latency (default 20 ms), as an HTTP proxy on loopback. Palimpsest crawls all
five sites at once with one connection per site; wget mirrors them one after the other, as an
archivist would script it. For each: wall time, CPU time (user + system of the crawler
process), CPU per capture, peak memory, and captures written; and Palimpsest's fixed start-up
cost, from a one-page crawl. Prints the figures and the ratios; never asserts.

    .venv/bin/python bench/crawl.py [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.collection import Collection  # noqa: E402
from palimpsest.sample_network import SITES, manifest  # noqa: E402
from palimpsest.setup import write_config  # noqa: E402


@dataclass(frozen=True)
class Network:
    url: str  # the proxy


@dataclass
class Run:
    name: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    captures: int
    pages: int

    @property
    def cpu_ms_per_capture(self) -> float:
        return 1000 * self.cpu_s / max(self.captures, 1)


def measured(command: list[str], ok: tuple[int, ...] = (0,), **kwargs
             ) -> tuple[float, float, float]:
    """Run `command`; return its wall seconds, CPU seconds and peak RSS in MB."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               **kwargs)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        raise SystemExit(f"{command[0]} failed: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def count_captures(warcs: list[Path]) -> tuple[int, int]:
    captures = pages = 0
    for path in warcs:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    captures += 1
                    mime = record.http_headers.get_header("Content-Type") or ""
                    pages += mime.startswith("text/html")
    return captures, pages


def run_palimpsest(network: Network, work: Path) -> Run:
    collection = Collection(work / "palimpsest")
    write_config(collection, (), network.url)
    command = [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection",
               str(collection.root), "--concurrency-per-site", "1", "--delay", "0"]
    wall, cpu, peak = measured(command, cwd=ROOT)
    warcs = sorted(collection.crawls_dir.rglob("*.warc.gz"))
    return Run("palimpsest", wall, cpu, peak, *count_captures(warcs))


def run_startup(network: Network, work: Path) -> Run:
    """Palimpsest's fixed cost: interpreter, imports, Scrapy engine, for a one-page crawl."""
    collection = Collection(work / "startup")
    write_config(collection, (), network.url)
    command = [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection",
               str(collection.root), "--site", "paxpoint", "--max-pages", "1", "--delay", "0"]
    wall, cpu, peak = measured(command, cwd=ROOT)
    warcs = sorted(collection.crawls_dir.rglob("*.warc.gz"))
    return Run("start-up", wall, cpu, peak, *count_captures(warcs))


def run_wget(network: Network, work: Path) -> Run:
    out = work / "wget"
    out.mkdir()
    env = {**os.environ, "http_proxy": network.url, "no_proxy": ""}
    wall = cpu = peak = 0.0
    for name, seed in SITES:
        # --level keeps wget out of the endless calendar (it has no trap guard)
        command = ["wget", "--mirror", "--level=6", "--page-requisites", "--no-verbose",
                   "--tries=1", f"--warc-file={out / name}", "-e", "robots=on",
                   "--directory-prefix", str(out / "files"), seed]
        # wget exits 8 when a server answered an error, as the broken link does
        w, c, p = measured(command, ok=(0, 8), env=env)
        wall, cpu, peak = wall + w, cpu + c, max(peak, p)
    return Run("wget", wall, cpu, peak, *count_captures(sorted(out.glob("*.warc.gz"))))


@contextmanager
def sample_network_process(latency_ms: int) -> Iterator[Network]:
    """The sample network in a child process, so its CPU and GIL stay out of the figures."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "palimpsest.cli", "sample-network", "--port", str(port),
         "--latency-ms", str(latency_ms)], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield Network(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=20)
    args = parser.parse_args()
    with sample_network_process(args.latency_ms) as network, \
            tempfile.TemporaryDirectory() as tmp:
        ours = run_palimpsest(network, Path(tmp))
        startup = run_startup(network, Path(tmp))
        peer = run_wget(network, Path(tmp))
    print(f"sample network: {len(manifest(1).pages)} pages in revision 1, "
          f"latency {args.latency_ms} ms, one connection per site")
    print(f"{'crawler':<12}{'wall s':>8}{'CPU s':>8}{'CPU ms/capture':>16}{'peak MB':>9}"
          f"{'captures':>10}{'pages':>7}")
    for run in (ours, startup, peer):
        print(f"{run.name:<12}{run.wall_s:>8.2f}{run.cpu_s:>8.2f}{run.cpu_ms_per_capture:>16.2f}"
              f"{run.peak_mb:>9.1f}{run.captures:>10}{run.pages:>7}")
    print(f"wall time ratio palimpsest/wget: {ours.wall_s / peer.wall_s:.2f} (goal <= 0.5)")
    print(f"palimpsest CPU per capture: {ours.cpu_ms_per_capture:.2f} ms (goal <= 3); "
          "after start-up: "
          f"{1000 * (ours.cpu_s - startup.cpu_s) / (ours.captures - startup.captures):.2f} ms")
    print("wall time ratio after start-up (palimpsest less its one-page run): "
          f"{(ours.wall_s - startup.wall_s) / peer.wall_s:.2f}")


if __name__ == "__main__":
    main()
