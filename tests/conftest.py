"""Shared fixtures: the sample network on loopback, and collections crawled from it for real.

Crawls run as `palimpsest crawl` child processes, as a user runs them (Scrapy's reactor runs
once per process). The expensive collections are built once per session.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from index.collection import Collection
from palimpsest.sample_network import SampleNetwork
from palimpsest.setup import write_config

ROOT = Path(__file__).resolve().parent.parent
FAST = ("--delay", "0", "--concurrency-per-site", "4")
PYWB = ROOT / ".venv-pywb/bin"  # pywb pins its own dependencies: a venv of its own
# ReplayWeb.page's npm package (replaywebpage), whose index.html, ui.js and sw.js are the app
REPLAYWEBPAGE = ROOT / ".venv-wacz/replaywebpage/package"


def palimpsest(*args: str, check: bool = True, timeout: float = 300,
               **kwargs) -> subprocess.CompletedProcess:
    """Run the `palimpsest` command in a child process, as a user would."""
    done = subprocess.run([sys.executable, "-m", "palimpsest.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"palimpsest {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def crawl(collection: Collection, *extra: str, check: bool = True
          ) -> subprocess.CompletedProcess:
    return palimpsest("crawl", "--collection", str(collection.root), *FAST, *extra,
                      check=check)


@dataclass
class Record:
    type: str
    url: str
    headers: dict[str, str]
    status: int | None
    http_headers: list[tuple[str, str]]
    body: bytes
    file: str
    head: str  # the HTTP request or status line


def read_records(paths: list[Path]) -> list[Record]:
    """Every record of these WARC files, bodies as stored (not decoded)."""
    records = []
    for path in paths:
        with open(path, "rb") as stream:
            for rec in ArchiveIterator(stream):
                http = rec.http_headers
                status = None
                if http is not None and rec.rec_type in ("response", "revisit"):
                    status = int(http.get_statuscode())
                records.append(Record(
                    rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI") or "",
                    dict(rec.rec_headers.headers), status,
                    list(http.headers) if http is not None else [],
                    rec.raw_stream.read(), path.name,
                    f"{http.protocol} {http.statusline}" if http is not None else ""))
    return records


@dataclass
class CrawledCrawl:
    crawl_id: str
    dir: Path

    @property
    def warcs(self) -> list[Path]:
        return sorted(self.dir.glob("*.warc.gz"))

    def records(self) -> list[Record]:
        return read_records(self.warcs)

    def log(self) -> list[dict]:
        lines = (self.dir / "crawl-log.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def summary(self) -> dict:
        return json.loads((self.dir / "summary.json").read_text())


@dataclass
class CrawledCollection:
    collection: Collection
    network: SampleNetwork
    crawls: list[CrawledCrawl]


def new_collection(tmp: Path, network: SampleNetwork) -> Collection:
    collection = Collection(tmp)
    write_config(collection, (), network.url)
    return collection


def crawl_ids(collection: Collection) -> list[CrawledCrawl]:
    return [CrawledCrawl(c, collection.crawl_dir(c)) for c in collection.crawl_ids()]


@pytest.fixture(scope="session")
def network_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawledCollection]:
    """The sample network crawled three times: revision 1, revision 1 again, revision 2."""
    with SampleNetwork(revision=1) as network:
        collection = new_collection(tmp_path_factory.mktemp("history"), network)
        crawl(collection)
        _next_second()
        crawl(collection)
        network.set_revision(2)
        _next_second()
        crawl(collection)
        yield CrawledCollection(collection, network, crawl_ids(collection))


def _next_second() -> None:
    """Wait for the wall clock's next second: two crawls begun in one second are told apart
    by a counter (20261203194749-1), and the tests of this history read each crawl's id as
    the time it began (a Memento datetime, a date in the UI), as crawls a day apart would
    be. A crawl of the sample network now takes under a second."""
    time.sleep(1 - time.time() % 1 + 0.01)


@pytest.fixture(scope="session")
def indexed_history(network_history: CrawledCollection) -> CrawledCollection:
    """`network_history`, indexed (catalog and full text) as `palimpsest index` does."""
    from index.indexer import update

    update(network_history.collection)
    return network_history


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`palimpsest ARGS` run in `cwd` as a newcomer's shell runs it: no collection named in
    the environment, the venv not activated, the output piped (a log)."""
    env = {k: v for k, v in os.environ.items() if k != "PALIMPSEST_COLLECTION"}
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p != venv_bin)
    return subprocess.run([sys.executable, "-m", "palimpsest.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """`palimpsest demo --no-serve` run once in a fresh directory as a newcomer runs it (its
    collection the default ./warcs, which a fresh clone holds empty): the directory, and
    the finished command."""
    home = tmp_path_factory.mktemp("newcomer")
    (home / "warcs").mkdir()
    (home / "warcs" / ".gitkeep").touch()  # as in a fresh clone
    return home, run_in(home, "demo", "--no-serve")


@dataclass
class Pywb:
    base: str  # the collection's address, e.g. http://127.0.0.1:PORT/ours
    index: Path  # the CDXJ index pywb wrote of our WARCs


@contextmanager
def serve_pywb(warcs: list[Path], work: Path, probe: str, *, add_flags: tuple[str, ...] = ()
               ) -> Iterator[Pywb]:
    """pywb's own server (the reference replay tool) over `warcs`, its collection in `work`,
    once it answers the CDX query for `probe`; `add_flags` go to `wb-manager add` (a WACZ
    is added with --unpack-wacz: its WARCs and its own index)."""
    subprocess.run([PYWB / "wb-manager", "init", "ours"], cwd=work, check=True,
                   capture_output=True)
    subprocess.run([PYWB / "wb-manager", "add", *add_flags, "ours", *map(str, warcs)],
                   cwd=work, check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([PYWB / "wayback", "-p", str(port), "-b", "127.0.0.1"], cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/ours"
    try:
        _wait_until_answering(f"{base}/cdx?url={probe}")
        yield Pywb(base, work / "collections/ours/indexes/index.cdxj")
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="session")
def pywb(network_history: CrawledCollection,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pywb]:
    """pywb's own server over `network_history`'s WARC files (the reference replay tool that
    our WARCs must work in, and our CDX and Memento APIs must agree with), once a session."""
    if not PYWB.exists():
        pytest.skip("pywb venv not installed (make test installs it)")
    with serve_pywb(list(network_history.collection.warc_files()),
                    tmp_path_factory.mktemp("pywb"), "paxpoint.test/") as server:
        yield server


@contextmanager
def serve_replaywebpage(folder: Path) -> Iterator[str]:
    """ReplayWeb.page's own files, and the WACZ files of `folder` under /wacz/, served on
    loopback (with HTTP ranges, which it reads a WACZ by); its address."""
    from flask import Flask, send_from_directory
    from werkzeug.serving import make_server

    app = Flask(__name__)

    @app.route("/wacz/<name>")
    def wacz(name: str):
        return send_from_directory(folder, name, conditional=True)

    @app.route("/", defaults={"path": "index.html"})
    @app.route("/<path:path>")
    def app_file(path: str):
        return send_from_directory(REPLAYWEBPAGE, path, conditional=True)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def replayed(page, base: str, wacz: str, url: str, ts: str, until: str) -> str:
    """The page ReplayWeb.page shows for `url` at `ts` from /wacz/`wacz`, once its frame
    has loaded and holds `until` (or after 30 s: what it shows then)."""
    page.goto("about:blank")  # a new document: a change of fragment alone reloads nothing
    page.goto(f"{base}/?source=/wacz/{wacz}#view=pages&url={url}&ts={ts}")
    framed = re.compile(rf"/{ts}\d*mp_/{re.escape(url)}$")
    shown = ""
    for _ in range(60):
        frames = [f for f in page.frames if framed.search(f.url)]
        if frames:
            frames[0].wait_for_load_state("load")  # the whole document, not its head
            shown = frames[0].content()
            if until in shown:
                break
        page.wait_for_timeout(500)
    return shown


def run_coroutine(coroutine: Coroutine):
    """`asyncio.run(coroutine)` in a thread of its own: the thread a test runs in may hold a
    running loop already (Playwright's sync API, once a browser fixture of the session is up)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def _wait_until_answering(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer in {timeout} s") from None
            time.sleep(0.2)


@pytest.fixture(scope="session")
def web_server(indexed_history: CrawledCollection) -> Iterator[str]:
    """The web UI over `indexed_history`, on waitress, on an ephemeral loopback port."""
    import threading

    from waitress import create_server

    from web import create_app

    app = create_app({"COLLECTION": str(indexed_history.collection.root)})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's headless Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def desktop(browser) -> Iterator[object]:
    """A page in a desktop window (1366x900)."""
    context = browser.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture()
def phone(browser) -> Iterator[object]:
    """A page on a phone's screen (390x844, touch)."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    yield context.new_page()
    context.close()


@pytest.fixture()
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    yield context.new_page()
    context.close()


ARTIFACTS = ROOT / "tests" / "artifacts"


def screenshot(page, name: str) -> Path:
    """Save what the browser shows, for a person to look at (tests/artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture()
def fresh_network() -> Iterator[SampleNetwork]:
    with SampleNetwork(revision=1) as network:
        yield network


@pytest.fixture()
def env_no_color() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


@dataclass
class RedisServer:
    """Debian's redis-server on a free loopback port, for crawls shared through Redis."""

    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_redis(work: Path) -> Iterator[RedisServer]:
    """A redis-server of its own in `work`, nothing saved to disk, stopped after."""
    port = _free_port()
    process = subprocess.Popen(
        ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
            time.sleep(0.05)
        yield RedisServer(port, process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    work = tmp_path / "redis"
    work.mkdir()
    with running_redis(work) as server:
        yield server
