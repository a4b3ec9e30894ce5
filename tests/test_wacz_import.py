"""`palimpsest add FILE.wacz` and `palimpsest verify FILE.wacz` on packages from other tools
(py-wacz's `wacz create`, a Browsertrix-shaped package) and on hostile or broken zips.

The WARCs are the session's real crawl of the sample network; py-wacz runs from its own venv
(.venv-wacz), as the referee our packages must satisfy.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.cdxj import cdxj_lines
from index.collection import Collection
from index.indexer import update
from index.search.service import SearchRequest, search
from index.wacz.reader import verify_package
from index.wacz.signing import digest_of, key_path, sign_digest
from index.warc_import import add_warcs
from palimpsest.cli import main
from tests.conftest import ROOT, CrawledCollection

WACZ = ROOT / ".venv-wacz/bin/wacz"
TITLE_WORD = "quokkalune"  # in a page list's title only, never in the sample network's pages
# a page list's first line, as Browsertrix and py-wacz write it (frictionless takes its keys for
# the table's header: without "title", each page line is a blank row to py-wacz's validator)
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


def py_wacz(*args: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(WACZ), *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"wacz {args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def cdxj_of(collection: Collection) -> list[str]:
    """The collection's CDXJ lines with each record's file name dropped (an import puts the
    same records in other files)."""
    update(collection, fulltext=False)
    with Catalog.open(collection) as catalog:
        lines = list(cdxj_lines(catalog))
    out = []
    for line in lines:
        key, ts, fields = line.split(" ", 2)
        record = json.loads(fields)
        record.pop("filename")
        out.append(f"{key} {ts} {json.dumps(record, sort_keys=True)}")
    return out


def text_page(history: CrawledCollection) -> str:
    """A text/plain page of the first crawl: its extraction gives it no title of its own."""
    with Catalog.open(history.collection) as catalog:
        crawl = history.crawls[0].crawl_id
        return next(c.url for c in catalog.by_crawl(crawl)
                    if c.mime == "text/plain" and c.status == 200)


@pytest.fixture(scope="module")
def py_wacz_package(indexed_history: CrawledCollection, tmp_path_factory) -> dict:
    """The first crawl's WARCs packed by `wacz create`, with a pages file giving a text
    page a title of its own."""
    tmp = tmp_path_factory.mktemp("pywacz")
    warcs = indexed_history.crawls[0].warcs
    url = text_page(indexed_history)
    pages = tmp / "pages.jsonl"
    pages.write_text(json.dumps(PAGES_HEADER) + "\n"
                     + json.dumps({"id": "p1", "url": url, "ts": "2026-01-01T00:00:00Z",
                                   "title": f"The {TITLE_WORD} notes"}) + "\n")
    out = tmp / "crawl-one.wacz"
    py_wacz("create", "-o", out, "-p", pages, "--copy-pages", *warcs)
    return {"path": out, "warcs": warcs, "url": url, "tmp": tmp}


def test_py_wacz_package_added_gives_the_cdxj_of_its_warcs_and_keeps_titles(
        py_wacz_package, tmp_path):
    direct = Collection(tmp_path / "direct")
    add_warcs(direct, py_wacz_package["warcs"], fulltext=False)
    imported = Collection(tmp_path / "imported")
    summary = add_warcs(imported, [py_wacz_package["path"]])
    assert summary.captures > 0 and not summary.damaged
    folder = imported.imported_dir / "crawl-one"
    assert sorted(p.name for p in folder.glob("*.warc.gz")) == sorted(
        p.name for p in py_wacz_package["warcs"])
    assert cdxj_of(imported) == cdxj_of(direct)
    found = search(imported, SearchRequest(q=TITLE_WORD))
    assert [(r["url"], r["title"]) for r in found["results"]] == [
        (py_wacz_package["url"], f"The {TITLE_WORD} notes")]
    # no temporary folder is left behind, and adding it again adds nothing
    assert not list(imported.root.glob(".wacz-import-*"))
    assert add_warcs(imported, [py_wacz_package["path"]]).captures == 0


def test_browsertrix_shaped_package_brings_every_warc_and_its_extra_pages(
        indexed_history, tmp_path):
    """Browsertrix writes several WARCs, pages.jsonl and extraPages.jsonl with a header
    line, logs/ and an uncompressed CDXJ index, every one a resource."""
    crawls = indexed_history.crawls
    warcs = [*crawls[0].warcs, *crawls[2].warcs]
    url = text_page(indexed_history)
    header = json.dumps({**PAGES_HEADER, "id": "extra-pages", "title": "Extra Pages"})
    members = {f"archive/{w.name}": w.read_bytes() for w in warcs}
    members.update({
        "pages/pages.jsonl": (json.dumps(PAGES_HEADER) + "\n").encode(),
        "pages/extraPages.jsonl": (header + "\n" + json.dumps(
            {"id": "x1", "url": url, "ts": "2026-01-01T00:00:00Z",
             "title": f"{TITLE_WORD} extra", "text": "ignored"}) + "\n").encode(),
        "logs/crawl.log": b'{"logLevel":"info","message":"crawl done"}\n',
        "indexes/index.cdxj": "\n".join(cdxj_lines_of(indexed_history)).encode()})
    package = tmp_path / "btrix.wacz"
    write_wacz(package, members, software="Browsertrix-Crawler 1.0.0")
    assert verify_package(package).ok

    collection = Collection(tmp_path / "c")
    add_warcs(collection, [package])
    assert len(list((collection.imported_dir / "btrix").glob("*.warc.gz"))) == len(warcs)
    found = search(collection, SearchRequest(q=TITLE_WORD))
    assert [r["title"] for r in found["results"]] == [f"{TITLE_WORD} extra"]


def cdxj_lines_of(history: CrawledCollection) -> list[str]:
    with Catalog.open(history.collection) as catalog:
        return list(cdxj_lines(catalog))


def write_wacz(path: Path, members: dict[str, bytes], *, software: str = "test",
               unlisted: dict[str, bytes] | None = None) -> bytes:
    """A WACZ of these members (WARCs stored, the rest deflated), each listed with its
    sha256 and size, and a datapackage-digest.json; the datapackage.json bytes returned."""
    import hashlib

    resources = [{"name": name.rsplit("/", 1)[-1], "path": name,
                  "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                 for name, data in members.items()]
    datapackage = json.dumps({"profile": "data-package", "wacz_version": "1.1.1",
                              "created": "2026-12-01T10:00:00Z", "software": software,
                              "resources": resources}, indent=2).encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in {**members, **(unlisted or {})}.items():
            kind = zipfile.ZIP_STORED if name.startswith("archive/") else zipfile.ZIP_DEFLATED
            out.writestr(name, data, compress_type=kind)
        out.writestr("datapackage.json", datapackage)
        out.writestr("datapackage-digest.json", json.dumps(
            {"path": "datapackage.json", "hash": digest_of(datapackage)}))
    return datapackage


def resign(package: Path, out: Path, collection: Collection) -> None:
    """`package` with its datapackage-digest.json signed with the collection's key."""
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        datapackage = src.read("datapackage.json")
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "datapackage-digest.json":
                data = json.dumps({"path": "datapackage.json", "hash": digest_of(datapackage),
                                   "signedData": sign_digest(collection, datapackage)}).encode()
            dst.writestr(info, data)


