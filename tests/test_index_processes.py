"""`palimpsest index` stopped by SIGTERM or kill -9 leaves no process behind (its workers are
children of multiprocessing's forkserver, not of the command), and the next run finishes with
a consistent catalog."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.catalog import Catalog
from palimpsest.sample_network import SampleNetwork
from tests.conftest import ROOT, crawl, crawl_ids, new_collection, palimpsest

COPIES = 12  # of the crawl's WARC: enough bytes for the catalog to be read by workers


@pytest.fixture(scope="module")
def many_warcs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collection holding one crawl of the sample network and COPIES imported copies of
    its WARC file (about 20 MB to read)."""
    with SampleNetwork(revision=1) as network:
        collection = new_collection(tmp_path_factory.mktemp("many"), network)
        crawl(collection)
    [warc] = crawl_ids(collection)[0].warcs
    for n in range(COPIES):
        target = collection.imported_dir / f"copy-{n}" / warc.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(warc, target)
    return collection.root


def _session(leader: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process of the session `leader` started; dead
    ones waiting to be reaped by init do not count."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, session = fields[0], int(fields[3])
        if session == leader and state != "Z":
            found.append((int(stat.parent.name), command))
    return found


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_index_stopped_leaves_no_process_and_the_next_run_completes(many_warcs, tmp_path,
                                                                    stop):
    root = tmp_path / "collection"
    shutil.copytree(many_warcs, root)
    process = subprocess.Popen(
        [sys.executable, "-m", "palimpsest.cli", "index", "--collection", str(root),
         "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    try:
        # the command, the resource tracker, the forkserver and its two workers
        _wait_for(lambda: len(_session(process.pid)) >= 5, 60, "the index workers")
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
        _wait_for(lambda: not _session(process.pid), 10, "the index processes to end")
    finally:
        for pid, _ in _session(process.pid):
            subprocess.run(["kill", "-9", str(pid)], check=False)
    if stop == signal.SIGTERM:
        assert process.returncode == 1
        assert err.strip().splitlines()[-1].endswith("stopped by SIGTERM: what it finished "
                                                     "is kept; run it again to finish")
        assert "Traceback" not in err

    palimpsest("index", "--collection", str(root), "--workers", "2")
    from index.collection import Collection

    with Catalog.open(Collection(root)) as catalog:
        files = catalog.indexed_files()
        per_file = {len(catalog.captures_in_file(path)) for path in files}
        captures = catalog.count()
    assert len(files) == COPIES + 1
    assert len(per_file) == 1  # every copy wholly catalogued once
    assert captures == (COPIES + 1) * per_file.pop()
    assert palimpsest("verify", "--collection", str(root)).returncode == 0
