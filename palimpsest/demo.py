"""`palimpsest demo`: the bundled sample network, crawled at revision 1 and at revision 2,
each crawl indexed as it ends, then served, opening on the change report between the two:
offline, so a newcomer sees at once what Palimpsest keeps and what it notices. The network's
script-rendered sister site (civiscope.test) is crawled with the browser, so the demo also
shows what a plain crawl of it misses: the words, JSON and images only its script fetches.

The demo fills the default collection (./warcs), so that every command run after it works on
what it made; it empties that directory first, and so marks what it makes (`demo.json`) and
refuses to empty any directory that holds more than an earlier demo left there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from index.collection import Collection
from index.compare.changes import change_report
from index.config import CONFIG_NAME
from index.crawl_log import crawl_entries
from index.errors import UsageError
from index.index_summary import IndexSummary
from index.indexer import update
from palimpsest.sample_network import SCRIPT_SITE, SampleNetwork
from palimpsest.setup import write_config

MARKER = "demo.json"
# what a demo writes into its collection, and all that the next demo removes
DEMO_ENTRIES = (CONFIG_NAME, "crawls", "derived")


def crawl_command(collection: Collection, *extra: str) -> list[str]:
    """The `palimpsest crawl` command line for `collection`, run as a child process (Scrapy's
    reactor runs once per process)."""
    return [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection",
            str(collection.root), *extra]


def crawl_both_revisions(collection: Collection, *, delay: str = "0", verbose: bool = False,
                         rendered: bool = True) -> list[IndexSummary]:
    """Crawl the sample network at revision 1, then at revision 2, into `collection`,
    indexing each crawl as it ends (the demo's collection, also what the benches measure
    against); returns what each indexing did. `verbose` prints each step, with progress bars
    when stderr is a terminal. `rendered`: the script-rendered site too, captured with the
    browser (as the demo does); without it, the five plainly crawled sites only."""
    summaries = []
    with SampleNetwork(revision=1) as network:
        write_config(collection, (), network.url, rendered=rendered)
        for revision in (1, 2):
            network.set_revision(revision)
            if verbose:
                click.secho(f"\n== crawling the sample network at revision {revision}",
                            bold=True)
            done = subprocess.run(crawl_command(collection, "--delay", delay),
                                  capture_output=not verbose)
            if done.returncode != 0:
                raise click.ClickException(f"crawl of revision {revision} failed")
            if verbose:
                click.secho(f"\n== indexing the crawl of revision {revision} (catalog and "
                            "full text)", bold=True)
            summaries.append(update(collection, progress=verbose and sys.stderr.isatty()))
            if verbose:
                click.echo(str(summaries[-1]))
    return summaries


def run_demo(collection: Collection, *, serve: bool = True, port: int = 8080) -> None:
    """Crawl the sample network twice into `collection`, index it, and serve the web UI over
    it on 127.0.0.1:`port` (unless `serve` is false). The port is checked before anything
    else is done, and the collection is emptied first (see `empty_demo_collection`)."""
    if serve:
        from web import check_address

        check_address("127.0.0.1", port)
    empty_demo_collection(collection)
    crawl_both_revisions(collection, delay="0.05", verbose=True)
    _write_marker(collection, finished=True)
    report = change_report(collection)
    watch = report["watch"].get("disclosure", {})
    click.secho("\n== what changed between the two crawls", bold=True)
    click.echo(f"{len(report['added'])} page added, {len(report['removed'])} removed, "
               f"{len(report['changed'])} changed, {report['unchanged']} unchanged; the "
               f"disclosure line disappeared from {len(watch.get('disappeared', []))} pages "
               f"({', '.join(sorted({m['site'] for m in watch.get('disappeared', [])}))})")
    click.echo(what_the_browser_saw(collection, port if serve else None))
    click.echo(next_steps(collection))
    if serve:
        from web import serve as serve_web

        address = f"http://127.0.0.1:{port}/changes"
        click.secho(f"\n== Palimpsest is serving the demo at {address} (Ctrl-C to stop)",
                    bold=True)
        serve_web(collection.root, "127.0.0.1", port)


def what_the_browser_saw(collection: Collection, port: int | None) -> str:
    """What the last crawl's browser capture of the script-rendered site recorded that a
    plain crawl of it would not: the pages rendered, and the requests their scripts made."""
    crawl = collection.crawl_ids()[-1]
    entries = [e for e in crawl_entries(collection, crawl) if e.get("site") == SCRIPT_SITE]
    pages = sum(e.get("outcome") == "rendered" for e in entries)
    fetched = {e["url"] for e in entries if e.get("reason") == "browser" and "url" in e}
    data = sum(u.endswith(".json") for u in fetched)
    where = f"http://127.0.0.1:{port}/web/*/http://{SCRIPT_SITE}.test/" if port else ""
    return (f"\n== what a plain crawl misses: {SCRIPT_SITE}.test puts its words on the page "
            f"with script; the browser rendered its {pages} pages and recorded the "
            f"{len(fetched)} requests their scripts made ({data} of them JSON with the text, "
            "the rest its scripts, styles and images), with a screenshot of each page. A "
            "plain crawl gets the empty shells only."
            + (f"\n   Its screenshots: {where}" if where else ""))


def empty_demo_collection(collection: Collection) -> None:
    """Remove what an earlier demo wrote into `collection.root`, and mark it as the demo's.
    UsageError, with nothing removed, unless the directory is missing, holds only dotfiles
    (a fresh clone's warcs/.gitkeep), or holds a demo's collection and nothing added since."""
    root = collection.root
    if root.exists():
        foreign = _not_the_demos(collection)
        if foreign:
            raise UsageError(f"{root} is not a demo collection ({foreign}): the demo empties "
                             "its directory first, so it leaves this one alone; give it "
                             "another with --dir DIR")
        for name in DEMO_ENTRIES:
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    _write_marker(collection, finished=False)


def next_steps(collection: Collection) -> str:
    """What to type next, in another terminal, to use the demo's collection."""
    lines = ["\n== the demo's collection is in "
             f"{_shown(collection.root)}; in another terminal, in this directory:"]
    command = shutil.which("palimpsest")
    ours = Path(sys.prefix) / "bin" / "palimpsest"
    if command is None or Path(command).resolve() != ours.resolve():
        activate = _shown(Path(sys.prefix) / "bin" / "activate")
        lines.append(f"  . {activate}    # puts `palimpsest` on your PATH")
    if collection.root != Collection.locate().root:
        lines.append(f"  export PALIMPSEST_COLLECTION={_shown(collection.root)}")
    lines += ["  palimpsest changes                  # this report, in the terminal",
              "  palimpsest search '\"on behalf of\"'  # the disclosure line, crawl by crawl",
              "  palimpsest diff http://allyvia.test/about/",
              "Run the demo again to start it afresh."]
    return "\n".join(lines)


def _not_the_demos(collection: Collection) -> str:
    """What in `collection.root` an earlier demo did not write, in a few words ('' if all
    of it is the demo's)."""
    root = collection.root
    if not root.is_dir():
        return "not a directory"
    try:
        marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
        return f"no {MARKER}; it holds {', '.join(entries)}" if entries else ""
    # an unfinished demo (interrupted) made every crawl there is: nobody had it to use yet
    made = set(marker.get("crawls", [])) if marker.get("finished") else None
    added = [c for c in collection.crawl_ids() if made is not None and c not in made]
    if collection.imported_dir.exists():
        added.append("imported/")
    return f"it holds {', '.join(added)}, added after the demo" if added else ""


def _write_marker(collection: Collection, *, finished: bool) -> None:
    marker = {"written_by": "palimpsest demo, which empties this directory when it runs "
                            "again (and refuses to if crawls or imports were added)",
              "finished": finished, "crawls": collection.crawl_ids()}
    collection.root.mkdir(parents=True, exist_ok=True)
    (collection.root / MARKER).write_text(json.dumps(marker, indent=2) + "\n",
                                          encoding="utf-8")


def _shown(path: Path) -> str:
    """`path` as a user in the current directory would type it."""
    try:
        return os.path.join(".", path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
