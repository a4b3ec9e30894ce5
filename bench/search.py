"""Search engines side by side: Whoosh and Tantivy on the same synthetic archive.

Uses bench/index.py's recrawl-heavy archive (built untimed, kept in bench/out/index/). For each
engine, in a child process of its own (so peak memory is its own): a copy of the collection
(WARCs hard-linked, catalog copied) whose config names the engine, `index --rebuild` timed
(pages/s into the engine, extraction included), then the query mix of bench/index.py sent
through the HTTP API (`/api/search`, waitress on loopback) `--repeat` times each: p50/p95.
Prints both and Tantivy's ratio to Whoosh; never asserts.

    .venv/bin/python bench/search.py --captures 20000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.collection import Collection  # noqa: E402
from index.indexer import rebuild_fulltext, update  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_index", ROOT / "bench" / "index.py")
bench_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_index)


def engine_copy(source: Collection, engine: str, out: Path) -> Collection:
    """The collection again under `out/engine`, its WARCs hard-linked, set to `engine`."""
    target = out / f"engine-{engine}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source.crawls_dir, target / "crawls", copy_function=os.link)
    (target / "derived").mkdir()
    shutil.copy(source.derived_dir / "catalog.sqlite", target / "derived" / "catalog.sqlite")
    config = source.config_path.read_text().replace('engine = "whoosh"',
                                                    f'engine = "{engine}"')
    (target / "palimpsest.toml").write_text(config)
    return Collection(target)


def run_one(engine: str, captures: int, out: Path, repeat: int) -> dict:
    source, prose, crawl_ids = bench_index.build(out, captures)
    collection = engine_copy(source, engine, out)
    start = time.perf_counter()
    summary = rebuild_fulltext(collection)
    seconds = time.perf_counter() - start
    from waitress import create_server

    from web import create_app

    server = create_server(create_app({"COLLECTION": str(collection.root)}),
                           host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}/api/search?"
    times, per_query = [], {}
    for name, wanted in bench_index.query_mix(prose, crawl_ids):
        params = {"q": wanted.q, "sort": wanted.sort}
        for key, arg in (("date_from", "from"), ("date_to", "to"), ("as_of", "as_of")):
            if getattr(wanted, key):
                params[arg] = getattr(wanted, key)
        url = base + urlencode(params)
        mine = []
        for _ in range(repeat):
            began = time.perf_counter()
            with urllib.request.urlopen(url, timeout=120) as answer:
                total = json.loads(answer.read())["total"]
            mine.append(time.perf_counter() - began)
        per_query[name] = (round(1000 * statistics.median(mine), 1), total)
        times += mine
    server.close()
    times.sort()
    return {"engine": engine, "documents": summary.documents, "index_s": round(seconds, 1),
            "pages_per_s": round(summary.documents / seconds, 1),
            "p50_ms": round(1000 * statistics.median(times), 1),
            "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
            "size_mb": round(bench_index.du(collection.derived_dir / f"fulltext-{engine}")
                             / 1e6, 1),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "queries": per_query}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--one", choices=["whoosh", "tantivy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = ROOT / "bench" / "out" / "index" / str(args.captures)
    if args.one:
        print(json.dumps(run_one(args.one, args.captures, out, args.repeat)))
        return
    source, _prose, _crawls = bench_index.build(out, args.captures)
    update(source, fulltext=False)
    results = {}
    for engine in ("whoosh", "tantivy"):
        done = subprocess.run([sys.executable, __file__, "--one", engine, "--captures",
                               str(args.captures), "--repeat", str(args.repeat)],
                              capture_output=True, text=True, check=True)
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    whoosh, tantivy = results["whoosh"], results["tantivy"]
    print(f"{args.captures} captures, {whoosh['documents']} distinct pages; query mix of "
          f"{len(whoosh['queries'])} through /api/search, {args.repeat} runs each")
    print(f"{'engine':<9}{'pages/s':>9}{'index s':>9}{'p50 ms':>9}{'p95 ms':>9}{'size MB':>9}"
          f"{'peak MB':>9}")
    for r in (whoosh, tantivy):
        print(f"{r['engine']:<9}{r['pages_per_s']:>9}{r['index_s']:>9}{r['p50_ms']:>9}"
              f"{r['p95_ms']:>9}{r['size_mb']:>9}{r['peak_mb']:>9}")
    print(f"tantivy/whoosh median query: {tantivy['p50_ms'] / whoosh['p50_ms']:.2f} "
          "(goal <= 0.1 at 20,000 pages)")
    print(f"{'query':<20}{'whoosh ms':>10}{'tantivy ms':>11}{'results':>9}")
    for name, (ms, total) in whoosh["queries"].items():
        other, other_total = tantivy["queries"][name]
        same = "" if total == other_total else f" (tantivy {other_total})"
        print(f"{name:<20}{ms:>10}{other:>11}{total:>9}{same}")


if __name__ == "__main__":
    main()
