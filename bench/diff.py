"""Diff bench: comparisons of two ~100 KB pages with many small edits, read from their WARC
records as `palimpsest diff` reads them, beside difflib alone; and the change report over the
demo collection. Prints p50/p95 and ratios; never asserts.

    .venv/bin/python bench/diff.py [--runs 50] [--edits 120]
"""

from __future__ import annotations

import argparse
import html
import random
import statistics
import subprocess
import sys
import tempfile
import time
from difflib import SequenceMatcher
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from index.catalog import Catalog  # noqa: E402
from index.collection import Collection  # noqa: E402
from index.compare.changes import change_report  # noqa: E402
from index.compare.diff import compare  # noqa: E402
from index.compare.textdiff import diff_words  # noqa: E402
from index.extract import extract  # noqa: E402
from index.warc_import import add_warcs  # noqa: E402
from palimpsest.demo import crawl_both_revisions  # noqa: E402
from palimpsest.sample_network.prose import plain  # noqa: E402
from palimpsest.sample_network.sites import load_sites  # noqa: E402

REPLACEMENTS = ("revised", "postponed", "regional", "2027", "none", "several", "disputed")


def prose() -> list[str]:
    """Every paragraph the sample network's articles hold: real sentences, real vocabulary."""
    found = []
    for site in load_sites():
        for article in site.articles:
            found += [plain(article.lede), *map(plain, article.takeaways)]
            found += [plain(paragraph) for _, paragraph in article.parts]
            found.append(plain(article.conclusion))
    return found


def page_pair(rng: random.Random, paragraphs: list[str], edits: int, size: int = 100_000
              ) -> tuple[bytes, bytes]:
    """A ~`size`-byte HTML page of paragraphs (inline style and script, as CMS pages carry),
    and a copy with `edits` small edits spread over its text: words replaced, inserted,
    deleted, their case changed."""
    chosen, length = [], 0
    while length < size * 0.9:
        chosen.append(rng.choice(paragraphs).split())
        length += sum(len(w) + 1 for w in chosen[-1]) + 12
    edited = [list(p) for p in chosen]
    for _ in range(edits):
        words = rng.choice(edited)
        at = rng.randrange(len(words))
        kind = rng.randrange(4)
        if kind == 0:
            words[at] = rng.choice(REPLACEMENTS)
        elif kind == 1:
            words.insert(at, rng.choice(REPLACEMENTS))
        elif kind == 2 and len(words) > 1:
            del words[at]
        else:
            words[at] = words[at].upper()

    def render(paras: list[list[str]]) -> bytes:
        body = "".join(f'<p class="c-para">{html.escape(" ".join(p))}</p>\n' for p in paras)
        head = "<style>" + ".c-para{margin:0 0 1em}" * 200 + "</style>"
        return (f"<!doctype html><html lang=en><head><title>Bench page</title>{head}</head>"
                f"<body><main><article><h1>Bench page</h1>{body}</article></main>"
                f"<script>var x = 1;</script></body></html>").encode()

    return render(chosen), render(edited)


def write_pairs(path: Path, pairs: list[tuple[bytes, bytes]]) -> None:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n, pair in enumerate(pairs):
            for side, body in enumerate(pair):
                head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                   ("Content-Length", str(len(body)))],
                                        protocol="HTTP/1.1")
                date = f"2025-01-{1 + side:02d}T{n // 60:02d}:{n % 60:02d}:00Z"
                writer.write_record(writer.create_warc_record(
                    f"http://bench.test/page-{n}", "response", payload=BytesIO(body),
                    http_headers=head, warc_headers_dict={"WARC-Date": date}))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[round(share * (len(ordered) - 1))]


def ms(values: list[float]) -> str:
    return (f"p50 {1000 * statistics.median(values):.1f} ms, "
            f"p95 {1000 * percentile(values, 0.95):.1f} ms")


