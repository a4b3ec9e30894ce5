"""Diff bench: comparisons of two ~100 KB pages with many small edits, and the change report
over the demo collection. Prints p50/p95; never asserts.

    .venv/bin/python bench/diff.py [--runs 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.changes import change_report  # noqa: E402
from index.collection import Collection  # noqa: E402
from index.diff import diff_words  # noqa: E402
from index.extract import extract  # noqa: E402
from index.indexer import update  # noqa: E402
from palimpsest.demo import crawl_command  # noqa: E402
from palimpsest.sample_network import SampleNetwork  # noqa: E402
from palimpsest.setup import write_config  # noqa: E402

WORDS = ("the council agreed to extend the program for regional partners while observers "
         "noted delays in funding reports and asked for a public review of progress").split()


def page_pair(seed: int, size: int = 100_000, edits: int = 120) -> tuple[str, str]:
    """A ~100 KB text of paragraphs, and a copy with `edits` small word edits spread over it."""
    rng = random.Random(seed)
    paragraphs, length = [], 0
    while length < size:
        paragraph = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120)))
        paragraphs.append(paragraph)
        length += len(paragraph) + 1
    old = "\n".join(paragraphs)
    words = old.split(" ")
    for _ in range(edits):
        at = rng.randrange(len(words))
        words[at] = rng.choice(["revised", "postponed", "", words[at].upper()])
    return old, " ".join(words)


def html_page(text: str) -> bytes:
    body = "".join(f"<p>{paragraph}</p>\n" for paragraph in text.split("\n"))
    return (f"<!doctype html><html lang=en><head><title>Bench</title></head><body><main>"
            f"<article><h1>Bench</h1>{body}</article></main></body></html>").encode()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    times, text_times = [], []
    for run in range(args.runs):
        old, new = page_pair(run)
        old_html, new_html = html_page(old), html_page(new)
        start = time.perf_counter()
        # what compare() does once both payloads are read: extract, then diff
        a = extract(old_html, "text/html", "http://bench.test/")
        b = extract(new_html, "text/html", "http://bench.test/")
        middle = time.perf_counter()
        ops = diff_words(a.main_text, b.main_text)
        end = time.perf_counter()
        times.append(end - start)
        text_times.append(end - middle)
    changes = sum(op["op"] != "equal" for op in ops)
    print(f"two {len(old_html) // 1000} KB HTML pages with 120 small edits ({changes} change "
          f"ops), {args.runs} runs: extract + diff p50 {1000 * statistics.median(times):.1f} ms,"
          f" p95 {1000 * percentile(times, 0.95):.1f} ms (goal <= 100 ms); the word diff "
          f"alone p50 {1000 * statistics.median(text_times):.1f} ms, "
          f"p95 {1000 * percentile(text_times, 0.95):.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        collection = Collection(Path(tmp) / "demo")
        with SampleNetwork(revision=1) as network:
            write_config(collection, (), network.url)
            for revision in (1, 2):
                network.set_revision(revision)
                subprocess.run(crawl_command(collection, "--delay", "0"), check=True,
                               capture_output=True)
        update(collection)
        start = time.perf_counter()
        report = change_report(collection)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        change_report(collection)
        warm = time.perf_counter() - start
    print(f"change report over the demo collection ({len(report['changed'])} changed pages "
          f"compared, {report['unchanged']} unchanged skipped by digest, 1 watched phrase): "
          f"{cold:.2f} s cold, {warm:.2f} s with the watch answers remembered")


if __name__ == "__main__":
    main()