def test_signed_package_verifies_and_passes_py_wacz_until_a_byte_changes(
        py_wacz_package, tmp_path, capsys):
    keeper = Collection(tmp_path / "keeper")
    signed = tmp_path / "signed.wacz"
    resign(py_wacz_package["path"], signed, keeper)
    assert stat.S_IMODE(key_path(keeper).stat().st_mode) == 0o600
    report = verify_package(signed)
    assert report.ok, report.failed
    assert any(line.startswith("signature: verifies") for line in report.passed)
    assert "is valid" in py_wacz("validate", "-f", signed).stdout
    assert main(["verify", str(signed)]) == 0

    # one byte inside the stored WARC changed in place: the zip's CRC no longer matches
    warc = f"archive/{py_wacz_package['warcs'][0].name}"
    altered = tmp_path / "altered.wacz"
    flip_byte_in(signed, altered, warc)
    capsys.readouterr()
    assert main(["verify", str(altered)]) == 1
    out = capsys.readouterr().out
    assert f"FAILED  {warc}: its bytes do not match the zip's CRC" in out
    assert "Traceback" not in out
    # the same byte changed by someone who rewrote the zip around it (its CRC right): the
    # hash datapackage.json gives, which the signature covers, still names the file
    rezipped = tmp_path / "rezipped.wacz"
    with zipfile.ZipFile(signed) as archive:
        replace_member(signed, rezipped, warc, flipped(archive.read(warc)))
    capsys.readouterr()
    assert main(["verify", str(rezipped)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("FAILED")] == [
        f"FAILED  {warc}: its sha256 is not the one datapackage.json gives (the file was "
        "changed)"]


def flip_byte_in(package: Path, out: Path, member: str) -> None:
    """Copy `package`, one byte in the middle of `member`'s stored bytes changed in place (the
    zip's CRC then disagrees too, as it would for a file altered on disk)."""
    shutil.copyfile(package, out)
    with zipfile.ZipFile(out) as archive:
        info = archive.getinfo(member)
    with open(out, "r+b") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = (int.from_bytes(fh.read(2), "little") for _ in range(2))
        at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0x01]))


