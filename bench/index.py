"""Indexing and search bench on a synthetic, recrawl-heavy archive.

Builds (untimed) a collection of N captures: N/10 URLs on five sites crawled 10 times, weekly;
a recrawl of an unchanged page is a revisit record (identical payload digest), and about 15%
of recrawls change a paragraph or two. Pages are ~800 words of generated prose in a CMS-like
HTML shell (inline CSS and scripts, menus, sidebar, footer with a disclosure line), written as
per-record-gzip WARC files with warcio, rotated every 2,500 records.

Then it times, on those files:
  - `index.indexer.update` (catalog pass, then full-text pass): captures/s overall, distinct
    pages/s through extraction into the engine (`--engine`, Whoosh by default), and a second,
    idempotent run;
  - the engine alone: adding already-extracted pages, pages/s;
  - the catalog pass against `cdxj-indexer` on the same files (wall time, ratio);
  - query latency p50/p95 through `index.search.service.search` (snippets included) over a mix of
    words, phrases, boolean, wildcard, fields, date range, as-of and sort by date;
  - index sizes on disk and peak memory of the indexing process (ru_maxrss).

    python bench/index.py                   # 100,000 captures (generation takes a few minutes)
    python bench/index.py --captures 5000   # a quick check
    python bench/index.py --engine tantivy  # the same with Tantivy (bench/search.py: both)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from base64 import b32encode
from datetime import datetime, timedelta
from io import BytesIO
from itertools import islice
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.collection import Collection  # noqa: E402
from index.config import render_template  # noqa: E402
from index.extract import extract  # noqa: E402
from index.fulltext_pass import text_key  # noqa: E402
from index.indexer import update  # noqa: E402
from index.search.engine import TextDoc  # noqa: E402
from index.search.engines import ENGINE_ENV  # noqa: E402
from index.search.service import SearchRequest, search  # noqa: E402
from index.search.tantivy_engine import TantivyIndex  # noqa: E402
from index.search.whoosh_engine import WhooshIndex  # noqa: E402

ENGINES = {"whoosh": WhooshIndex, "tantivy": TantivyIndex}

SITES = [("pax", "paxpoint.test"), ("ally", "allyvia.test"), ("fact", "factsignal.test"),
         ("cogn", "cognitura.test"), ("just", "justorium.test")]
SECTIONS = ("news", "blog", "research", "policy", "events")
CRAWLS = 10
FIRST_CRAWL = datetime(2025, 1, 6, 12)
CHANGE_RATE = 0.15
RECORDS_PER_FILE = 2500
FUNCTION_WORDS = ("the of and to a in is that for it as was with be by on not he this are or "
                  "his from at which but have an they you were her she there been one all we "
                  "their has would when who will more no if out so said what up its about "
                  "into than them can only other new some could time these two may then do "
                  "first any my now such like our over man me even most made after also did "
                  "many before must through back years where much your way well down should "
                  "because each just those people how too little state good very make world "
                  "still own see men work long get here between both life being under never"
                  ).split()
DISCLOSURE = ("This material is distributed by Clock Tower X LLC on behalf of a foreign "
              "principal. Additional information is available at the Department of Justice.")
PHRASE = "The joint action plan for regional security was signed by both delegations."


class Prose:
    """English-like text: function words and a Zipf-distributed vocabulary of made-up words,
    tuned so that 800 words hold about 300 distinct stems, as real news articles do."""

    def __init__(self, rng: random.Random, size: int = 20_000) -> None:
        self.rng = rng
        syllables = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u",
                                                                    "ai", "ea", "ou")]
        words: dict[str, None] = {}
        while len(words) < size:
            n = rng.choice((1, 2, 2, 2, 3, 3, 3, 4))
            words["".join(rng.choice(syllables) for _ in range(n)) + rng.choice(
                ("", "", "s", "ing", "ed", "tion", "ment", "er", "al", "ly"))] = None
        self.vocabulary = list(words)
        self._weights = [0.0] * size
        total = 0.0
        for rank in range(size):
            total += 1.0 / (rank + 1) ** 1.1
            self._weights[rank] = total

    def sentence(self) -> str:
        rng = self.rng
        n = rng.randint(9, 24)
        content = rng.choices(self.vocabulary, cum_weights=self._weights, k=n)
        words = [w if rng.random() > 0.5 else rng.choice(FUNCTION_WORDS) for w in content]
        return " ".join(words).capitalize() + rng.choice(".....?!")

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(3, 7)))

    def article(self, words: int = 800) -> list[str]:
        paragraphs: list[str] = []
        while sum(p.count(" ") + 1 for p in paragraphs) < words:
            paragraphs.append(self.paragraph())
        if self.rng.random() < 0.05:
            paragraphs.insert(1, PHRASE)
        return paragraphs


def site_shell(rng: random.Random, name: str, host: str, prose: Prose) -> tuple[str, str]:
    """The HTML around every article of a site: ~15 kB of inline CSS and script, menus,
    a sidebar and a footer (the disclosure line on four sites of five): ~120 words of text."""
    css = "\n".join(f".c{i} {{ margin: {i % 7}px; color: #{rng.randrange(1 << 24):06x}; "
                    f"font: {10 + i % 9}px/1.4 serif; }}" for i in range(160))
    script = "\n".join(f"window.cfg{i} = {{id: {i}, key: '{rng.randrange(1 << 48):x}', "
                       f"on: {str(i % 2 == 0).lower()}}};" for i in range(120))
    menu = "".join(f"<li class='c{i}'><a href='https://{host}/{s}/'>{s.title()}</a></li>"
                   for i, s in enumerate((*SECTIONS, "about", "contact", "donate")))
    sister = "".join(f"<a href='https://{h}/'>{n}</a> " for n, h in SITES if h != host)
    head = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{{title}} | {name}</title><meta name='description' content='{{desc}}'>"
            f"<style>{css}</style><script>{script}</script></head><body>"
            f"<header><nav class='menu'><ul>{menu}</ul></nav></header>"
            f"<main><article><h1>{{title}}</h1>")
    footer = DISCLOSURE if name != "just" else prose.sentence()
    tail = ("</article><aside><h3>Recent</h3><ul>"
            + "".join(f"<li><a href='https://{host}/news/{i}.html'>"
                      f"{' '.join(prose.sentence().split()[:8])}</a></li>" for i in range(5))
            + f"</ul></aside></main><footer><p>Our sister sites: {sister}</p>"
              f"<p>{footer}</p><p>Copyright {name}</p></footer></body></html>")
    return head, tail


def build(out: Path, captures: int, seed: int = 7) -> tuple[Collection, Prose, list[str]]:
    """Write the synthetic collection under `out` (reused if it is already complete)."""
    collection = Collection(out / "collection")
    done = out / f"built-{captures}"
    rng = random.Random(seed)
    prose = Prose(rng)
    crawl_ids = [(FIRST_CRAWL + timedelta(weeks=c)).strftime("%Y%m%d%H%M%S")
                 for c in range(CRAWLS)]
    if done.exists():
        return collection, prose, crawl_ids
    shutil.rmtree(out, ignore_errors=True)
    collection.root.mkdir(parents=True)
    collection.config_path.write_text(render_template(
        [(name, f"https://{host}/") for name, host in SITES], name="bench"))
    shells = {name: site_shell(rng, name, host, prose) for name, host in SITES}
    urls = [(name, f"https://{host}/{rng.choice(SECTIONS)}/{i:06d}.html")
            for i in range(captures // CRAWLS) for name, host in [SITES[i % len(SITES)]]]
    current: dict[str, tuple[list[str], str]] = {}
    seen: dict[str, tuple[str, str]] = {}
    for crawl_id in crawl_ids:
        folder = collection.crawls_dir / crawl_id
        folder.mkdir(parents=True)
        date = f"{crawl_id[:4]}-{crawl_id[4:6]}-{crawl_id[6:8]}T12:00:00Z"
        writer, out_file = None, None
        for n, (site, url) in enumerate(urls):
            if n % RECORDS_PER_FILE == 0:
                if out_file:
                    out_file.close()
                out_file = open(folder / f"BENCH-{crawl_id}-{n // RECORDS_PER_FILE:05d}"
                                ".warc.gz", "wb")
                writer = WARCWriter(out_file, gzip=True)
            if url not in current:
                current[url] = (prose.article(), prose.sentence()[:60].rstrip(".?!"))
            elif rng.random() < CHANGE_RATE:
                paragraphs, title = current[url]
                paragraphs = list(paragraphs)
                for _ in range(rng.randint(1, 2)):
                    paragraphs[rng.randrange(len(paragraphs))] = prose.paragraph()
                current[url] = (paragraphs, title)
            paragraphs, title = current[url]
            head, tail = shells[site]
            body = (head.replace("{title}", title).replace("{desc}", paragraphs[0][:120]) +
                    "".join(f"<p>{p}</p>" for p in paragraphs) + tail).encode()
            writer.write_record(_record(writer, url, body, date, seen))
        out_file.close()
    done.touch()
    return collection, prose, crawl_ids


def _record(writer: WARCWriter, url: str, body: bytes, date: str,
            seen: dict[str, tuple[str, str]]):
    digest = "sha1:" + b32encode(hashlib.sha1(body).digest()).decode()
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                          ("Content-Length", str(len(body)))],
                               protocol="HTTP/1.1")
    if seen.get(url, ("",))[0] == digest:
        return writer.create_revisit_record(url, digest, url, seen[url][1],
                                            http_headers=headers,
                                            warc_headers_dict={"WARC-Date": date})
    seen[url] = (digest, date)
    return writer.create_warc_record(url, "response", payload=BytesIO(body),
                                     http_headers=headers, warc_headers_dict={"WARC-Date": date})


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def engine_alone(collection: Collection, pages: int, out: Path,
                 engine: str = "whoosh") -> tuple[int, float]:
    """Pages/s of the engine alone: extract `pages` distinct payloads (untimed), then add and
    commit them into a fresh index."""
    from index.catalog import Catalog
    from index.warc_reader import read_payload

    docs = []
    with Catalog.open(collection) as catalog:
        rows = list(islice(((c.url, c.site, c.payload_file, c.payload_offset, c.payload_length)
                            for c in catalog.all_captures() if c.record_type == "response"),
                           pages))
    for url, site, path, offset, length in rows:
        _, body = read_payload(str(collection.root / path), offset, length)
        got = extract(body, "text/html", url)
        docs.append(TextDoc(text_key(url, got.full_text), url, site, got.title, got.main_text,
                            got.full_text, got.description, got.language, got.published))
    shutil.rmtree(out, ignore_errors=True)
    index = ENGINES[engine](out)
    started = time.perf_counter()
    for i, doc in enumerate(docs, 1):
        index.add(doc)
        if i % 1000 == 0:
            index.commit()
    index.commit()
    seconds = time.perf_counter() - started
    index.close()
    return len(docs), seconds


def query_mix(prose: Prose, crawl_ids: list[str]) -> list[tuple[str, SearchRequest]]:
    v = prose.vocabulary
    title_word = v[40]
    return [
        ("common word", SearchRequest(v[3])),
        ("mid word", SearchRequest(v[300])),
        ("rare word", SearchRequest(v[6000])),
        ("two words", SearchRequest(f"{v[150]} {v[420]}")),
        ("phrase, few pages", SearchRequest('"joint action plan"')),
        ("phrase, most pages", SearchRequest('"on behalf of a foreign principal"')),
        ("boolean", SearchRequest(f"({v[300]} OR {v[900]}) -{v[20]}")),
        ("wildcard", SearchRequest(f"{v[300][:4]}*")),
        ("title:", SearchRequest(f"title:{title_word}")),
        ("site: + word", SearchRequest(f"site:pax {v[300]}")),
        ("url: + word", SearchRequest(f"url:news {v[300]}")),
        ("date range", SearchRequest(v[300], date_from=crawl_ids[2][:8],
                                     date_to=crawl_ids[5][:8])),
        ("as of", SearchRequest(v[300], as_of=crawl_ids[4][:8])),
        ("sort by date", SearchRequest(v[300], sort="date")),
    ]


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
        else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "index")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query")
    parser.add_argument("--engine-pages", type=int, default=3000)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="whoosh",
                        help="full-text engine (set as $PALIMPSEST_ENGINE for the run)")
    args = parser.parse_args()
    os.environ[ENGINE_ENV] = args.engine
    engine = "Whoosh" if args.engine == "whoosh" else "Tantivy"
    out = args.out / str(args.captures)

    (collection, prose, crawl_ids), gen_s = timed(build, out, args.captures)
    warcs = list(collection.warc_files())
    warc_bytes = sum(p.stat().st_size for p in warcs)
    print(f"archive: {len(warcs)} WARC files, {warc_bytes / 1e6:.0f} MB, built in {gen_s:.0f}s")
    shutil.rmtree(collection.derived_dir, ignore_errors=True)

    catalog_run, catalog_s = timed(update, collection, fulltext=False)
    text_run, text_s = timed(update, collection)
    again, again_s = timed(update, collection)
    total_s = catalog_s + text_s
    captures = catalog_run.captures
    print(f"catalog pass: {captures} captures in {catalog_s:.1f}s "
          f"({captures / catalog_s:,.0f} captures/s)")
    print(f"full-text pass: {text_run.texts} payloads extracted, {text_run.documents} "
          f"distinct pages in {text_s:.1f}s ({text_run.documents / text_s:,.0f} pages/s)")
    print(f"overall: {captures / total_s:,.0f} captures/s ({total_s:.1f}s); second run: "
          f"{again.captures} captures, {again.documents} documents in {again_s:.2f}s")
    # the extraction workers are children of multiprocessing's forkserver, not of this
    # process, so RUSAGE_CHILDREN does not see them: this is the main (writing) process
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    pages, engine_s = engine_alone(collection, args.engine_pages,
                                   out / f"engine-only-{args.engine}", args.engine)
    print(f"{engine} alone: {pages} pages in {engine_s:.1f}s ({pages / engine_s:,.0f} pages/s)")

    cdxj_out = out / "cdxj-indexer.cdxj"
    done, cdxj_s = timed(subprocess.run, [str(Path(sys.executable).parent / "cdxj-indexer"),
                                          "-o", str(cdxj_out), *map(str, warcs)])
    print(f"cdxj-indexer on the same files: {cdxj_s:.1f}s (exit {done.returncode}); "
          f"catalog pass / cdxj-indexer = {catalog_s / cdxj_s:.2f}x the time")

    latencies: dict[str, list[float]] = {}
    totals: dict[str, int] = {}
    for label, request in query_mix(prose, crawl_ids):
        search(collection, request)  # warm: opens files, fills caches
        for _ in range(args.repeat):
            found, seconds = timed(search, collection, request)
            latencies.setdefault(label, []).append(seconds * 1000)
        totals[label] = found["total"]
    every = sorted(ms for runs in latencies.values() for ms in runs)
    p95 = every[min(len(every) - 1, round(0.95 * len(every)) - 1)]
    print(f"queries ({len(every)} runs, snippets included): p50 "
          f"{statistics.median(every):.0f} ms, p95 {p95:.0f} ms")
    for label, runs in latencies.items():
        print(f"  {label:<20} {statistics.median(runs):7.0f} ms  ({totals[label]} pages)")

    index_mb = du(collection.derived_dir / f"fulltext-{args.engine}") / 1e6
    catalog_mb = du(collection.derived_dir / "catalog.sqlite") / 1e6
    print(f"on disk: {engine} index {index_mb:.0f} MB, catalog {catalog_mb:.0f} MB "
          f"(WARCs {warc_bytes / 1e6:.0f} MB)")
    print(f"peak memory while indexing (main process, which writes the catalog and the "
          f"{engine} index): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
