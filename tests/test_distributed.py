"""A crawl shared through Redis by three processes, one of them killed with -9 midway: every
page captured, each site's delay kept between any two requests (by the sites' own clock),
the dead worker's torn WARC cut back, `warcio check` and `palimpsest index` fine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from index.collection import Collection
from index.warc_names import PORTABLE_NAME
from tests.conftest import ROOT, CrawledCrawl, crawl_ids, palimpsest, read_records, run_coroutine

DELAY = 0.25
PAGES = 18  # per site, besides its home page
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


def page_links(n: int) -> list[int]:
    """The pages page n links to: a chain and a few jumps, so the frontier fills as it goes."""
    return [m for m in (n + 1, 2 * n + 1, 3 * n + 2) if m <= PAGES]


class TimedSites:
    """One small site on each address, each request's arrival noted by the server's clock."""

    def __init__(self, latency: float = 0.03) -> None:
        self.arrivals: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.latency = latency
        self._lock = threading.Lock()
        self.servers = [self._server(address) for address in ADDRESSES]

    def _server(self, address: str) -> ThreadingHTTPServer:
        sites = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with sites._lock:
                    sites.arrivals[address].append((time.monotonic(), self.path))
                time.sleep(sites.latency)
                body, kind, status = sites.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer((address, 0), Handler)
        server.daemon_threads = True
        return server

    def answer(self, path: str) -> tuple[bytes, str, int]:
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n", "text/plain", 200
        n = 0 if path == "/" else int(path[2:]) if path[2:].isdigit() else -1
        if not 0 <= n <= PAGES:
            return b"not here", "text/plain", 404
        links = "".join(f'<a href="/p{m}">page {m}</a>\n' for m in page_links(n))
        return (f"<html><head><title>page {n}</title></head><body><p>Page {n} of the site."
                f"</p>{links}</body></html>").encode(), "text/html", 200

    def urls(self) -> dict[str, str]:
        return {f"site{i}": f"http://{s.server_address[0]}:{s.server_address[1]}/"
                for i, s in enumerate(self.servers)}

    def pages(self) -> set[str]:
        return {f"{url}{'' if n == 0 else f'p{n}'}" for url in self.urls().values()
                for n in range(PAGES + 1)}

    def __enter__(self) -> TimedSites:
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "palimpsest.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.fixture()
def sites() -> Iterator[TimedSites]:
    with TimedSites() as served:
        yield served


def _shared_crawl(root: Path, sites: TimedSites, redis_url: str) -> dict:
    """`crawl --frontier` and two `worker`s, the first worker killed -9 once it has written
    part of a WARC; what each process said."""
    _init(root, sites)
    client = redis.Redis.from_url(redis_url)
    first = _start("crawl", "--collection", str(root), "--frontier", redis_url,
                   "--delay", str(DELAY), "--concurrency-per-site", "1",
                   "--lease-seconds", "2")
    _wait_for(lambda: client.get("palimpsest:current") is not None, 30, "the crawl in Redis")
    workers = [_start("worker", "--collection", str(root), "--frontier", redis_url)
               for _ in range(2)]
    victim = workers[0]
    total = len(sites.pages())

    def victim_has_written() -> bool:
        return _fetched(sites) > total // 3 and any(
            (root / "crawls").glob(f"*/*-{victim.pid}-*.warc.gz.open"))
    _wait_for(victim_has_written, 40, "the first worker's WARC")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    return {"crawl": _finish(first), "worker": _finish(workers[1]),
            "victim": victim.pid}


@pytest.fixture()
def shared(tmp_path: Path, sites: TimedSites, redis_server) -> tuple[CrawledCrawl, dict]:
    root = tmp_path / "collection"
    said = _shared_crawl(root, sites, redis_server.url)
    [crawl] = crawl_ids(Collection(root))
    return crawl, said


def test_three_processes_one_killed_capture_every_page_politely(shared, sites, redis_server):
    crawl, said = shared
    code, out, err = said["crawl"]
    assert code == 0, out + err
    assert "Traceback" not in err
    code, out, err = said["worker"]
    assert code == 0, out + err
    # every page, whoever fetched it, the dead worker's leases fetched again by another
    records = crawl.records()
    captured = {r.url for r in records if r.type in ("response", "revisit") and r.status == 200}
    assert sites.pages() <= captured
    # the sites serve the same pages: one worker's payload is another's revisit
    where = {(r.url, r.headers["WARC-Date"]): r.file for r in records if r.type == "response"}
    originals = [where[r.headers["WARC-Refers-To-Target-URI"], r.headers["WARC-Refers-To-Date"]]
                 for r in records if r.type == "revisit"]
    revisits = [r.file for r in records if r.type == "revisit"]
    assert any(o != f for o, f in zip(originals, revisits, strict=True))
    # the delay between any two requests to one site, by the site's own clock, whatever
    # process made them: robots.txt, pages, the pages fetched again after the kill
    for address, arrivals in sites.arrivals.items():
        times = sorted(t for t, _path in arrivals)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= DELAY, (address, min(gaps))
    # robots.txt fetched once per site for all three processes
    for arrivals in sites.arrivals.values():
        assert [p for _t, p in arrivals].count("/robots.txt") == 1
    # each worker its own files, under its own name, the dead one's torn file cut back
    names = [w.name for w in crawl.warcs]
    assert all(PORTABLE_NAME.match(n) for n in names)
    assert any(f"-{said['victim']}-" in n for n in names)
    assert len({n.rsplit("-", 2)[-2] for n in names}) == 3
    assert not list(crawl.dir.glob("*.open"))
    check = subprocess.run([str(ROOT / ".venv/bin/warcio"), "check", *map(str, crawl.warcs)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # one log and one summary for the whole crawl, every worker's lines in it
    summary = crawl.summary()
    assert summary["finish_reason"] == "finished"
    assert len(summary["shared"]["workers"]) == 3
    logged = {e["url"] for e in crawl.log() if e.get("status") == 200}
    assert sites.pages() <= logged
    # the crawl's keys are gone from Redis but its config, marked finished
    client = redis.Redis.from_url(redis_server.url)
    assert client.keys(f"palimpsest:{crawl.crawl_id}:*") == [
        f"palimpsest:{crawl.crawl_id}:config".encode()]
    indexed = palimpsest("index", "--collection", str(crawl.dir.parent.parent), "--json")
    assert json.loads(indexed.stdout)["damaged"] == []


def _init(root: Path, sites: TimedSites) -> None:
    palimpsest("init", "--collection", str(root),
               *[a for name, url in sites.urls().items() for a in ("--site", f"{name}={url}")])


def _fetched(sites: TimedSites) -> int:
    return sum(len(a) for a in sites.arrivals.values())


def test_a_stopped_shared_crawl_resumes_and_redis_going_away_pauses_it(
        tmp_path, sites, redis_server):
    """The crawl's only process killed -9: `crawl --resume --frontier` finishes it, the dead
    process's leases returned and its torn file cut back. Redis stopped (SIGSTOP) for longer
    than a request's timeout: the worker says so once, waits, and carries on."""
    root = tmp_path / "collection"
    _init(root, sites)
    args = ("--collection", str(root), "--frontier", redis_server.url, "--delay", str(DELAY),
            "--concurrency-per-site", "1", "--lease-seconds", "2")
    first = _start("crawl", *args)
    _wait_for(lambda: _fetched(sites) > len(sites.pages()) // 4, 40, "a quarter fetched")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    resumed = _start("crawl", "--resume", *args)
    _wait_for(lambda: _fetched(sites) > len(sites.pages()) // 2, 40, "half fetched")
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    time.sleep(4)  # the worker's calls time out after 2 s
    os.kill(redis_server.process.pid, signal.SIGCONT)
    code, out, err = _finish(resumed)
    assert code == 0, out + err
    assert err.count("unreachable") == 1 and err.count("answers again") == 1, err
    [crawl] = crawl_ids(Collection(root))
    captured = {r.url for r in crawl.records() if r.type in ("response", "revisit")}
    assert sites.pages() <= captured
    assert not list(crawl.dir.glob("*.open"))
    assert any(f"-{first.pid}-" in w.name for w in crawl.warcs)  # cut back, kept
    check = subprocess.run([str(ROOT / ".venv/bin/warcio"), "check", *map(str, crawl.warcs)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert crawl.summary()["finish_reason"] == "finished"
    again = palimpsest("crawl", "--resume", *args, check=False)
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_a_single_process_crawl_keeps_the_delay_as_a_minimum_gap(tmp_path, sites):
    """Without Redis too: Scrapy counts the delay from one request's start to the next and
    jitters it (0.5 to 1.5 times); we count it from the end of the previous response, and
    where there is a delay a site has one request in flight, whatever its concurrency (with
    four, requests arrived as little as a third of the delay apart)."""
    root = tmp_path / "collection"
    _init(root, sites)
    palimpsest("crawl", "--collection", str(root), "--delay", "0.05",
               "--concurrency-per-site", "4")
    for address, arrivals in sites.arrivals.items():
        times = sorted(t for t, _path in arrivals)
        assert len(times) > PAGES
        assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.05, address


def test_a_worker_needs_a_crawl_in_redis(tmp_path, redis_server):
    done = palimpsest("worker", "--collection", str(tmp_path / "c"), "--frontier",
                      redis_server.url, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("Error: no crawl in Redis at")
    assert "Traceback" not in done.stderr


def test_a_worker_told_to_wait_joins_the_crawl_started_after_it(tmp_path, sites, redis_server):
    """`worker --wait` started before any crawl: it says once that it waits, then crawls its
    share of the crawl started next, and both processes end with it."""
    root = tmp_path / "collection"
    _init(root, sites)
    said = tmp_path / "worker.err"
    with open(said, "w") as err:
        worker = subprocess.Popen([sys.executable, "-m", "palimpsest.cli", "worker",
                                   "--collection", str(root), "--frontier", redis_server.url,
                                   "--wait"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    try:
        _wait_for(lambda: "waiting for" in said.read_text(), 30, "the worker to wait")
        first = _start("crawl", "--collection", str(root), "--frontier", redis_server.url,
                       "--delay", "0.05", "--concurrency-per-site", "1", "--lease-seconds", "2")
        code, out, err = _finish(first)
        assert code == 0, out + err
        assert worker.wait(30) == 0, said.read_text()
    finally:
        worker.kill()
    assert said.read_text().count("waiting for") == 1
    assert f"no crawl in Redis at {redis_server.url}:" in said.read_text()
    [crawl] = crawl_ids(Collection(root))
    captured = {r.url for r in crawl.records() if r.type in ("response", "revisit")}
    assert sites.pages() <= captured
    own = [r for r in read_records([w for w in crawl.warcs if f"-{worker.pid}-" in w.name])
           if r.type == "response"]
    assert own, "the waiting worker fetched nothing"


def test_a_worker_joining_before_the_seeds_are_in_waits_for_them(tmp_path, sites,
                                                                   redis_server):
    """A crawl in Redis whose seeds are not queued yet (its first process, here, gone before
    it queued them): a worker joining it neither marks it seeded nor sees it over (it used to
    do both, and a worker started ahead with --wait could end a crawl before its first page);
    `crawl --resume --frontier` queues the seeds that never went in, and the two finish it."""
    from crawler.distributed.run import _new_shared_crawl
    from crawler.distributed.state import connect
    from crawler.settings import CrawlOptions

    root = tmp_path / "collection"
    _init(root, sites)
    options = CrawlOptions(frontier=redis_server.url, delay=0.05, concurrency_per_site=1,
                           lease_seconds=2)
    shared = _new_shared_crawl(connect(redis_server.url), Collection(root), options)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    worker = _start("worker", "--collection", str(root), "--frontier", redis_server.url)
    try:
        _wait_for(lambda: client.zcard(shared.key("workers")) > 0, 30, "the worker's heartbeat")
        time.sleep(1.0)  # five of its looks at the crawl's state
        assert worker.poll() is None, worker.communicate()
        config = client.hgetall(shared.key("config"))
        assert (config["state"], config["seeded"]) == ("running", "0")
        resumed = _start("crawl", "--resume", "--collection", str(root), "--frontier",
                         redis_server.url)
        code, out, err = _finish(resumed)
        assert code == 0, out + err
        assert worker.wait(30) == 0
    finally:
        worker.kill()
    [crawl] = crawl_ids(Collection(root))
    captured = {r.url for r in crawl.records() if r.type in ("response", "revisit")}
    assert sites.pages() <= captured


def test_a_worker_cut_off_from_redis_keeps_one_renewal_and_one_reaping_pending():
    """Redis unreachable: each tick of a worker (every 0.2 s) queued a renewal naming every
    lease it held, and a reaping, both kept until Redis answers again: two more a tick, some
    36,000 an hour, sent in one pipeline on its return. Now one of each waits, the renewal the
    newest (what the worker holds when Redis answers)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.2,
                         socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    shared = SharedCrawl(client, f"redis://127.0.0.1:{port}/0", "c1")
    worker = Worker(shared, "w", 3.0, {"s": 10}, slots=2)
    worker.held = {"7": "s", "8": "s"}
    for _ in range(10):
        worker.tick()
    worker.held = {"9": "s"}
    for _ in range(10):
        worker.tick()
    assert shared.down  # said once, on stderr

    class Pipe:  # what each pending write would put on Redis's pipeline
        def __init__(self) -> None:
            self.scripts: list[tuple] = []

        def evalsha(self, sha: str, keys: int, prefix: str, *args: object) -> None:
            self.scripts.append(args)
    pipe = Pipe()
    for queue, _then in shared.pending:
        queue(pipe)
    assert pipe.scripts == [(3.0, "9"), ()]  # the newest renewal, one reaping


def test_a_frontier_that_is_not_redis_is_refused(tmp_path, sites):
    root = tmp_path / "c"
    palimpsest("init", "--collection", str(root), "--site", f"a={sites.urls()['site0']}")
    done = palimpsest("crawl", "--collection", str(root), "--frontier", "http://x/",
                      check=False)
    assert done.returncode == 2 and "not a Redis URL" in done.stderr
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = palimpsest("crawl", "--collection", str(root), "--frontier",
                      f"redis://127.0.0.1:{port}/0", check=False)
    assert done.returncode == 2 and "Redis unreachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_two_processes_with_several_connections_per_site_finish(tmp_path, sites, redis_server):
    """Four connections per site, two processes: the crawl ends (a hang fails the test after
    a timeout rather than blocking it) with every page captured."""
    root = tmp_path / "collection"
    _init(root, sites)
    first = _start("crawl", "--collection", str(root), "--frontier", redis_server.url,
                   "--delay", str(DELAY), "--concurrency-per-site", "4", "--lease-seconds", "2")
    client = redis.Redis.from_url(redis_server.url)
    _wait_for(lambda: client.get("palimpsest:current") is not None, 20, "the crawl in Redis")
    worker = _start("worker", "--collection", str(root), "--frontier", redis_server.url)
    try:
        done = {"crawl": _finish(first, timeout=25), "worker": _finish(worker, timeout=10)}
    finally:
        first.kill()
        worker.kill()
    for code, out, err in done.values():
        assert code == 0, out + err
        assert "Traceback" not in err
    [crawl] = crawl_ids(Collection(root))
    captured = {r.url for r in crawl.records() if r.type in ("response", "revisit")}
    assert sites.pages() <= captured
    assert crawl.summary()["finish_reason"] == "finished"
    # the delay holds at four connections too: one request of a site in flight at a time
    for address, arrivals in sites.arrivals.items():
        times = sorted(t for t, _path in arrivals)
        assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= DELAY, address


def test_payload_look_ups_of_one_loop_turn_share_a_round_trip_and_see_each_other(redis_server):
    """The recorder's look-ups of responses that arrive together go to Redis together; a
    payload written by the first of them is a revisit for the second, as it would be were
    they sent one by one, and what another worker wrote before is found as ever."""
    from crawler.dedup import PayloadRef
    from crawler.distributed.spider import SharedHistory
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    client = redis.Redis.from_url(redis_server.url)
    shared = SharedCrawl(client, redis_server.url, "batch-test")
    client.hset(shared.key("hdig"), "sha1:OLD", json.dumps(["http://a.test/old", "2026-01-01"]))
    client.hset(shared.key("hurl"), "http://a.test/two", "sha1:OLD")
    history = SharedHistory(Worker(shared, "w", 5.0, {}, 1))
    sent = []
    original_histories = shared.histories_later
    shared.histories_later = lambda asked, *then: (sent.append(list(asked))
                                                   or original_histories(asked, *then))

    async def record(url: str, digest: str) -> tuple[str | None, PayloadRef | None]:
        await history.fetch(url, digest)  # as SharedRecorder does, then dedup and remember
        previous, original = history.previous_digest(url), history.original(digest)
        history.remember(url, digest, original or PayloadRef(url, "2026-12-03"))
        history.forget()
        return previous, original

    async def responses() -> list:
        return await asyncio.gather(record("http://a.test/one", "sha1:NEW"),
                                    record("http://a.test/two", "sha1:NEW"),
                                    record("http://a.test/three", "sha1:OLD"))
    one, two, three = run_coroutine(responses())
    assert len(sent) == 1 and len(sent[0]) == 3  # one round trip for the three
    assert one == (None, None)  # new: written in full
    assert two == ("sha1:OLD", PayloadRef("http://a.test/one", "2026-12-03"))  # the first's
    assert three == (None, PayloadRef("http://a.test/old", "2026-01-01"))  # another worker's
    shared.send_pending()  # the pending writes: the next turn's look-ups find them in Redis
    assert json.loads(client.hget(shared.key("hdig"), "sha1:NEW")) == [
        "http://a.test/one", "2026-12-03"]


def test_a_lease_completed_without_a_fetch_frees_its_site_at_once(redis_server):
    """A site's only slot busy, a grant asked meanwhile: Redis looks at the site again when
    the request in flight would expire. That request then ends without a fetch (refused by
    robots.txt before the download, so no release): its completion frees the slot, and the
    site's next request is granted at once, not a lease's length later (30 s by default)."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    client = redis.Redis.from_url(redis_server.url)
    shared = SharedCrawl(client, redis_server.url, "stall-test")
    shared.describe({"state": "running", "seeded": "1"}, {"s": "0 1"})  # no delay, 1 slot
    worker = Worker(shared, "w", 30.0, {"s": 100}, 1)
    entries = [worker.entry(_queued(f"http://s.test/p{n}")) for n in range(2)]
    assert shared.push("", entries) == ["new", "new"]
    [first] = shared.grant(30.0, 1)
    assert isinstance(shared.grant(30.0, 1), float)  # the slot is busy
    shared.push(first.lease, [])  # completed, never fetched
    granted = shared.grant(30.0, 1)
    assert isinstance(granted, list), f"the site waits {granted:.1f} s"
    assert granted[0].request["u"] == "http://s.test/p1"


def _queued(url: str):
    from scrapy import Request
    return Request(url, meta={"site": "s", "reason": "link", "hops": "L", "via": ""})


def test_a_worker_closing_sends_what_waited_in_its_outbox(redis_server):
    """What a worker could not tell Redis while it was unreachable (a sitemap's push, say)
    goes before the worker's last pending writes when it closes, not lost with it (a crawl
    stopped, to be resumed, would never fetch that sitemap)."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import SharedScheduler, Worker

    client = redis.Redis.from_url(redis_server.url)
    shared = SharedCrawl(client, redis_server.url, "close-test")
    worker = Worker(shared, "w", 30.0, {"s": 100}, 1)
    worker.outbox.append(lambda: shared.hset("robots", "s.test", b"Aok"))
    SharedScheduler(None, worker).close("shutdown")
    assert not worker.outbox
    assert client.hget(shared.key("robots"), "s.test") == b"Aok"


def test_a_worker_hears_with_its_grants_of_the_urls_any_worker_queued(redis_server):
    """A worker's own seen set learns what the others queued (the found stream, read with
    each grant), so that it does not push Redis links only to have them refused: each URL
    told once, a URL Redis had seen already not told again."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    client = redis.Redis.from_url(redis_server.url)
    first = SharedCrawl(client, redis_server.url, "found-test")
    other = SharedCrawl(client, redis_server.url, "found-test")
    first.describe({"state": "running", "seeded": "1"}, {"s": "0 1"})
    worker = Worker(first, "w1", 30.0, {"s": 100}, 1)
    heard: list[str] = []
    other.on_found = heard.extend
    urls = [f"http://s.test/p{n}" for n in range(3)]
    assert first.push("", [worker.entry(_queued(u)) for u in urls]) == ["new"] * 3
    assert first.push("", [worker.entry(_queued(urls[0]))]) == ["seen"]
    [granted] = other.grant(30.0, 1)
    assert heard == urls
    first.push(granted.lease, [worker.entry(_queued("http://s.test/p3"))])
    other.grant(30.0, 1)
    assert heard == [*urls, "http://s.test/p3"]  # only what is new since the last grant


def test_a_trap_s_query_variants_queued_by_another_worker_count_here_too(redis_server):
    """The query-variant trap guard holds across workers: the variants of a path that one
    worker queued, heard of by another with its grant, count against that path's variants
    there too, so that each worker does not admit its own allowance of the same trap."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import SharedScheduler, Worker
    from crawler.frontier import Frontier
    from index.config import parse_config

    config = parse_config({"sites": [{"name": "s", "seeds": ["http://s.test/"]}],
                           "limits": {"max_query_variants": 3}})
    client = redis.Redis.from_url(redis_server.url)
    first = SharedCrawl(client, redis_server.url, "trap-test")
    other = SharedCrawl(client, redis_server.url, "trap-test")
    first.describe({"state": "running", "seeded": "1"}, {"s": "0 1"})
    pusher = Worker(first, "w1", 30.0, {"s": 100}, 1)
    calendar = [f"http://s.test/cal?d={n}" for n in range(3)]
    first.push("", [pusher.entry(_queued(u)) for u in calendar])

    class Spider:  # what the scheduler hands the found URLs to
        seen: set[str] = set()
        frontier = Frontier(config, config.sites)

    scheduler = SharedScheduler(None, Worker(other, "w2", 30.0, {"s": 100}, 1))
    scheduler.spider = Spider()
    other.on_found = scheduler._found
    other.grant(30.0, 1)
    assert scheduler.spider.seen == set(calendar)
    assert Spider.frontier.admit("http://s.test/cal?d=3", "L", "L") == "trap:query-variants"
    assert Spider.frontier.admit("http://s.test/other?d=3", "L", "L") is None


def test_a_new_shared_crawl_has_its_folder_before_redis_names_it(tmp_path, sites, redis_server,
                                                                monkeypatch):
    """A worker waiting on this machine joins as soon as Redis names the crawl and makes its
    own folder in the crawl's: the first process made the crawl's folder before, not after
    (a fresh-clone `make test` failed once on FileExistsError there)."""
    from crawler.distributed import run
    from crawler.distributed.state import SharedCrawl
    from crawler.settings import CrawlOptions
    from index.collection import Collection

    root = tmp_path / "collection"
    _init(root, sites)
    collection = Collection(root)
    described = SharedCrawl.describe

    def joined_at_once(shared, fields, policy):
        described(shared, fields, policy)
        # what a worker joining at this instant does (hold_lock)
        (collection.crawl_dir(shared.crawl_id) / "workers" / "w").mkdir(parents=True,
                                                                        exist_ok=True)
    monkeypatch.setattr(SharedCrawl, "describe", joined_at_once)
    client = redis.Redis.from_url(redis_server.url)
    shared = run._new_shared_crawl(client, collection,
                                   CrawlOptions(frontier=redis_server.url))
    assert collection.crawl_dir(shared.crawl_id).is_dir()


def test_a_new_shared_crawl_takes_the_next_id_when_its_folder_is_taken(tmp_path, sites,
                                                                      redis_server,
                                                                      monkeypatch):
    """Two crawls started in the same second on one collection: the second's folder is
    taken, so it takes the next id; and when Redis cannot be told of the crawl, its error is
    the one said, even if a worker had joined and written in the folder meanwhile."""
    from crawler.distributed import run
    from crawler.distributed.state import SharedCrawl
    from crawler.settings import CrawlOptions
    from index.collection import Collection

    root = tmp_path / "collection"
    _init(root, sites)
    collection = Collection(root)
    ids = iter(["20260101000000", "20260101000000-1", "20260101000001"])
    monkeypatch.setattr(Collection, "new_crawl_id", lambda self: next(ids))
    collection.crawl_dir("20260101000000").mkdir(parents=True)  # the other crawl's
    client = redis.Redis.from_url(redis_server.url)
    options = CrawlOptions(frontier=redis_server.url)
    assert run._new_shared_crawl(client, collection, options).crawl_id == "20260101000000-1"

    client.hset("palimpsest:20260101000000-1:config", "state", "finished")

    def told_but_unanswered(shared, fields, policy):
        (collection.crawl_dir(shared.crawl_id) / "workers" / "w").mkdir(parents=True)
        raise ConnectionError("Redis went away")
    monkeypatch.setattr(SharedCrawl, "describe", told_but_unanswered)
    with pytest.raises(ConnectionError, match="went away"):
        run._new_shared_crawl(client, collection, options)


def test_writes_whose_replies_are_lost_are_pending_again(redis_server):
    """Writes and look-ups go to Redis at once, their replies read at a later turn of the
    event loop. A connection lost in between loses nothing: the writes are pending again
    (and reach Redis with the next call), and whoever waited for an answer is told."""
    from crawler.distributed.state import SharedCrawl, Unreachable

    client = redis.Redis.from_url(redis_server.url)
    shared = SharedCrawl(client, redis_server.url, "owed-test")
    turns: list = []
    shared.soon = turns.append  # the event loop's later turns, run by hand below
    shared.later(lambda pipe: pipe.hset(shared.key("stats"), "kept", 1))
    answers, failed = [], []
    shared.histories_later([("http://a.test/", "sha1:X")], answers.append, failed.append)
    assert not shared.pending and turns  # sent, the replies owed
    shared._conn.disconnect()  # lost before they are read
    while turns:
        turns.pop(0)()
    assert not answers and [type(exc) for exc in failed] == [Unreachable]
    assert len(shared.pending) == 1  # the write, again
    shared.send_pending()
    assert client.hget(shared.key("stats"), "kept") == b"1"
    assert not shared.down  # Redis answered again, said so


def test_pending_releases_go_in_one_script_and_each_frees_its_site(redis_server):
    """The fetches that ended within one turn are released by one script call (its site
    policy and next fetch times read once for all): every site's slot is free after it,
    and each site waits its own delay from that moment."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    client = redis.Redis.from_url(redis_server.url)
    shared = SharedCrawl(client, redis_server.url, "release-test")
    shared.describe({"state": "running", "seeded": "1"}, {"a": "0 1", "b": "60 1"})
    worker = Worker(shared, "w", 30.0, {"a": 100, "b": 100}, 2)
    for site in ("a", "b"):
        request = _queued(f"http://{site}.test/p0")
        request.meta["site"] = site
        assert shared.push("", [worker.entry(request)]) == ["new"]
    grants = shared.grant(30.0, 2)
    assert sorted(g.site for g in grants) == ["a", "b"]
    for grant in grants:
        shared.release(grant.site, grant.lease)
    assert len(shared.pending) == 1  # one write, both releases in it
    shared.send_pending()
    assert client.hget(shared.key("stats"), "fetched") == b"2"
    for site in ("a", "b"):
        assert client.zcard(shared.key(f"busy:{site}")) == 0
    nexts = {s: float(client.hget(shared.key("next"), s)) for s in ("a", "b")}
    assert 55 < nexts["b"] - nexts["a"] < 65  # b's 60 s delay, a's none


def test_a_push_of_more_requests_than_lua_unpacks_at_once_queues_them_all(redis_server):
    """A sitemap of 9,000 pages of one site pushed in one call: Lua unpacks 8,000 values at
    most, so the scripts pass long lists to Redis in parts; every page is queued, those over
    the site's page limit refused."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    client = redis.Redis.from_url(redis_server.url)
    shared = SharedCrawl(client, redis_server.url, "many-test")
    shared.describe({"state": "running", "seeded": "1"}, {"s": "0 9000"})
    worker = Worker(shared, "w", 30.0, {"s": 8500}, 9000)
    entries = [worker.entry(_queued(f"http://s.test/p{n}")) for n in range(9000)]
    verdicts = shared.push("", entries)
    assert verdicts == ["new"] * 8500 + ["limit"] * 500
    assert client.llen(shared.key("q:s")) == 8500
    assert client.get(shared.key("queued")) == b"8500"
    granted = shared.grant(30.0, 9000)  # 9,000 leases asked, 8,500 there: in parts too
    assert len(granted) == 8500 and len({g.lease for g in granted}) == 8500
    assert client.zcard(shared.key("busy:s")) == 8500


def test_a_worker_that_joins_gets_its_share_at_the_others_next_grant(redis_server):
    """Workers count each other with every grant, not only every heartbeat: a worker that
    joins a running crawl finds the first one's share halved by its next grant, so that the
    first does not hold every site's slot until its next heartbeat."""
    from crawler.distributed.state import SharedCrawl
    from crawler.distributed.worker import Worker

    client = redis.Redis.from_url(redis_server.url)
    first = SharedCrawl(client, redis_server.url, "share-test")
    first.describe({"state": "running", "seeded": "0"}, {"s": "0 16"})  # seeds to come
    worker = Worker(first, "w1", 30.0, {"s": 100}, 16)
    assert first.heartbeat("w1", 30.0) is False
    assert worker.share_left() == 16
    SharedCrawl(client, redis_server.url, "share-test").heartbeat("w2", 30.0)  # joins
    assert worker.share_left() == 16  # not heard of yet
    assert isinstance(first.grant(30.0, 1), float)  # nothing queued; counted all the same
    assert worker.share_left() == 8
