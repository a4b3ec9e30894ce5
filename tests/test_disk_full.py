"""A full disk, for real (a small tmpfs): crawl and index stop at the first write that fails,
in one line and with exit 1, leave every file whole, and finish once there is room."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from index.collection import Collection
from index.search.engines import ENGINE_ENV
from palimpsest.sample_network import SampleNetwork, manifest
from tests.conftest import ROOT, crawl, crawl_ids, new_collection, palimpsest, read_records

ROOM = "64m"


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (skips the test where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}): a full "
                    "disk needs one")
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=True)


def resize(disk: Path, size: str | int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True)


def used_bytes(disk: Path) -> int:
    info = os.statvfs(disk)
    return (info.f_blocks - info.f_bfree) * info.f_frsize


def fetched(warcs: list[Path]) -> set[str]:
    return {r.url for r in read_records(warcs) if r.type in ("response", "revisit")}


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_crawl_on_a_full_disk_stops_in_one_line_with_whole_warcs_and_resumes(tmp_path):
    with SampleNetwork(revision=1) as network, small_disk(tmp_path / "disk", "1m") as disk:
        full = new_collection(disk / "collection", network)
        done = crawl(full, check=False)
        assert done.returncode == 1
        error = one_line(done.stderr)
        assert "No space left on device" in error
        assert error.endswith("finish it with `palimpsest crawl --resume`")
        [stopped] = crawl_ids(full)
        assert not list(stopped.dir.glob("*.open"))
        for warc in stopped.warcs:
            with open(warc, "rb") as stream:
                for record in ArchiveIterator(stream):
                    record.content_stream().read()
        check = subprocess.run([ROOT / ".venv/bin/warcio", "check",
                                *map(str, stopped.warcs)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        partial = fetched(stopped.warcs)

        resize(disk, ROOM)
        crawl(full, "--resume")
        [resumed] = crawl_ids(full)
        assert resumed.summary()["finish_reason"] == "finished"
        # every page, as a crawl killed with -9 and resumed has them (requisites of a
        # document whose outlinks record was not written yet are not: crawler/resume.py)
        assert partial < fetched(resumed.warcs)
        assert manifest(1).pages <= fetched(resumed.warcs)


def test_crawl_with_no_room_at_all_says_so_in_one_line_and_leaves_no_crawl(tmp_path):
    with SampleNetwork(revision=1) as network, small_disk(tmp_path / "disk", "1m") as disk:
        collection = new_collection(disk / "collection", network)
        resize(disk, used_bytes(disk))
        done = crawl(collection, check=False)
        assert done.returncode == 1
        assert "cannot write" in one_line(done.stderr)
        assert collection.crawl_ids() == []
        resize(disk, ROOM)
        crawl(collection)
        assert [c.summary()["finish_reason"] for c in crawl_ids(collection)] == ["finished"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    with SampleNetwork(revision=1) as network:
        collection = new_collection(tmp_path_factory.mktemp("crawled"), network)
        crawl(collection)
    return collection


def _search(root: Path, query: str) -> dict:
    found = palimpsest("search", "--collection", str(root), "--json", "--limit", "1000", query)
    return json.loads(found.stdout)


@pytest.mark.parametrize("engine, room", [("whoosh", 16 * 1024), ("whoosh", 600 * 1024),
                                          ("tantivy", 600 * 1024)],
                         ids=["catalog", "whoosh-texts", "tantivy-texts"])
def test_index_on_a_full_disk_stops_in_one_line_and_the_next_run_completes(
        crawled, tmp_path, monkeypatch, engine, room):
    monkeypatch.setenv(ENGINE_ENV, engine)
    reference = tmp_path / "reference"
    shutil.copytree(crawled.root, reference)
    palimpsest("index", "--collection", str(reference))
    with small_disk(tmp_path / "disk", ROOM) as disk:
        root = disk / "collection"
        shutil.copytree(crawled.root, root)
        resize(disk, used_bytes(disk) + room)
        done = palimpsest("index", "--collection", str(root), check=False)
        assert done.returncode == 1
        error = one_line(done.stderr)
        assert "cannot write" in error and ("full" in error or "No space" in error
                                            or "I/O error" in error)
        assert error.endswith("make room, then run the command again")

        resize(disk, ROOM)
        palimpsest("index", "--collection", str(root))
        assert palimpsest("verify", "--collection", str(root)).returncode == 0
        for query in ("the", '"sister sites"'):
            assert _search(root, query) == _search(reference, query)
