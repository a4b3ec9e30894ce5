"""Distributed crawl bench (issue 16): 1, 2 and 4 workers sharing a crawl through Redis,
against one plain `palimpsest crawl` and `wget --recursive --warc-file` over the same sites,
run side by side; and two plain crawls side by side, each of every site into a collection of
its own, sharing nothing: how well two processes that need no coordination at all share
this machine, the yardstick for two workers.

The sites: SITES small sites, one per loopback address (127.0.0.2, 127.0.0.3, ...), PAGES
pages of 4 KB with six links each, served without latency by one asyncio server in this
process that notes each request's arrival by its own clock; a small delay per site keeps the
gaps worth measuring while the crawl stays CPU-bound (SITES / DELAY pages/s at most, far
above what two cores crawl). A redis-server of the bench's own on a free loopback port.

For each run: wall time, pages/s, CPU per page of the crawling processes (user + system, the
children's rusage) and of redis-server (/proc); the crawling processes' CPU per page and the
machine's idle share and the pages/s over the middle half of the pages (a quarter to three
quarters of them, by the sites' clock: the steady state, without start-up or close);
same-site gaps shorter than the delay, pages fetched twice, pages never captured, and the
share of the machine's CPU time the hypervisor gave to other guests meanwhile (steal,
/proc/stat: on this VM it comes and goes, and a run it hits is slower for it); then one run
of 2 workers + the first process with a worker killed -9 midway (pages lost: goal 0). Prints
figures and ratios; never asserts.

With --repeat N the shared runs are made N times, 1, 2, 4 workers in turn, and the ratios are
given two ways: between the best run of each (least disturbed), and as the median (and
range) of the N ratios of runs made one after the other.

    .venv/bin/python bench/distributed.py [--sites 16] [--pages 150] [--delay 0.02]
        [--workers 1,2,4] [--repeat 1] [--join ahead|midway]

The workers are started ahead of the crawl (`worker --wait`, as a standing pool of workers
is), or with `--join midway` once the crawl is in Redis (their start-up then falls inside
the crawl).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import Steal, steal_percent  # noqa: E402  (bench/machine.py)

PALIMPSEST = [sys.executable, "-m", "palimpsest.cli"]
TIMEOUT = 120  # seconds a shared run may take before it counts as a hang


class Sites:
    """`sites` sites of `pages` pages on 127.0.0.2 onwards, every arrival noted."""

    def __init__(self, sites: int, pages: int) -> None:
        self.pages = pages
        self.addresses = [f"127.0.0.{2 + i}" for i in range(sites)]
        self.port = _free_port(self.addresses[0])
        self.arrivals: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.bodies = [self._body(n) for n in range(pages)]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

    def _body(self, n: int) -> bytes:
        # a tree of six children a page (three hops to 150 pages), wrapping round at the end
        links = "".join(f'<p><a href="/p{(6 * n + k) % self.pages}">page '
                        f'{(6 * n + k) % self.pages}</a></p>' for k in range(1, 7))
        filler = ("<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6
                  + "</p>") * 9
        html = (f"<html><head><title>page {n}</title></head><body><h1>Page {n}</h1>{links}"
                f"{filler}</body></html>")
        return (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(html)}"
                "\r\nConnection: keep-alive\r\n\r\n" + html).encode()

    def seeds(self) -> dict[str, str]:
        return {f"s{i:02d}": f"http://{a}:{self.port}/p0" for i, a in enumerate(self.addresses)}

    def all_pages(self) -> set[str]:
        return {f"http://{a}:{self.port}/p{n}" for a in self.addresses
                for n in range(self.pages)}

    def _serve(self) -> asyncio.Protocol:
        return _Site(self)

    def start(self) -> None:
        def run() -> None:
            asyncio.set_event_loop(self._loop)
            for address in self.addresses:
                self._loop.run_until_complete(
                    self._loop.create_server(self._serve, address, self.port))
            self._ready.set()
            self._loop.run_forever()
        threading.Thread(target=run, daemon=True).start()
        self._ready.wait(10)

    def reset(self) -> None:
        self.arrivals.clear()

    def span_s(self) -> float:
        """From the first request of the run to the last, by the sites' clock: the crawl
        itself, without the processes' start-up and close."""
        times = [t for arrivals in self.arrivals.values() for t, _ in arrivals]
        return max(times) - min(times) if times else 0.0

    def longest_pause(self) -> tuple[float, float]:
        """The longest time no site got a request (a stall), and when it began (seconds after
        the first request)."""
        times = sorted(t for arrivals in self.arrivals.values() for t, _ in arrivals)
        return max(((b - a, a - times[0]) for a, b in zip(times, times[1:], strict=False)),
                   default=(0.0, 0.0))

    def short_gaps(self, delay: float) -> int:
        """Same-site gaps between two requests' arrivals shorter than `delay`."""
        short = 0
        for arrivals in self.arrivals.values():
            times = sorted(t for t, _ in arrivals)
            short += sum(1 for a, b in zip(times, times[1:], strict=False) if b - a < delay)
        return short

    def arrived(self) -> int:
        return sum(len(a) for a in self.arrivals.values())

    def fetched_twice(self) -> int:
        counts = Counter((a, p) for a, arrivals in self.arrivals.items() for _, p in arrivals)
        return sum(1 for (_, path), n in counts.items() if n > 1 and path.startswith("/p"))