def test_changed_signature_or_datapackage_is_named(py_wacz_package, tmp_path):
    keeper = Collection(tmp_path / "keeper")
    signed = tmp_path / "signed.wacz"
    resign(py_wacz_package["path"], signed, keeper)
    with zipfile.ZipFile(signed) as archive:
        digest = json.loads(archive.read("datapackage-digest.json"))
    other = sign_digest(Collection(tmp_path / "someone-else"),
                        json.dumps({"created": digest["signedData"]["created"]}).encode())
    forged = dict(digest, signedData=dict(digest["signedData"],
                                          signature=other["signature"]))
    changed = tmp_path / "changed.wacz"
    replace_member(signed, changed, "datapackage-digest.json", json.dumps(forged).encode())
    assert verify_package(changed).failed == [
        "signedData: the signature does not verify against its publicKey"]


def replace_member(package: Path, out: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == name else src.read(info))


def flipped(data: bytes) -> bytes:
    """`data` with one bit of its middle byte changed."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def hostile(tmp: Path, kind: str, warc: bytes) -> Path:
    """A zip that must be refused whole, of the given kind."""
    path = tmp / f"{kind}.wacz"
    good = {"archive/a.warc.gz": warc}
    if kind == "not-a-wacz":
        with zipfile.ZipFile(path, "w") as out:
            out.writestr("archive/a.warc.gz", warc)
    elif kind == "damaged":
        write_wacz(tmp / "whole.wacz", good)
        data = (tmp / "whole.wacz").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind in ("dotdot", "absolute"):
        name = "archive/../../escaped.warc.gz" if kind == "dotdot" else "/tmp/escaped.warc.gz"
        write_wacz(path, good, unlisted={name: warc})
    elif kind == "symlink":
        write_wacz(path, good)
        with zipfile.ZipFile(path, "a") as out:
            link = zipfile.ZipInfo("archive/b.warc.gz")
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            out.writestr(link, "/etc/passwd")
    elif kind == "bomb":
        with zipfile.ZipFile(path, "w") as out:
            out.writestr("datapackage.json", b"{}")
            member = zipfile.ZipInfo("archive/b.warc")
            member.compress_type = zipfile.ZIP_DEFLATED
            with out.open(member, "w", force_zip64=True) as big:
                zeros = bytes(1 << 20)
                for _ in range(96):  # 96 MiB of zeros, deflated to a few hundred KiB
                    big.write(zeros)
    elif kind == "wrong-hash":
        write_wacz(path, {**good, "archive/b.warc.gz": warc})
        replace_member(path, tmp / "swap.wacz", "archive/b.warc.gz", flipped(warc))
        path = tmp / "swap.wacz"
    return path


@pytest.mark.parametrize("kind, says", [
    ("not-a-wacz", "not a WACZ (a zip without datapackage.json)"),
    ("damaged", "not a zip file, or a damaged one"),
    ("dotdot", "has a name that could leave the folder"),
    ("absolute", "has a name that could leave the folder"),
    ("symlink", "is a symbolic link"),
    ("bomb", "would inflate"),
    ("wrong-hash", "archive/b.warc.gz is not the file datapackage.json vouches for"),
])
def test_hostile_or_broken_zip_is_refused_whole_with_one_line(
        py_wacz_package, tmp_path, capsys, kind, says):
    package = hostile(tmp_path, kind, py_wacz_package["warcs"][0].read_bytes())
    collection = tmp_path / "c"
    capsys.readouterr()
    assert main(["add", "--collection", str(collection), str(package)]) != 0
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    left = sorted(p.relative_to(tmp_path).as_posix() for p in collection.rglob("*")) \
        if collection.exists() else []
    assert left == []
    assert not (tmp_path.parent / "escaped.warc.gz").exists()


def test_verify_names_an_unlisted_member_and_a_missing_one(py_wacz_package, tmp_path):
    warc = py_wacz_package["warcs"][0].read_bytes()
    package = tmp_path / "odd.wacz"
    write_wacz(package, {"archive/a.warc.gz": warc}, unlisted={"archive/extra.warc.gz": warc})
    assert verify_package(package).failed == [
        "archive/extra.warc.gz: in the zip but not listed in datapackage.json"]
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tmp_path / "gone.wacz", "w") as dst:
        for info in src.infolist():
            if info.filename != "archive/a.warc.gz":
                dst.writestr(info, src.read(info))
    failed = verify_package(tmp_path / "gone.wacz").failed
    assert "archive/a.warc.gz: listed in datapackage.json but not in the zip" in failed
