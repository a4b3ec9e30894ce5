"""Evidence packages: `palimpsest diff URL --evidence`, `palimpsest watch NAME --evidence` and
the diff page's download, on the session's crawls of the sample network (revision 2 drops the
disclosure line from allyvia's pages). Each package must pass py-wacz's validator, pass
`palimpsest verify` until a byte of it changes, and let a third party re-run the comparison
from the records it holds.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shlex
import zipfile
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.collection import Collection
from index.compare.watch import find_watch, watch_history
from index.wacz.evidence import DIFF_HTML, DIFF_JSON, RECEIPT, WATCH_HTML, WATCH_JSON
from index.wacz.reader import verify_package
from index.warc_reader import read_payload
from palimpsest.cli import main
from tests.conftest import REPLAYWEBPAGE, replayed, serve_replaywebpage
from tests.test_wacz_import import cdxj_of, flipped, py_wacz, replace_member
from web import create_app
from web.diff import page_requisites

PAGE = "http://allyvia.test/"  # its footer's disclosure line is gone in revision 2


def package_index(path: Path) -> list[dict]:
    """The CDXJ records of a package's index (its ZipNum blocks are gzip members), each
    with its 14-digit `ts` (the index's own is to the millisecond: 17 digits)."""
    with zipfile.ZipFile(path) as archive:
        lines = gzip.decompress(archive.read("indexes/index.cdx.gz")).decode().splitlines()
    assert all(re.fullmatch(r"\d{17}", line.split(" ", 2)[1]) for line in lines)
    return [{**json.loads(fields), "ts": ts[:14]}
            for _, ts, fields in (line.split(" ", 2) for line in lines)]


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


@pytest.fixture(scope="module")
def diff_package(indexed_history, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evidence") / "allyvia.wacz"
    code = main(["diff", PAGE, "--collection", str(indexed_history.collection.root),
                 "--evidence", str(out)])
    assert code == 0 and out.is_file()
    return out


def test_diff_evidence_is_a_valid_signed_wacz(diff_package):
    done = py_wacz("validate", "-f", diff_package)
    assert "is valid" in done.stdout
    report = verify_package(diff_package)
    assert report.ok, report.failed
    assert any(line.startswith("signature: verifies") for line in report.passed)
    digest = json.loads(member(diff_package, "datapackage-digest.json"))
    assert set(digest["signedData"]) == {"hash", "created", "software", "signature",
                                         "publicKey"}


def test_diff_evidence_holds_both_captures_and_their_requisites(indexed_history,
                                                                diff_package):
    receipt = json.loads(member(diff_package, RECEIPT))
    records = package_index(diff_package)
    held = {(r["url"], r.get("digest")) for r in records}
    for side in ("from", "to"):
        assert (PAGE, receipt[side]["digest"]) in held
    # every requisite the older page's HTML names that the collection holds is there
    with Catalog.open(indexed_history.collection) as catalog:
        older = catalog.nearest(PAGE, receipt["from"]["timestamp"])
        _, body = read_payload(indexed_history.collection.inside(older.payload_file),
                               older.payload_offset, older.payload_length)
        wanted = {u for u in page_requisites(body.decode("utf-8"), PAGE)
                  if catalog.nearest(u, older.timestamp) is not None}
    assert wanted and wanted <= {r["url"] for r in records}
    assert any(u.endswith(".css") for u in wanted)


def test_diff_page_of_the_package_is_self_contained(diff_package):
    html = member(diff_package, DIFF_HTML).decode()
    assert "<script" not in html.lower()
    assert not re.search(r"\b(src|href|srcset|action)\s*=", html, re.I)
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html
    # it shows the disclosure sentence removed, and the command that re-runs it
    diff = json.loads(member(diff_package, DIFF_JSON))
    removed = [op["text"] for op in diff["text"] if op["op"] == "delete"]
    assert any("Harborline Strategies" in text for text in removed)
    assert "<del>" in html and "Harborline Strategies" in html
    assert diff["receipt"]["command"].replace("&#39;", "'") in html.replace("&#39;", "'")


def test_receipt_rerun_on_the_package_alone_gives_the_same_comparison(
        diff_package, tmp_path, capsys):
    """A third party adds the package to an empty collection and runs the receipt's
    command there: the comparison comes out the same."""
    check = tmp_path / "check"
    assert main(["add", "--collection", str(check), str(diff_package)]) == 0
    receipt = json.loads(member(diff_package, RECEIPT))
    assert receipt["rules"] == []  # no noise rule to carry over to the new collection
    capsys.readouterr()
    args = shlex.split(receipt["command"])[1:]
    assert main([*args, "--collection", str(check), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    original = json.loads(member(diff_package, DIFF_JSON))
    for key in ("url", "ratio", "text", "links", "metadata", "changes", "words"):
        assert again[key] == original[key], key
    # the same text compared (the receipt names it: no reason to give for the choice now)
    assert {**again["options"], "text_why": None} == {**original["options"], "text_why": None}
    for side in ("from", "to"):
        assert again["receipt"][side]["record_id"] == original["receipt"][side]["record_id"]
        assert again["receipt"][side]["digest"] == original["receipt"][side]["digest"]


def test_verify_rejects_the_package_once_a_byte_or_the_signature_changes(
        diff_package, tmp_path, capsys):
    assert main(["verify", str(diff_package)]) == 0
    with zipfile.ZipFile(diff_package) as archive:
        warc = next(n for n in archive.namelist() if n.startswith("archive/"))
        stored = archive.read(warc)
        digest = json.loads(archive.read("datapackage-digest.json"))

    changed = tmp_path / "changed.wacz"
    replace_member(diff_package, changed, warc, flipped(stored))
    capsys.readouterr()
    assert main(["verify", str(changed)]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("FAILED")]
    assert failed == [f"FAILED  {warc}: its sha256 is not the one datapackage.json gives "
                      "(the file was changed)"]

    signature = digest["signedData"]["signature"]
    forged = dict(digest, signedData=dict(digest["signedData"],
                                          signature=signature[:10] + ("A" if signature[10] != "A"
                                                                      else "B")
                                          + signature[11:]))
    resigned = tmp_path / "resigned.wacz"
    replace_member(diff_package, resigned, "datapackage-digest.json",
                   json.dumps(forged).encode())
    capsys.readouterr()
    assert main(["verify", str(resigned)]) == 1
    out = capsys.readouterr().out
    assert "FAILED  signedData: the signature does not verify against its publicKey" in out

    # a datapackage.json edited to vouch for the changed file: its digest no longer matches
    datapackage = json.loads(member(diff_package, "datapackage.json"))
    for resource in datapackage["resources"]:
        if resource["path"] == warc:
            resource["hash"] = "sha256:" + hashlib.sha256(flipped(stored)).hexdigest()
    relisted = tmp_path / "relisted.wacz"
    replace_member(changed, relisted, "datapackage.json", json.dumps(datapackage).encode())
    report = verify_package(relisted)
    assert report.failed == ["datapackage-digest.json: its hash is not datapackage.json's "
                             "(one of the two was changed)",
                             "signedData: its hash is not datapackage.json's"]


def test_watch_evidence_holds_each_move_and_the_history(indexed_history, tmp_path):
    collection = indexed_history.collection
    out = tmp_path / "disclosure.wacz"
    assert main(["watch", "disclosure", "--collection", str(collection.root),
                 "--evidence", str(out)]) == 0
    assert "is valid" in py_wacz("validate", "-f", out).stdout
    assert verify_package(out).ok
    history = watch_history(collection, find_watch(collection.load_config(), "disclosure"))
    assert json.loads(member(out, WATCH_JSON)) == json.loads(json.dumps(history))
    moves = [m for crawl in history["crawls"] for m in crawl["disappeared"]]
    assert moves and all(m["url"].startswith("http://allyvia.test/") for m in moves)
    held = {(r["url"], r["ts"]) for r in package_index(out)}
    for move in moves:
        assert (move["url"], move["from"]) in held and (move["url"], move["to"]) in held
    page = member(out, WATCH_HTML).decode()
    assert "<script" not in page.lower() and "disappeared" in page


def test_watch_evidence_needs_a_name(indexed_history, tmp_path, capsys):
    capsys.readouterr()
    assert main(["watch", "--collection", str(indexed_history.collection.root),
                 "--evidence", str(tmp_path / "x.wacz")]) == 2
    assert "--evidence proves one watched phrase" in capsys.readouterr().err


def test_diff_page_downloads_its_evidence_package(indexed_history, tmp_path):
    app = create_app({"COLLECTION": str(indexed_history.collection.root), "TESTING": True})
    client = app.test_client()
    receipt_link = client.get(f"/api/diff?url={PAGE}").get_json()["receipt"]["permalink"]
    page = client.get(receipt_link)
    assert page.status_code == 200
    link = re.search(r'<a href="(/diff/evidence/[^"]+)" id="evidence"', page.text).group(1)
    answer = client.get(link)
    assert answer.status_code == 200
    assert answer.content_type == "application/wacz"
    assert re.fullmatch(r'attachment; filename="evidence-allyvia\.test-\d{14}-\d{14}\.wacz"',
                        answer.headers["Content-Disposition"])
    downloaded = tmp_path / "downloaded.wacz"
    downloaded.write_bytes(answer.get_data())
    assert int(answer.headers["Content-Length"]) == downloaded.stat().st_size
    assert verify_package(downloaded).ok
    assert json.loads(member(downloaded, RECEIPT))["permalink"] == receipt_link
    assert client.get(link.replace("/diff/evidence/", "/diff/evidence/1/")).status_code \
        in (400, 404)


def test_our_export_reimported_into_a_fresh_collection_gives_the_same_cdxj(
        indexed_history, tmp_path):
    from index.wacz.writer import export_wacz

    out = tmp_path / "whole.wacz"
    export_wacz(indexed_history.collection, out, sign=True)
    assert verify_package(out).ok
    fresh = Collection(tmp_path / "fresh")
    assert main(["add", "--collection", str(fresh.root), str(out)]) == 0
    assert cdxj_of(fresh) == cdxj_of(indexed_history.collection)


# ReplayWeb.page's check of an anonymous signature (wabac.js verifyWACZSignature), in WebCrypto
_WEBCRYPTO_VERIFY = """async ([signed, hash]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("spki", bytes(signed.publicKey),
                                            {name: "ECDSA", namedCurve: "P-384"}, true, ["verify"]);
  return crypto.subtle.verify({name: "ECDSA", hash: "SHA-256"}, key, bytes(signed.signature),
                              new TextEncoder().encode(hash));
}"""


def test_signature_verifies_in_chromium_as_replayweb_page_checks_it(diff_package, page):
    """The signature's encodings are the ones a browser's WebCrypto takes (raw r||s, SPKI):
    Chromium verifies it over the package's hash, and not over another."""
    # WebCrypto exists in secure contexts only: a loopback origin, answered by the test
    page.route("http://127.0.0.1/**", lambda route: route.fulfill(
        body="<!DOCTYPE html><title>check</title>", content_type="text/html"))
    page.goto("http://127.0.0.1/check")
    signed = json.loads(member(diff_package, "datapackage-digest.json"))["signedData"]
    assert page.evaluate(_WEBCRYPTO_VERIFY, [signed, signed["hash"]]) is True
    other = signed["hash"][:-1] + ("1" if signed["hash"].endswith("0") else "0")
    assert page.evaluate(_WEBCRYPTO_VERIFY, [signed, other]) is False


@pytest.mark.skipif(not REPLAYWEBPAGE.exists(), reason="ReplayWeb.page's package not installed")
def test_replaywebpage_shows_each_side_of_the_diff_as_captured(diff_package, page):
    # the older side is a revisit (the second crawl of an unchanged page): ReplayWeb.page must
    # find its payload in the package, the first crawl's record, not the newer capture's
    receipt = json.loads(member(diff_package, RECEIPT))
    older, newer = receipt["from"]["timestamp"], receipt["to"]["timestamp"]
    assert {r["mime"] for r in package_index(diff_package)
            if r["url"] == PAGE and r["ts"] == older} == {"warc/revisit"}
    with serve_replaywebpage(diff_package.parent) as base:
        before = replayed(page, base, diff_package.name, PAGE, older, "</footer>")
        after = replayed(page, base, diff_package.name, PAGE, newer, "</footer>")
    assert "</footer>" in before and "</footer>" in after, [f.url for f in page.frames]
    assert "on behalf of a foreign principal" in before
    assert "on behalf of a foreign principal" not in after
