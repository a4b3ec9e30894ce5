"""Crawl bench: Palimpsest against `wget --mirror --warc-file` on the same sites, run side by side.

Two networks, each in a process of its own as an HTTP proxy on loopback, with a latency per
response: the bundled sample network (`palimpsest sample-network`), and five small-page sites
(bench/small_sites.py: 150 pages of 4 KB with six links each), served once without latency
(the crawler's CPU per page) and once with 20 ms (wall time). Palimpsest crawls the sites of a
network at once with one connection per site; wget mirrors them one after the other, as an
archivist would script it. For each: wall time, CPU time (user + system of the crawler
process), CPU per page and per capture, peak memory, captures written; and each tool's fixed
start-up cost, from a one-page crawl. Each run is repeated and the least CPU (the run the
shared machine disturbed least) and the median wall time kept. Prints figures and ratios;
never asserts.

    .venv/bin/python bench/crawl.py [--latency-ms 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import small_sites  # noqa: E402
from index.collection import Collection  # noqa: E402
from index.config import render_template  # noqa: E402
from palimpsest.sample_network import SITES, manifest  # noqa: E402
from palimpsest.setup import write_config  # noqa: E402


@dataclass(frozen=True)
class Network:
    url: str  # the proxy
    sites: tuple[tuple[str, str], ...]  # (name, seed)
    small: bool  # the small-page sites, else the sample network


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

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_s / max(self.pages, 1)


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
    """(response and revisit records, those of them that are HTML with a 200)."""
    captures = pages = 0
    for path in warcs:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    captures += 1
                    mime = record.http_headers.get_header("Content-Type") or ""
                    status = record.http_headers.get_statuscode()
                    pages += mime.startswith("text/html") and status == "200"
    return captures, pages


def _collection(network: Network, root: Path) -> Collection:
    collection = Collection(root)
    if network.small:
        root.mkdir(parents=True)
        collection.config_path.write_text(
            render_template(list(network.sites), name="small", proxy=network.url),
            encoding="utf-8")
    else:
        write_config(collection, (), network.url)
    return collection


def run_palimpsest(network: Network, work: Path, name: str = "palimpsest",
                   extra: tuple[str, ...] = ()) -> Run:
    collection = _collection(network, work / name)
    command = [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection",
               str(collection.root), "--concurrency-per-site", "1", "--delay", "0", *extra]
    wall, cpu, peak = measured(command, cwd=ROOT)
    warcs = sorted(collection.crawls_dir.rglob("*.warc.gz"))
    return Run(name, wall, cpu, peak, *count_captures(warcs))


def run_startup(network: Network, work: Path) -> Run:
    """Palimpsest's fixed cost: interpreter, imports, Scrapy engine, for a one-page crawl."""
    return run_palimpsest(network, work, "start-up",
                          ("--site", network.sites[0][0], "--max-pages", "1"))


def run_wget(network: Network, work: Path, name: str = "wget", one_page: bool = False) -> Run:
    out = work / name
    out.mkdir()
    env = {**os.environ, "http_proxy": network.url, "no_proxy": ""}
    wall = cpu = peak = 0.0
    for site, seed in network.sites[:1] if one_page else network.sites:
        # --level keeps wget out of the endless calendar (it has no trap guard)
        mirror = ["--level=0"] if one_page else ["--mirror", "--level=6"]
        command = ["wget", *mirror, "--page-requisites", "--no-verbose",
                   "--tries=1", f"--warc-file={out / site}", "-e", "robots=on",
                   "--directory-prefix", str(out / "files"), seed]
        # wget exits 8 when a server answered an error, as the broken link does
        w, c, p = measured(command, ok=(0, 8), env=env)
        wall, cpu, peak = wall + w, cpu + c, max(peak, p)
    return Run(name, wall, cpu, peak, *count_captures(sorted(out.glob("*.warc.gz"))))


