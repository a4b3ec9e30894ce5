"""The WARCs a crawl writes are exact and other archive tools accept them."""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import urllib.request
import zlib
from base64 import b32encode
from pathlib import Path

from palimpsest.sample_network import manifest
from tests.conftest import ROOT

BIN = Path(ROOT / ".venv/bin")


def _payload_digest(body: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode()


def _as_warc_1_0(warc: Path, out: Path) -> Path:
    """A copy with each record's version line read as WARC/1.0 (same length, re-gzipped
    member by member): warctools 5.0.1, the latest, knows versions 0.17 to 1.0 only and
    rejects the 1.1 line before checking anything else."""
    data, members = warc.read_bytes(), []
    while data:
        member = zlib.decompressobj(31)
        text = member.decompress(data)
        data = member.unused_data
        members.append(gzip.compress(text.replace(b"WARC/1.1\r\n", b"WARC/1.0\r\n", 1)))
    copy = out / warc.name
    copy.write_bytes(b"".join(members))
    return copy


def test_warcs_pass_warcio_check_and_warctools_warcvalid(network_history, tmp_path):
    for crawl in network_history.crawls:
        for warc in crawl.warcs:
            check = subprocess.run([BIN / "warcio", "check", "-v", str(warc)],
                                   capture_output=True, text=True)
            assert check.returncode == 0, check.stdout + check.stderr
            copy = _as_warc_1_0(warc, tmp_path)
            valid = subprocess.run([BIN / "warcvalid", str(copy)], capture_output=True,
                                   text=True)
            assert valid.returncode == 0, valid.stdout + valid.stderr


def test_every_file_opens_with_a_warcinfo_record_describing_the_crawl(network_history):
    crawl = network_history.crawls[0]
    assert crawl.warcs and not list(crawl.dir.glob("*.open"))
    for warc in crawl.warcs:
        assert re.fullmatch(r"palimpsest-\d{14}(-\d+)?-\d{17}-\d{5}-\d+-[-a-z0-9.]+\.warc\.gz",
                            warc.name)
        records = [r for r in crawl.records() if r.file == warc.name]
        info = records[0]
        assert info.type == "warcinfo"
        assert info.headers["WARC-Filename"] == warc.name
        fields = dict(line.split(": ", 1) for line in info.body.decode().splitlines())
        assert fields["software"].startswith("Palimpsest/")
        assert fields["crawl-id"] == crawl.crawl_id
        assert fields["config-digest"].startswith("sha256:")
        assert "paxpoint=obey" in fields["robots"]
        assert "+https://" in fields["http-header-user-agent"]


def test_request_and_response_are_linked_and_digests_are_exact(network_history):
    records = network_history.crawls[0].records()
    by_id = {r.headers["WARC-Record-ID"]: r for r in records}
    responses = [r for r in records if r.type == "response"]
    assert responses
    for response in responses:
        assert re.fullmatch(r"HTTP/1\.1 \d{3} [A-Za-z ]+", response.head), response.head
        assert response.headers["WARC-Payload-Digest"] == _payload_digest(response.body)
        assert response.headers["WARC-Block-Digest"].startswith("sha1:")
    requests = [r for r in records if r.type == "request"]
    assert len(requests) >= len(responses)
    for request in requests:
        assert re.fullmatch(rf"GET {re.escape(request.url)} HTTP/1\.1", request.head)
        partner = by_id[request.headers["WARC-Concurrent-To"]]
        assert partner.url == request.url and partner.type in ("response", "revisit")


def test_stored_bodies_are_as_received_still_gzip_encoded(network_history):
    records = network_history.crawls[0].records()
    home = next(r for r in records if r.url == "http://paxpoint.test/" and r.type == "response")
    headers = dict(home.http_headers)
    assert headers["Content-Encoding"] == "gzip"
    assert home.body[:2] == b"\x1f\x8b"
    assert b"<html" in gzip.decompress(home.body)


def test_query_strings_are_kept_in_target_uris(network_history):
    urls = {r.url for r in network_history.crawls[0].records()}
    assert any(manifest(1).trap_prefix in u and "?" in u for u in urls)


def test_each_page_has_a_metadata_record_with_outlinks_reason_and_hops(network_history):
    records = network_history.crawls[0].records()
    metadata = {r.url: r for r in records if r.type == "metadata"}
    home = metadata["http://paxpoint.test/"]
    fields = [line.split(": ", 1) for line in home.body.decode().splitlines()]
    assert ["fetchReason", "seed"] in fields
    outlinks = [v for k, v in fields if k == "outlink"]
    assert any(v.startswith("http://cognitura.test/") and " L " in v for v in outlinks)
    assert any(" E " in v for v in outlinks)
    for page in manifest(1).pages:
        assert page in metadata, page
    article = next(u for u in manifest(1).pages if u.count("/") > 4)
    hops = dict(line.split(": ", 1) for line in
                metadata[article].body.decode().splitlines() if not line.startswith("outlink"))
    assert hops["hopsFromSeed"].strip("L") == "" or hops["fetchReason"] == "sitemap"


def test_pywb_indexes_and_replays_our_warcs(pywb):
    # the session's pywb (conftest.py) indexed every WARC of the session's crawls
    assert "test,paxpoint)/ " in pywb.index.read_text()
    with urllib.request.urlopen(f"{pywb.base}/2100mp_/http://paxpoint.test/",
                                timeout=10) as answer:
        page = answer.read().decode("utf-8", "replace")
    assert "paxpoint" in page.lower()
    assert "<title>" in page.lower()
