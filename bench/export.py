"""WACZ export bench: `palimpsest export` beside py-wacz's `wacz create`, on the same WARCs.

Uses bench/index.py's recrawl-heavy archive (built and indexed untimed, kept in
bench/out/index/N/; indexed with Tantivy, the faster engine to build, unless --engine says
otherwise). Then times, each as a child process of its own, in the same run:
  - `palimpsest export` of the whole collection (every WARC copied whole, the ZipNum index,
    pages.jsonl with every page's extracted text);
  - `palimpsest export --crawl` of the last crawl (a selection: its records copied one by
    one into new WARC files, with the originals its revisits refer to);
  - `wacz create` (py-wacz, in .venv-wacz) of the same WARC files (it indexes them itself
    with cdxj-indexer; no page detection, so no pages.jsonl or text: less work than ours).
For each: seconds, MB/s of WARC input (and of .wacz written), and peak memory of the process
(ru_maxrss, read by a small launcher process: Linux carries it over fork and exec). The two
whole exports run alternately, twice each (--rounds), and the faster run of each is compared.

    .venv/bin/python bench/export.py                    # 100,000 captures
    .venv/bin/python bench/export.py --captures 10000   # a quicker check
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.catalog import Catalog  # noqa: E402
from index.indexer import update  # noqa: E402
from index.search.engines import ENGINE_ENV  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_index", ROOT / "bench" / "index.py")
bench_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_index)

PALIMPSEST = [sys.executable, "-m", "palimpsest.cli"]
WACZ = ROOT / ".venv-wacz" / "bin" / "wacz"


# a small launcher between this process and each one measured: Linux carries ru_maxrss over
# fork and exec, so a child of this (large) process would report at least this one's peak
_LAUNCH = ("import resource, subprocess, sys\n"
           "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
           "sys.exit(code)")


def run(label: str, argv: list[str], out: Path, input_bytes: int) -> dict:
    """Run `argv` (through _LAUNCH); its wall time, throughput and peak memory."""
    out.unlink(missing_ok=True)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCH, *argv], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{label}: exit {done.returncode}: {done.stderr[-2000:]}")
    size = out.stat().st_size
    figures = {"label": label, "s": seconds, "in_mb_s": input_bytes / 1e6 / seconds,
               "out_mb": size / 1e6, "out_mb_s": size / 1e6 / seconds,
               "peak_mb": int(done.stdout.split()[-1]) / 1024}
    print(f"{label:<40} {seconds:6.1f} s  {figures['in_mb_s']:6.1f} MB/s in  "
          f"{size / 1e6:6.0f} MB out ({figures['out_mb_s']:5.1f} MB/s)  "
          f"peak {figures['peak_mb']:4.0f} MB", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "index")
    parser.add_argument("--engine", default="tantivy", help="full-text engine to index with")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each whole export")
    args = parser.parse_args()
    os.environ[ENGINE_ENV] = args.engine
    out = args.out / str(args.captures)
    began = time.perf_counter()
    collection, _, crawl_ids = bench_index.build(out, args.captures)
    summary = update(collection)
    print(f"archive ready in {time.perf_counter() - began:.0f}s (untimed; "
          f"{summary.captures} captures newly catalogued)")
    warcs = [str(p) for p in collection.warc_files()]
    warc_bytes = sum(os.path.getsize(p) for p in warcs)
    with Catalog.open(collection) as catalog:
        captures = catalog.count()
        last = catalog.crawls()[-1]
        last_bytes = sum(c.length for c in catalog.by_crawl(last))
    print(f"{len(warcs)} WARC files, {warc_bytes / 1e6:.0f} MB, {captures} captures; "
          f"last crawl {last}: {last_bytes / 1e6:.0f} MB of records")
    exports = out / "exports"
    exports.mkdir(exist_ok=True)
    target = ["export", "--collection", str(collection.root)]
    whole = [*PALIMPSEST, *target, str(exports / "ours.wacz")]
    theirs_argv = [str(WACZ), "create", "-o", str(exports / "py-wacz.wacz"), *warcs]
    ours, theirs = [], []
    # alternated, twice each, the faster run of each kept: the machine is shared
    for _ in range(args.rounds):
        ours.append(run("palimpsest export (whole)", whole, exports / "ours.wacz", warc_bytes))
        theirs.append(run("wacz create (py-wacz 0.6)", theirs_argv, exports / "py-wacz.wacz",
                          warc_bytes))
    picked = run(f"palimpsest export --crawl {last}",
                 [*PALIMPSEST, *target, str(exports / "crawl.wacz"), "--crawl", last],
                 exports / "crawl.wacz", last_bytes)
    best_ours = min(ours, key=lambda f: f["s"])
    best_theirs = min(theirs, key=lambda f: f["s"])
    print(f"whole export, fastest of {args.rounds}: ours {best_ours['s']:.1f} s, py-wacz "
          f"{best_theirs['s']:.1f} s: {best_theirs['s'] / best_ours['s']:.2f}x py-wacz's "
          f"speed (goal >= 1); peak {max(f['peak_mb'] for f in ours):.0f} MB (goal < 200; "
          f"py-wacz {max(f['peak_mb'] for f in theirs):.0f} MB); selection peak "
          f"{picked['peak_mb']:.0f} MB")

if __name__ == "__main__":
    main()