def run_wget_startup(network: Network, work: Path) -> Run:
    """wget's fixed cost: the first site's seed page and its requisites, not recursive."""
    return run_wget(network, work, "wget start-up", one_page=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def network_process(small: bool, latency_ms: int) -> Iterator[Network]:
    """The network in a child process, so its CPU and GIL stay out of the figures."""
    port = _free_port()
    if small:
        command = [sys.executable, "bench/small_sites.py", "--port", str(port),
                   "--latency-ms", str(latency_ms)]
    else:
        command = [sys.executable, "-m", "palimpsest.cli", "sample-network", "--port",
                   str(port), "--latency-ms", str(latency_ms)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        sites = small_sites.SITES if small else SITES
        yield Network(f"http://127.0.0.1:{port}", tuple(sites), small)
    finally:
        server.terminate()
        server.wait(10)


def repeated(runner: Callable[[Network, Path], Run], network: Network, repeat: int) -> Run:
    """`runner` `repeat` times: the least CPU and peak memory, the median wall time."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(runner(network, Path(tmp)))
    best = min(runs, key=lambda r: r.cpu_s)
    best.wall_s = statistics.median(r.wall_s for r in runs)
    return best


def bench(small: bool, latency_ms: int, repeat: int) -> dict[str, Run]:
    with network_process(small, latency_ms) as network:
        return {runner.__name__: repeated(runner, network, repeat)
                for runner in (run_palimpsest, run_startup, run_wget, run_wget_startup)}


def report(title: str, runs: dict[str, Run]) -> None:
    ours, startup = runs["run_palimpsest"], runs["run_startup"]
    peer, peer_startup = runs["run_wget"], runs["run_wget_startup"]
    print(f"\n{title}")
    print(f"{'crawler':<15}{'wall s':>8}{'CPU s':>8}{'CPU ms/page':>13}{'ms/capture':>12}"
          f"{'peak MB':>9}{'captures':>10}{'pages':>7}")
    for run in (ours, startup, peer, peer_startup):
        print(f"{run.name:<15}{run.wall_s:>8.2f}{run.cpu_s:>8.2f}{run.cpu_ms_per_page:>13.2f}"
              f"{run.cpu_ms_per_capture:>12.2f}{run.peak_mb:>9.1f}{run.captures:>10}"
              f"{run.pages:>7}")
    after = 1000 * (ours.cpu_s - startup.cpu_s) / max(ours.pages - startup.pages, 1)
    peer_after = 1000 * (peer.cpu_s - peer_startup.cpu_s) / max(peer.pages - peer_startup.pages, 1)
    print(f"CPU ms/page: palimpsest {ours.cpu_ms_per_page:.2f}, wget {peer.cpu_ms_per_page:.2f} "
          f"(ratio {ours.cpu_s / peer.cpu_s:.2f}); after start-up: palimpsest {after:.2f}, "
          f"wget {peer_after:.2f}")
    print(f"start-up CPU s: palimpsest {startup.cpu_s:.2f}, wget {peer_startup.cpu_s:.3f}; "
          f"wall s: palimpsest {startup.wall_s:.2f}, wget {peer_startup.wall_s:.3f}")
    print(f"wall time ratio palimpsest/wget: {ours.wall_s / peer.wall_s:.2f}; after "
          f"start-up: {(ours.wall_s - startup.wall_s) / peer.wall_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("sample", "small"), help="one network only")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}; {args.repeat} runs each; "
          "one connection per site")
    if args.only != "small":
        report(f"sample network: {len(manifest(1).pages)} pages in revision 1, latency "
               f"{args.latency_ms} ms", bench(False, args.latency_ms, args.repeat))
    if args.only != "sample":
        pages = f"{small_sites.PAGES} pages of {small_sites.PAGE_BYTES} bytes, "\
                f"{small_sites.LINKS} links"
        report(f"small pages, 5 sites x {pages}, no latency (goal: <= 3 ms CPU a page)",
               bench(True, 0, args.repeat))
        report(f"small pages, 5 sites x {pages}, latency {args.latency_ms} ms "
               "(goal: wall time ratio <= 0.5)", bench(True, args.latency_ms, args.repeat))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