def bench_pairs(runs: int, edits: int) -> None:
    rng = random.Random(1)
    paragraphs = prose()
    pairs = [page_pair(rng, paragraphs, edits) for _ in range(runs)]
    with tempfile.TemporaryDirectory() as tmp:
        collection = Collection(Path(tmp) / "bench")
        write_pairs(Path(tmp) / "pairs.warc.gz", pairs)
        add_warcs(collection, [Path(tmp) / "pairs.warc.gz"], fulltext=False)
        with Catalog.open(collection) as catalog:
            captured = [catalog.captures(f"http://bench.test/page-{n}") for n in range(runs)]
        whole, words, changes = [], [], []
        for a, b in captured:
            start = time.perf_counter()
            result = compare(collection, a, b)  # read, decompress, extract, diff: all of it
            whole.append(time.perf_counter() - start)
            changes.append(result["changes"])
        texts = []
        for old, new in pairs:
            texts.append((extract(old, "text/html", "http://bench.test/").main_text,
                          extract(new, "text/html", "http://bench.test/").main_text))
            start = time.perf_counter()
            diff_words(*texts[-1])
            words.append(time.perf_counter() - start)
    size = statistics.mean(len(p[0]) for p in pairs) / 1000
    print(f"compare() of two {size:.0f} KB captures with {edits} small edits, from their WARC "
          f"records ({runs} runs, {statistics.median(changes):.0f} changes found at the "
          f"median): {ms(whole)} (goal <= 100 ms)")
    print(f"  the word diff alone: {ms(words)}")
    baseline = []
    for old, new in texts[:5]:
        start = time.perf_counter()
        SequenceMatcher(None, old.split(), new.split(), autojunk=False).get_opcodes()
        baseline.append(time.perf_counter() - start)
    print(f"  difflib alone (SequenceMatcher over the words, autojunk off, 5 runs): "
          f"{ms(baseline)}: {statistics.median(baseline) / statistics.median(words):.0f}x "
          f"the word diff's time")
    one = [" ".join(old.split()) for old, _ in texts[:10]]
    edited = [" ".join(new.split()) for _, new in texts[:10]]
    single = []
    for old, new in zip(one, edited, strict=True):
        start = time.perf_counter()
        diff_words(old, new)
        single.append(time.perf_counter() - start)
    print(f"  the same texts as one paragraph each (no paragraph to match first, 10 runs): "
          f"{ms(single)}")


def bench_shapes(runs: int = 5) -> None:
    """The word diff on shapes that defeat simpler strategies: many edits, one long paragraph
    of few distinct words (no word unique on both sides to anchor on)."""
    rng = random.Random(3)
    vocab = [f"w{n}" for n in range(3000)] + ["the", "of", "and", "to", "a", "in"] * 300
    shapes = {"1,000 edits in 180 paragraphs": (vocab, 180, 90, 1000),
              "one paragraph of 25 distinct words, 120 edits": (vocab[:25], 1, 16_000, 120),
              "one paragraph of 3 distinct words, 300 edits": (vocab[:3], 1, 16_000, 300)}
    for label, (words, paragraphs, length, edits) in shapes.items():
        old = [[rng.choice(words) for _ in range(length)] for _ in range(paragraphs)]
        new = [list(p) for p in old]
        for _ in range(edits):
            paragraph = rng.choice(new)
            paragraph[rng.randrange(len(paragraph))] = rng.choice(words)
        texts = ["\n".join(" ".join(p) for p in side) for side in (old, new)]
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            result = diff_words(*texts)
            times.append(time.perf_counter() - start)
        print(f"  {label} ({len(texts[0]) // 1000} KB, {result.changed_words} words changed): "
              f"{ms(times)}")


def bench_report() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        collection = Collection(Path(tmp) / "demo")
        crawl_both_revisions(collection)
        start = time.perf_counter()
        report = change_report(collection)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        change_report(collection)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "palimpsest.cli", "changes", "--json",
                        "--collection", str(collection.root)], check=True,
                       capture_output=True, cwd=ROOT)
        command = time.perf_counter() - start
    pages = len(report["changed"]) + report["unchanged"]
    print(f"change report over the demo collection (revisions 1 and 2: {pages} pages in both "
          f"crawls, {len(report['changed'])} compared from their payloads, "
          f"{report['unchanged']} unchanged, the disclosure watch on every page): "
          f"{cold:.2f} s cold in-process, {warm:.2f} s again in the same process "
          f"(payloads remembered), `palimpsest changes --json` {command:.2f} s end to end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--edits", type=int, default=120)
    args = parser.parse_args()
    bench_pairs(args.runs, args.edits)
    bench_shapes()
    bench_report()


if __name__ == "__main__":
    main()
