"""A newcomer's first minutes: `make demo` fills the collection every command finds by
default, says what to type next, stops in one line on a busy port before crawling, never
empties a collection it did not make, and leaves no progress-bar debris in a log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

from index.collection import Collection
from index.errors import UsageError
from palimpsest.demo import MARKER, empty_demo_collection
from tests.conftest import ROOT, palimpsest, run_in

SAMPLE_WARC = ROOT / "tests" / "data" / "sample-1.1.warc.gz"


@pytest.fixture()
def busy_port() -> Iterator[int]:
    """A loopback port some other program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_demo_fills_the_default_collection_the_other_commands_find(demo_run):
    home, done = demo_run
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (home / "warcs" / "crawls").iterdir()) != []
    changes = run_in(home, "changes")
    assert changes.returncode == 0, changes.stderr
    assert "Changes from crawl" in changes.stdout
    found = run_in(home, "search", '"on behalf of"')
    assert found.returncode == 0 and "pages match" in found.stdout
    assert (home / "warcs" / ".gitkeep").exists()


def test_demo_says_what_to_type_next(demo_run):
    _, done = demo_run
    tail = done.stdout[done.stdout.index("== the demo's collection is in ./warcs"):]
    assert "bin/activate" in tail
    assert "palimpsest changes" in tail and "palimpsest diff http://allyvia.test/about/" in tail
    assert "PALIMPSEST_COLLECTION" not in tail  # the default collection needs no naming


def test_demo_summary_counts_what_each_indexing_read(demo_run):
    _, done = demo_run
    summaries = [line for line in done.stdout.splitlines() if "captures added" in line]
    assert len(summaries) == 2
    assert all(line.startswith("1 WARC file read, ") for line in summaries)
    assert "0 captures added" not in done.stdout


def test_demo_in_a_log_has_no_progress_bars(demo_run):
    _, done = demo_run
    assert "\r" not in done.stdout and "\r" not in done.stderr


def test_demo_may_run_again_over_its_own_collection(tmp_path):
    root = tmp_path / "warcs"
    empty_demo_collection(Collection(root))
    (root / "crawls" / "20260101000000").mkdir(parents=True)
    (root / "derived").mkdir()
    (root / "palimpsest.toml").write_text("")
    (root / MARKER).write_text(json.dumps({"finished": True, "crawls": ["20260101000000"]}))
    empty_demo_collection(Collection(root))
    assert sorted(p.name for p in root.iterdir()) == [MARKER]


def test_demo_refuses_a_collection_with_a_crawl_it_did_not_make(tmp_path):
    root = tmp_path / "warcs"
    (root / "crawls" / "20260101000000").mkdir(parents=True)
    (root / "crawls" / "20260102000000").mkdir()
    (root / MARKER).write_text(json.dumps({"finished": True, "crawls": ["20260101000000"]}))
    with pytest.raises(UsageError, match="it holds 20260102000000, added after the demo"):
        empty_demo_collection(Collection(root))
    assert (root / "crawls" / "20260101000000").is_dir()


def test_demo_refuses_a_collection_that_is_not_a_demo_in_one_line(tmp_path):
    root = tmp_path / "mine"
    palimpsest("init", "--collection", str(root), "--sample-network", "http://127.0.0.1:9")
    done = palimpsest("demo", "--dir", str(root), "--no-serve", check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is not a demo collection" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in root.iterdir()) == ["palimpsest.toml"]


def test_serve_with_nothing_crawled_says_what_to_run_in_one_line(tmp_path):
    root = tmp_path / "warcs"
    palimpsest("init", "--collection", str(root), "--sample-network", "http://127.0.0.1:9")
    done = palimpsest("serve", "--collection", str(root), "--port", "0", check=False)
    assert done.returncode == 2
    assert done.stderr == (f"Error: nothing indexed in {root}: run `palimpsest crawl` (or "
                           "`palimpsest add WARC...`), then `palimpsest index` first\n")


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path, busy_port):
    collection = str(tmp_path / "c")
    palimpsest("add", "--collection", collection, str(SAMPLE_WARC))
    done = palimpsest("serve", "--collection", collection, "--port", str(busy_port),
                      check=False, timeout=30)
    assert done.returncode == 1
    assert done.stderr == (f"Error: cannot serve on 127.0.0.1:{busy_port}: the port is in use;"
                           " stop what holds it, or choose another port with --port\n")


def test_demo_on_a_busy_port_stops_before_crawling(tmp_path, busy_port):
    done = palimpsest("demo", "--dir", str(tmp_path / "demo"), "--port", str(busy_port),
                      check=False, timeout=30)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "the port is in use" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "demo").exists()


def test_make_demo_on_a_busy_port_stops_before_crawling(tmp_path, busy_port):
    planned = subprocess.run(["make", "-n", "demo", f"PORT={busy_port}"], cwd=ROOT,
                             capture_output=True, text=True)
    if planned.stdout.strip() != f".venv/bin/palimpsest demo --port {busy_port}":
        pytest.skip("make demo would set up .venv first")
    done = subprocess.run(["make", "-s", "demo", f"PORT={busy_port}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PALIMPSEST_COLLECTION": str(tmp_path / "demo")})
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if not line.startswith("make")]
    assert ours == [f"Error: cannot serve on 127.0.0.1:{busy_port}: the port is in use; stop "
                    "what holds it, or choose another port with --port"]
    assert not (tmp_path / "demo").exists()


def test_commands_in_a_log_draw_no_progress_bars(tmp_path):
    collection = str(tmp_path / "c")
    for args in (("add", str(SAMPLE_WARC)), ("index", "--rebuild"), ("verify",)):
        done = palimpsest(args[0], "--collection", collection, *args[1:])
        assert "\r" not in done.stdout + done.stderr, args


@pytest.mark.parametrize("args", [("index",), ("verify",), ("cdxj",), ("changes",),
                                  ("captures", "http://allyvia.test/"),
                                  ("diff", "http://allyvia.test/"), ("search", "summit"),
                                  ("serve", "--port", "0")])
def test_nothing_to_index_leaves_no_derived_folder(tmp_path, args):
    root = tmp_path / "warcs"
    palimpsest("init", "--collection", str(root), "--sample-network", "http://127.0.0.1:9")
    done = palimpsest(args[0], "--collection", str(root), *args[1:], check=False)
    assert "Traceback" not in done.stderr
    assert not (root / "derived").exists()
