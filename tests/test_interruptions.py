"""A crawl can be stopped: cleanly by Ctrl-C or SIGTERM, brutally by kill -9, and resumed."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from index.collection import Collection
from palimpsest.sample_network import SampleNetwork, manifest
from tests.conftest import ROOT, crawl, crawl_ids, new_collection, read_records


def _start_crawl(collection) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "palimpsest.cli", "crawl", "--collection", str(collection.root),
         "--delay", "0", "--concurrency-per-site", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_captures(collection, at_least: int, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for crawl_dir in collection.crawls_dir.glob("*"):
            log = crawl_dir / "crawl-log.jsonl"
            if log.exists() and log.read_text().count('"status"') >= at_least:
                return crawl_dir
        time.sleep(0.05)
    raise AssertionError("the crawl made no progress")


def _readable_records(path: Path) -> list[str]:
    urls = []
    with open(path, "rb") as stream:
        try:
            for record in ArchiveIterator(stream):
                record.content_stream().read()
                urls.append(record.rec_headers.get_header("WARC-Target-URI"))
        except Exception:  # noqa: BLE001 -- the torn tail of a killed write is expected
            pass
    return urls


def test_sigterm_stops_cleanly_with_every_warc_closed(tmp_path):
    with SampleNetwork(revision=1, latency_ms=40) as network:
        collection = new_collection(tmp_path, network)
        process = _start_crawl(collection)
        crawl_dir = _wait_for_captures(collection, 10)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "--resume" in err
    assert not list(crawl_dir.glob("*.open"))
    check = subprocess.run([ROOT / ".venv/bin/warcio", "check", *map(str, crawl_dir.glob("*.gz"))],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    summary = json.loads((crawl_dir / "summary.json").read_text())
    assert summary["finish_reason"] == "shutdown"


def test_crawl_killed_with_kill_9_is_resumed_to_completion_without_refetching(tmp_path):
    with SampleNetwork(revision=1, latency_ms=40) as network:
        collection = new_collection(tmp_path, network)
        process = _start_crawl(collection)
        crawl_dir = _wait_for_captures(collection, 40)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        open_files = list(crawl_dir.glob("*.warc.gz.open"))
        assert open_files, "a killed crawl leaves its file open"
        before = _readable_records(open_files[0])
        assert len(before) >= 40

        done = crawl(collection, "--resume")
        assert "finished" in done.stdout
    crawls = crawl_ids(collection)
    assert len(crawls) == 1, "resume continues the same crawl folder"
    records = read_records(crawls[0].warcs)
    captured = [r.url for r in records if r.type in ("response", "revisit")]
    assert manifest(1).pages <= set(captured)
    # what was done before the kill was not fetched again (robots.txt aside: obeying it
    # means reading it again)
    refetched = [u for u in set(captured) if captured.count(u) > 1
                 and not u.endswith("/robots.txt")]
    assert len(refetched) <= 2, refetched
    assert set(before) - {None, ""} <= {r.url for r in records}
    assert crawls[0].summary()["finish_reason"] == "finished"


def test_resume_without_an_interrupted_crawl_is_a_clear_error(tmp_path, network_history):
    # a copy of the session's collection, whose crawls all finished: nothing to resume
    collection = Collection(tmp_path / "finished")
    shutil.copytree(network_history.collection.root, collection.root,
                    ignore=shutil.ignore_patterns("derived"))
    done = crawl(collection, "--resume", check=False)
    assert done.returncode == 2
    assert "no interrupted crawl" in done.stderr
    assert "Traceback" not in done.stderr
    assert collection.crawl_ids() == network_history.collection.crawl_ids()