class _Site(asyncio.Protocol):
    """One connection to the sites: a plain protocol, no streams (what the server costs a
    page counts against the crawl's CPU, on the same two cores)."""

    def __init__(self, sites: Sites) -> None:
        self.sites = sites
        self.buffer = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.address = transport.get_extra_info("sockname")[0]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        sites = self.sites
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            try:
                path = head.split(b" ", 2)[1].decode()
            except IndexError:
                self.transport.close()
                return
            sites.arrivals[self.address].append((time.monotonic(), path))
            n = path[2:]
            if path.startswith("/p") and n.isdigit() and int(n) < sites.pages:
                self.transport.write(sites.bodies[int(n)])
            else:
                self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, work: Path) -> None:
        self.port = _free_port("127.0.0.1")
        self.process = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(work)],
            stdout=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)

    def cpu_s(self) -> float:
        return _proc_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Run:
    name: str
    wall_s: float
    span_s: float  # first request to last
    cpu_s: float
    redis_cpu_s: float
    pages: int
    short_gaps: int
    twice: int
    lost: int
    server_cpu_s: float = 0.0  # this process's: the sites' asyncio server, mostly
    steal_s: float = 0.0  # CPU time the hypervisor gave other guests meanwhile (all CPUs)
    mid_ms: float = 0.0  # CPU a page of the crawling processes over the middle half (Midway)
    mid_idle: float = 0.0  # the machine's idle share then
    mid_rate: float = 0.0  # pages/s then

    def line(self) -> str:
        per = 1000 / max(self.pages, 1)
        steal = steal_percent(self.steal_s, self.wall_s)
        return (f"{self.name:<38}{self.wall_s:>7.1f}{self.pages / self.wall_s:>9.0f}"
                f"{self.span_s:>7.1f}{self.rate:>9.0f}"
                f"{self.cpu_s * per:>10.2f}{self.mid_rate:>9.0f}{self.mid_ms:>9.2f}"
                f"{100 * self.mid_idle:>7.0f}"
                f"{self.redis_cpu_s * per:>10.3f}"
                f"{self.server_cpu_s * per:>10.3f}"
                f"{self.short_gaps:>8}{self.twice:>7}{self.lost:>6}{steal:>8.1f}")

    @property
    def rate(self) -> float:
        """Pages/s while crawling (first request to last)."""
        return self.pages / max(self.span_s, 1e-6)


HEADER = (f"{'run':<38}{'wall s':>7}{'pages/s':>9}{'span s':>7}{'pages/s':>9}"
          f"{'cpu ms/p':>10}{'mid p/s':>9}{'mid ms/p':>9}{'idle %':>7}{'redis ms':>10}"
          f"{'sites ms':>10}"
          f"{'short':>8}{'twice':>7}{'lost':>6}{'steal %':>8}")


