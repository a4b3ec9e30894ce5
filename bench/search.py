"""Search engines side by side: Whoosh and Tantivy on the same synthetic archive.

Uses bench/index.py's recrawl-heavy archive (built untimed, kept in bench/out/index/). For each
engine, in a child process of its own (so its peak memory is its own): a copy of the
collection (WARCs hard-linked, catalog copied) whose config names the engine, and
`index --rebuild` timed (pages/s into the engine, extraction included). Then both engines'
web apps are served at once, each by waitress in a child process on loopback, and
bench/index.py's query mix goes to `/api/search` from one client over keep-alive connections
(as browsers and API clients keep theirs): a first query to each (asked the moment the
server listens, while it is still reading the catalog's captures into memory), a warm-up
pass, then `--repeat` timed passes of the whole mix, alternating between the two servers
pass by pass so that whatever else runs on the machine weighs on both alike.
p50/p95 are end to end: HTTP, engine, catalog, facets, snippets, JSON. The same mix is then
timed in this process through `index.search.service.search` (no HTTP, no Flask), passes alternating.
Prints both engines and Tantivy's ratios to Whoosh; never asserts.

    .venv/bin/python bench/search.py --captures 20000
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.collection import Collection  # noqa: E402
from index.fulltext_pass import rebuild_fulltext  # noqa: E402
from index.indexer import update  # noqa: E402
from index.search.engines import ENGINE_ENV, ENGINES  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_index", ROOT / "bench" / "index.py")
bench_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_index)


def engine_copy(source: Collection, engine: str, out: Path) -> Collection:
    """The collection again under `out/engine-NAME`, its WARCs hard-linked, set to `engine`."""
    target = out / f"engine-{engine}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source.crawls_dir, target / "crawls", copy_function=os.link)
    (target / "derived").mkdir()
    for name in ("catalog.sqlite", "catalog.sqlite-wal"):
        if (source.derived_dir / name).exists():
            shutil.copy(source.derived_dir / name, target / "derived" / name)
    config = source.config_path.read_text().replace('engine = "whoosh"',
                                                    f'engine = "{engine}"')
    (target / "palimpsest.toml").write_text(config)
    return Collection(target)


def index_one(engine: str, out: Path) -> dict:
    """Rebuild the engine's copy (in this process): its figures."""
    source = Collection(out / "collection")
    collection = engine_copy(source, engine, out)
    start = time.perf_counter()
    summary = rebuild_fulltext(collection)
    seconds = time.perf_counter() - start
    return {"documents": summary.documents, "index_s": round(seconds, 1),
            "pages_per_s": round(summary.documents / seconds, 1),
            "size_mb": round(bench_index.du(collection.derived_dir / f"fulltext-{engine}")
                             / 1e6, 1),
            "index_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def serve_one(engine: str, out: Path) -> None:
    """Serve the engine's copy as `palimpsest serve` does (in this process) on a free
    loopback port: prints the port, serves until stdin closes."""
    import threading

    from web import serve

    threading.Thread(target=serve, args=(out / f"engine-{engine}", "127.0.0.1", 0),
                     kwargs={"ready": lambda url: print(url.rsplit(":", 1)[1].strip("/"),
                                                        flush=True)},
                     daemon=True).start()
    sys.stdin.read()


def ask(client: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    """Seconds to GET `path` and read its JSON, and the search's total."""
    began = time.perf_counter()
    client.request("GET", path)
    answer = client.getresponse()
    body = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"{path}: HTTP {answer.status} {body[:200]!r}")
    return time.perf_counter() - began, json.loads(body)["total"]


def peak_mb(pid: int) -> int:
    """A live process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def child(mode: str, engine: str, captures: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, mode, engine, "--captures",
                             str(captures)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, ENGINE_ENV: engine})


def percentiles(runs: dict[str, list[float]]) -> tuple[float, float]:
    """p50 and p95 in ms over every run of every query."""
    every = sorted(t for mine in runs.values() for t in mine)
    return (round(1000 * statistics.median(every), 1),
            round(1000 * every[int(0.95 * (len(every) - 1))], 1))


def in_process(captures: int, repeat: int, out: Path) -> dict[str, dict]:
    """The query mix through index.search.service.search, passes alternating between the engines."""
    from index.search.service import search

    _, prose, crawl_ids = bench_index.build(out, captures)
    mix = bench_index.query_mix(prose, crawl_ids)
    collections = {engine: Collection(out / f"engine-{engine}") for engine in ENGINES}
    configs = {engine: c.load_config() for engine, c in collections.items()}
    runs = {engine: {name: [] for name, _ in mix} for engine in ENGINES}
    for rep in range(repeat + 1):
        for engine, collection in collections.items():
            for name, wanted in mix:
                began = time.perf_counter()
                search(collection, wanted, configs[engine])
                if rep:  # the first round warms up, as the HTTP pass did
                    runs[engine][name].append(time.perf_counter() - began)
    return {engine: dict(zip(("local_p50_ms", "local_p95_ms"), percentiles(runs[engine]),
                             strict=True)) for engine in ENGINES}


def query(captures: int, repeat: int, out: Path) -> dict[str, dict]:
    """Both engines' servers at once, passes of the query mix alternating between them."""
    _, prose, crawl_ids = bench_index.build(out, captures)
    paths = {}
    for name, wanted in bench_index.query_mix(prose, crawl_ids):
        params = {"q": wanted.q, "sort": wanted.sort}
        for key, arg in (("date_from", "from"), ("date_to", "to"), ("as_of", "as_of")):
            if getattr(wanted, key):
                params[arg] = getattr(wanted, key)
        paths[name] = "/api/search?" + urlencode(params)
    servers = {engine: child("--serve", engine, captures) for engine in ENGINES}
    clients = {engine: http.client.HTTPConnection(
        "127.0.0.1", int(server.stdout.readline()), timeout=600)
        for engine, server in servers.items()}
    first = {engine: ask(client, paths[next(iter(paths))])[0]
             for engine, client in clients.items()}
    for client in clients.values():
        for path in paths.values():
            ask(client, path)
    runs = {engine: {name: [] for name in paths} for engine in ENGINES}
    totals = {engine: {} for engine in ENGINES}
    # whole passes of the mix alternate, not single queries: a query asked right after 40 ms
    # of the other server's work finds the caches cold and its threads asleep (+1.3 ms a
    # Tantivy query here), which is not how a server that has the machine to itself runs
    for _ in range(repeat):
        for engine, client in clients.items():
            for name, path in paths.items():
                took, totals[engine][name] = ask(client, path)
                runs[engine][name].append(took)
    results = {}
    for engine, server in servers.items():
        p50, p95 = percentiles(runs[engine])
        results[engine] = {
            "first_ms": round(1000 * first[engine], 1), "p50_ms": p50, "p95_ms": p95,
            "serve_peak_mb": peak_mb(server.pid),
            "queries": {name: (round(1000 * statistics.median(mine), 1),
                               totals[engine][name]) for name, mine in runs[engine].items()}}
        clients[engine].close()
        server.stdin.close()
        server.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true",
                        help="query the engines' copies of the last run (no rebuild timed)")
    parser.add_argument("--index", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = ROOT / "bench" / "out" / "index" / str(args.captures)
    if args.index:
        print(json.dumps(index_one(args.index, out)))
        return
    if args.serve:
        serve_one(args.serve, out)
        return
    source, _prose, _crawls = bench_index.build(out, args.captures)
    update(source, fulltext=False)
    results = {}
    for engine in ENGINES:
        if args.reuse and (out / f"engine-{engine}" / "derived" / f"fulltext-{engine}").is_dir():
            results[engine] = dict.fromkeys(("pages_per_s", "index_s", "size_mb",
                                             "index_peak_mb"), "-")
            results[engine]["documents"] = "?"
            continue
        indexer = child("--index", engine, args.captures)
        stdout, _ = indexer.communicate()
        results[engine] = json.loads(stdout.strip().splitlines()[-1])
    for engine, figures in query(args.captures, args.repeat, out).items():
        results[engine].update(figures)
    for engine, figures in in_process(args.captures, args.repeat, out).items():
        results[engine].update(figures)
    whoosh, tantivy = results["whoosh"], results["tantivy"]
    print(f"{args.captures} captures, {whoosh['documents']} distinct pages; query mix of "
          f"{len(whoosh['queries'])} through /api/search, {args.repeat} runs each")
    columns = ("pages_per_s", "index_s", "size_mb", "index_peak_mb", "first_ms", "p50_ms",
               "p95_ms", "serve_peak_mb", "local_p50_ms", "local_p95_ms")
    print(f"{'engine':<9}" + "".join(f"{c:>14}" for c in columns))
    for name, r in results.items():
        print(f"{name:<9}" + "".join(f"{r[c]:>14}" for c in columns))
    print(f"tantivy/whoosh median query: {tantivy['p50_ms'] / whoosh['p50_ms']:.2f} "
          f"through HTTP, {tantivy['local_p50_ms'] / whoosh['local_p50_ms']:.2f} in process "
          "(goal <= 0.1 at 20,000 pages); tantivy p95 "
          f"{tantivy['p95_ms']} ms (goal < 50 ms at 100,000 captures)")
    print(f"{'query':<20}{'whoosh ms':>10}{'tantivy ms':>11}{'results':>9}")
    for name, (ms, total) in whoosh["queries"].items():
        other, other_total = tantivy["queries"][name]
        same = "" if total == other_total else f" (tantivy {other_total})"
        print(f"{name:<20}{ms:>10}{other:>11}{total:>9}{same}")


if __name__ == "__main__":
    main()