def measured(run: Callable[[], Run]) -> Run:
    """`run()`, with the steal while it ran, its line printed."""
    with Steal() as stolen:
        done = run()
    done.steal_s = stolen.seconds
    print(done.line(), flush=True)
    return done


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_times() -> list[int]:
    """The machine's CPU time so far, in ticks: user, nice, system, idle, iowait, ..."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


class Midway:
    """The CPU per page of `pids` while the middle half of the pages is
    fetched (from a quarter of them to three quarters, by the sites' clock): the crawl's
    steady cost, with no process's start-up or close in it."""

    def __init__(self, sites: Sites, pids: list[int], crawls: int = 1) -> None:
        self.sites, self.pids, self.crawls = sites, pids, crawls
        self.crawl_ms = 0.0
        self.rate = 0.0  # pages/s meanwhile
        self.idle = 0.0  # the machine's idle share meanwhile (/proc/stat, every CPU)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        total = len(self.sites.all_pages()) * self.crawls  # each crawl fetches every page
        marks = []
        for share in (0.25, 0.75):
            while (n := self.sites.arrived()) < total * share:
                if not any(Path(f"/proc/{pid}").exists() for pid in self.pids):
                    return
                time.sleep(0.005)
            marks.append((n, sum(_proc_cpu(p) for p in self.pids), _cpu_times(),
                          time.monotonic()))
        (n0, c0, t0, w0), (n1, c1, t1, w1) = marks
        self.crawl_ms = 1000 * (c1 - c0) / max(n1 - n0, 1)
        self.rate = (n1 - n0) / max(w1 - w0, 1e-6)
        spent = [b - a for a, b in zip(t0, t1, strict=True)]
        self.idle = (spent[3] + spent[4]) / max(sum(spent), 1)

    def join(self) -> None:
        self._thread.join(5)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _collection(work: Path, sites: Sites, name: str) -> Path:
    root = work / name
    args = [a for site, seed in sites.seeds().items() for a in ("--site", f"{site}={seed}")]
    subprocess.run([*PALIMPSEST, "init", "--collection", str(root), *args], cwd=ROOT,
                   check=True, capture_output=True)
    return root


def _captured(root: Path) -> set[str]:
    urls = set()
    for path in (root / "crawls").glob("*/*.warc.gz"):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    urls.add(record.rec_headers.get_header("WARC-Target-URI"))
    return urls


CONCURRENCY = 1  # connections per site (--concurrency)
JOIN = "ahead"  # when the workers start: before the crawl (`worker --wait`), or once it is in Redis
ROBOTS = False  # robots.txt asked for (--robots: the sites answer 404)


_RUNS = itertools.count()  # a collection of its own for each run


def _crawl_options(delay: float) -> list[str]:
    return ["--delay", str(delay), "--concurrency-per-site", str(CONCURRENCY),
            *([] if ROBOTS else ["--no-robots"])]


def run_shared(work: Path, sites: Sites, server: RedisServer, workers: int, delay: float,
               kill: bool = False) -> Run:
    """The first process and `workers - 1` workers (one of them killed -9 midway)."""
    root = _collection(work, sites, f"shared-{workers}{'-kill' if kill else ''}-{next(_RUNS)}")
    sites.reset()
    cpu0, redis0, start = _children_cpu(), server.cpu_s(), time.monotonic()
    own0 = _own_cpu()
    before = server.client.get("palimpsest:current")
    log = work / f"{root.name}.log"
    said = open(log, "w")  # noqa: SIM115 (closed below)
    crawl = [*PALIMPSEST, "crawl", "--collection", str(root), "--frontier", server.url,
             *_crawl_options(delay), "--lease-seconds", "3"]
    worker = [*PALIMPSEST, "worker", "--collection", str(root), "--frontier", server.url]
    if JOIN == "ahead":  # standing by (`worker --wait`), started up before the crawl starts
        procs = [subprocess.Popen([*worker, "--wait"], cwd=ROOT, stdout=said, stderr=said)
                 for _ in range(workers - 1)]
        while log.read_text().count("waiting for") < workers - 1:
            time.sleep(0.02)
        procs.insert(0, subprocess.Popen(crawl, cwd=ROOT, stdout=said, stderr=said))
        midway = Midway(sites, [p.pid for p in procs])
    else:  # joining the crawl once it is in Redis, their start-up inside it
        procs = [subprocess.Popen(crawl, cwd=ROOT, stdout=said, stderr=said)]
        _wait_for_new_crawl(server, before)
        procs += [subprocess.Popen(worker, cwd=ROOT, stdout=said, stderr=said)
                  for _ in range(workers - 1)]
        midway = Midway(sites, [p.pid for p in procs])
    if kill:
        total = len(sites.all_pages())
        while sum(len(a) for a in sites.arrivals.values()) < total // 3:
            time.sleep(0.05)
        os.kill(procs[1].pid, signal.SIGKILL)
    for proc in procs:
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:  # a hang: say so, and what is left in Redis
            print(f"{root.name}: still running after {TIMEOUT} s, killed; Redis holds "
                  f"{_left(server)}", file=sys.stderr)
            for other in procs:
                other.kill()
            proc.wait(10)
    wall, own = time.monotonic() - start, _own_cpu() - own0
    midway.join()
    said.close()
    pause, at = sites.longest_pause()
    if pause > 0.5:
        print(f"{root.name}: no request for {pause:.2f} s, {at:.2f} s after the first",
              file=sys.stderr)
    if any(proc.returncode not in (0, -signal.SIGKILL) for proc in procs):
        print((work / f"{root.name}.log").read_text()[-3000:], file=sys.stderr)
    captured = _captured(root) & sites.all_pages()
    name = f"{workers} process{'es' if workers > 1 else ''} --frontier"
    return Run(name + (", one killed -9" if kill else ""), wall, sites.span_s(),
               _children_cpu() - cpu0,
               server.cpu_s() - redis0, len(captured), sites.short_gaps(delay),
               sites.fetched_twice(), len(sites.all_pages() - captured), own,
               mid_ms=midway.crawl_ms, mid_idle=midway.idle, mid_rate=midway.rate)


def _left(server: RedisServer) -> dict[str, object]:
    """What the current crawl still holds: queued, leases out, each site's busy slots."""
    client = server.client
    prefix = f"palimpsest:{client.get('palimpsest:current').decode()}:"
    busy = {k.decode()[len(prefix):]: client.zrange(k, 0, -1)
            for k in client.scan_iter(match=prefix + "busy:*") if client.zcard(k)}
    return {"queued": client.get(prefix + "queued"), "leases": client.zcard(prefix + "leases"),
            "ready": client.zrange(prefix + "ready", 0, -1, withscores=True), "busy": busy}


def _wait_for_new_crawl(server: RedisServer, before: bytes | None) -> None:
    """Workers join the crawl Redis holds: start them once the first process put it there."""
    while server.client.get("palimpsest:current") in (before, None):
        time.sleep(0.02)


def run_plain(work: Path, sites: Sites, delay: float, at_once: int = 1) -> Run:
    """One `palimpsest crawl`, no Redis: the single-process crawl the workers replace. With
    `at_once` 2, two such crawls of the same sites side by side, each into a collection of
    its own, sharing nothing: what two processes that need no coordination get of the
    machine (the pages are those of both; "twice" counts nothing here)."""
    roots = [_collection(work, sites, f"plain-{delay}-{n}-{next(_RUNS)}")
             for n in range(at_once)]
    sites.reset()
    cpu0, start, own0 = _children_cpu(), time.monotonic(), _own_cpu()
    crawls = [subprocess.Popen([*PALIMPSEST, "crawl", "--collection", str(root),
                                *_crawl_options(delay)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for root in roots]
    midway = Midway(sites, [crawl.pid for crawl in crawls], at_once)
    for crawl in crawls:
        crawl.wait()
    wall, own = time.monotonic() - start, _own_cpu() - own0
    midway.join()
    captured = [_captured(root) & sites.all_pages() for root in roots]
    name = "1 process, no Redis" if at_once == 1 else f"{at_once} plain crawls side by side"
    return Run(name, wall, sites.span_s(), _children_cpu() - cpu0, 0.0,
               sum(len(c) for c in captured), sites.short_gaps(delay),
               sites.fetched_twice() if at_once == 1 else 0,
               sum(len(sites.all_pages() - c) for c in captured), own,
               mid_ms=midway.crawl_ms, mid_idle=midway.idle, mid_rate=midway.rate)


def run_wget(work: Path, sites: Sites, delay: float) -> Run:
    """wget mirroring the sites one after the other (one connection, --wait = the delay)."""
    out = work / "wget"
    out.mkdir()
    sites.reset()
    cpu0, start, own0 = _children_cpu(), time.monotonic(), _own_cpu()
    for n, seed in enumerate(sites.seeds().values()):
        subprocess.run(["wget", "--recursive", "--level=inf", "--no-verbose",
                        f"--wait={delay}", "--warc-file", str(out / f"site{n}"),
                        "--no-warc-compression", "--directory-prefix", str(out / "files"),
                        "-e", "robots=off", seed], capture_output=True, cwd=out)
    wall, own = time.monotonic() - start, _own_cpu() - own0
    pages = sum(1 for a in sites.arrivals.values() for _, p in a if p.startswith("/p"))
    return Run("wget, site after site", wall, sites.span_s(), _children_cpu() - cpu0, 0.0,
               pages,
               sites.short_gaps(delay), sites.fetched_twice(), len(sites.all_pages()) - pages,
               own)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=16)
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=1, help="shared runs made N times each")
    parser.add_argument("--concurrency", type=int, default=1, help="connections per site")
    parser.add_argument("--robots", action="store_true", help="obey robots.txt (404 here)")
    parser.add_argument("--join", choices=("ahead", "midway"), default="ahead",
                        help="workers started before the crawl (`worker --wait`, the default) "
                             "or once it is in Redis (their start-up inside the crawl)")
    parser.add_argument("--parts", default="peers,shared,polite",
                        help="what to run: peers (wget, a plain crawl, two side by side), "
                             "shared, polite")
    args = parser.parse_args()
    global CONCURRENCY, ROBOTS, JOIN
    CONCURRENCY, ROBOTS, JOIN = args.concurrency, args.robots, args.join
    parts = set(args.parts.split(","))
    sites = Sites(args.sites, args.pages)
    sites.start()
    total = args.sites * args.pages
    print(f"{args.sites} sites x {args.pages} pages ({total} pages of 4 KB, six links each), "
          f"{CONCURRENCY} connection(s) per site, workers joining {JOIN}, {os.cpu_count()} CPUs, "
          f"load average "
          f"{os.getloadavg()[0]:.1f}")
    peers: list[Run] = []
    by_workers: dict[int, list[Run]] = defaultdict(list)
    polite = killed = None
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        work = Path(tmp)
        server = RedisServer(work)
        try:
            print(f"CPU-bound: no delay, no latency\n{HEADER}")
            if "peers" in parts:
                peers = [measured(lambda: run_wget(work, sites, 0.0)),
                         measured(lambda: run_plain(work, sites, 0.0)),
                         measured(lambda: run_plain(work, sites, 0.0, at_once=2))]
            if "shared" in parts:
                for _ in range(args.repeat):
                    for n in (int(w) for w in args.workers.split(",")):
                        by_workers[n].append(measured(
                            lambda n=n: run_shared(work, sites, server, n, 0.0)))
            if "polite" in parts:
                print(f"politeness: delay {args.delay} s\n{HEADER}")
                polite = measured(lambda: run_plain(work, sites, args.delay))
                killed = measured(
                    lambda: run_shared(work, sites, server, 3, args.delay, kill=True))
        finally:
            server.stop()
    _ratios(by_workers, peers)
    if polite and killed:
        print(f"same-site gaps under the delay: {polite.short_gaps} (1 process), "
              f"{killed.short_gaps} (3 processes) (goal 0); pages lost after the kill: "
              f"{killed.lost} (goal 0); fetched twice: {killed.twice}")
    print(f"load average now {os.getloadavg()[0]:.1f}")


def _ratios(by_workers: dict[int, list[Run]], peers: list[Run]) -> None:
    if 1 not in by_workers:
        return
    ones = by_workers[1]
    one = max(ones, key=lambda r: r.rate)
    for n, runs in sorted(by_workers.items()):
        run = max(runs, key=lambda r: r.rate)
        paired = sorted(r.rate / o.rate for r, o in zip(runs, ones, strict=False))
        spread = (f"; run by run: median {statistics.median(paired):.2f}x "
                  f"({paired[0]:.2f}-{paired[-1]:.2f}x, {len(paired)} pairs)"
                  if len(paired) > 1 else "")
        mid = sorted(r.mid_rate / max(o.mid_rate, 1e-6) for r, o in zip(runs, ones, strict=False))
        print(f"{n} workers: {run.rate / one.rate:.2f}x one worker's pages/s while crawling, "
              f"best runs (goal for 2: 1.7x), {run.cpu_s / one.cpu_s:.2f}x its CPU{spread}; "
              f"over the middle half of the pages: median {statistics.median(mid):.2f}x "
              f"({mid[0]:.2f}-{mid[-1]:.2f}x)")
    if not peers:
        return
    plain, pair = peers[1], peers[2]
    print(f"two plain crawls side by side, sharing nothing: {pair.rate / plain.rate:.2f}x one's "
          f"pages/s while crawling, {pair.mid_ms / max(plain.mid_ms, 1e-6):.2f}x its CPU a page "
          f"over the middle half (what two processes on this machine cost each other)")
    print(f"one worker: {one.rate / peers[1].rate:.2f}x the plain crawl's pages/s, "
          f"{one.cpu_s / max(peers[1].cpu_s, 1e-6):.2f}x its CPU; wget "
          f"{peers[0].cpu_s / max(peers[0].pages, 1) * 1000:.2f} ms CPU a page")


if __name__ == "__main__":
    main()
