"""The JSON API, the CDX server API and Memento agree with the CLI and with pywb; bad input
gets a 400, unknown captures a helpful 404, and nothing leaves the collection."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from index.collection import Collection
from index.errors import UsageError
from tests.conftest import ROOT, CrawledCollection
from web import create_app

URLS = ["http://paxpoint.test/", "http://allyvia.test/about/"]


@pytest.fixture(scope="module")
def client(indexed_history: CrawledCollection):
    app = create_app({"COLLECTION": str(indexed_history.collection.root), "TESTING": True})
    return app.test_client()


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


PYWB_ONLY = ("source", "source-coll", "access")  # where pywb found the line, not about it


def _pywb_lines(text: str, output: str) -> list[str]:
    """pywb's answer without the fields naming its own collection and index file."""
    lines = []
    for line in text.splitlines():
        if output == "json":
            fields = {k: v for k, v in json.loads(line).items() if k not in PYWB_ONLY}
            lines.append(json.dumps(fields))
        elif output == "cdxj":
            key, timestamp, rest = line.split(" ", 2)
            fields = {k: v for k, v in json.loads(rest).items() if k not in PYWB_ONLY}
            lines.append(f"{key} {timestamp} {json.dumps(fields)}")
        else:
            lines.append(" ".join(line.split(" ")[:-len(PYWB_ONLY)]))
    return lines


@pytest.mark.parametrize("query", [
    "url=http://paxpoint.test/", "url=allyvia.test/about/", "url=paxpoint.test/&matchType=prefix",
    "url=justorium.test&matchType=host", "url=factsignal.test&matchType=domain&limit=7",
    "url=*.cognitura.test", "url=http://paxpoint.test/*",
    # pywb's filters: plain contains, = equals, ~ a regex from the start, ! negates; aliases
    "url=paxpoint.test/&matchType=prefix&filter=!mime:warc/revisit",
    "url=paxpoint.test/&matchType=prefix&filter=mime:html",
    "url=paxpoint.test/&matchType=prefix&filter=~url:.*/events/",
    "url=paxpoint.test/&matchType=prefix&filter==status:200&filter=!~url:.*calendar",
    "url=allyvia.test&matchType=host&filter=!=mimetype:text/html&reverse=1&limit=4",
    "url=http://paxpoint.test/&sort=reverse&limit=1",
])
@pytest.mark.parametrize("output", ["json", "cdxj"])
def test_cdx_api_agrees_with_pywb(client, pywb, query, output):
    ours = client.get(f"/cdx?{query}&output={output}").get_data(as_text=True).splitlines()
    theirs = _pywb_lines(_fetch(f"{pywb.base}/cdx?{query}&output={output}"), output)
    assert ours and ours == theirs


def test_cdx_time_bounds_closest_fields_and_text_output_agree_with_pywb(client, pywb,
                                                                       indexed_history):
    first, second, last = (c.crawl_id for c in indexed_history.crawls)
    queries = [f"url=allyvia.test&matchType=host&from={second[:12]}&to={last}",
               f"url=http://paxpoint.test/&closest={second}&limit=2",
               "url=allyvia.test&matchType=host&fl=url,timestamp,status"]
    for query in queries:
        for output in ("json", "text"):
            ours = client.get(f"/cdx?{query}&output={output}").get_data(as_text=True)
            theirs = _fetch(f"{pywb.base}/cdx?{query}&output={output}")
            if "fl=" not in query:
                theirs = "".join(line + "\n" for line in _pywb_lines(theirs, output))
            assert ours and ours == theirs, (query, output)


@pytest.mark.parametrize("url", URLS)
def test_timemap_agrees_with_pywb(client, pywb, url):
    ours = client.get(f"/timemap/link/{url}")
    assert ours.content_type == "application/link-format"
    text = ours.get_data(as_text=True)
    theirs = _fetch(f"{pywb.base}/timemap/link/{url}")
    dates = re.compile(r'datetime="([^"]+)"')
    assert dates.findall(text) == dates.findall(theirs)
    stamps = re.compile(r"/(\d{14})(?:mp_)?/")
    assert stamps.findall(text) == stamps.findall(theirs)
    assert f'<{url}>; rel="original"' in text
    assert re.search(r'rel="self"; type="application/link-format"; from="[^"]+ GMT"; '
                     r'until="[^"]+ GMT"', text)


def test_timegate_honours_accept_datetime_and_captures_carry_memento_headers(
        client, indexed_history):
    first, _, last = indexed_history.crawls
    moment = datetime.strptime(first.crawl_id, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    answer = client.get("/timegate/http://paxpoint.test/",
                        headers={"Accept-Datetime": format_datetime(moment, usegmt=True)})
    assert answer.status_code == 302
    assert answer.headers["Vary"] == "accept-datetime"
    location = answer.headers["Location"]
    assert re.search(r"/web/(\d{14})/http://paxpoint.test/", location)
    page = client.get(location)
    assert page.status_code == 200
    assert page.headers["Memento-Datetime"].endswith("GMT")
    assert 'rel="timegate"' in page.headers["Link"] and 'rel="memento"' in page.headers["Link"]
    latest = client.get("/timegate/http://paxpoint.test/")
    assert latest.headers["Location"] > location


def test_api_objects_are_the_cli_objects(client, indexed_history, capsys):
    from palimpsest.cli import main

    root = str(indexed_history.collection.root)
    api = client.get("/api/captures?url=http://paxpoint.test/").get_json()
    assert main(["captures", "http://paxpoint.test/", "--collection", root, "--json"]) == 0
    assert api == json.loads(capsys.readouterr().out)
    found = client.get("/api/search?q=alliance&limit=5").get_json()
    assert main(["search", "alliance", "--limit", "5", "--collection", root, "--json"]) == 0
    assert found == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("path", ["/api/search?q=foo+AND+(", "/api/search?q=x&page=two",
                                  "/cdx?url=x&filter=~url:(", "/cdx?url=x&matchType=nope",
                                  "/cdx?url=x&limit=-1", "/cdx?url=x&output=xml",
                                  "/cdx?url=x&sort=closest",
                                  "/search?q=%22unclosed", "/web/20xx/http://paxpoint.test/"])
def test_malformed_queries_and_parameters_get_400_with_a_message(client, path):
    answer = client.get(path)
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert "Traceback" not in text and len(text) > 20


def test_a_url_without_capture_gets_a_404_listing_captured_neighbours(client):
    answer = client.get("/web/2026/http://paxpoint.test/diplomacy/no-such-article/")
    assert answer.status_code == 404
    text = answer.get_data(as_text=True)
    assert "http://paxpoint.test/diplomacy/" in text


def test_everything_shown_is_escaped(client):
    hostile = "http://paxpoint.test/<script>alert(1)</script>"
    answer = client.get(f"/web/2026/{hostile}")
    text = answer.get_data(as_text=True)
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    found = client.get("/search?q=%3Cscript%3E").get_data(as_text=True)
    assert "<script>" not in found.split("<main", 1)[1]


def test_no_path_leaves_the_collection(client, indexed_history, tmp_path):
    for path in ["/web/2026/..%2f..%2f..%2fetc%2fpasswd", "/web/2026/file:///etc/passwd",
                 "/static/..%2f..%2f..%2fetc/passwd", "/view/record/20260101000000/../../x"]:
        answer = client.get(path)
        assert answer.status_code in (400, 404), path
        assert b"root:" not in answer.data
    collection = Collection(indexed_history.collection.root)
    with pytest.raises(UsageError):
        collection.inside("../../etc/passwd")
    with pytest.raises(UsageError):
        collection.inside("/etc/passwd")
    assert collection.inside("crawls") == Path(collection.root / "crawls")


def test_palimpsest_serve_prints_its_address_and_serves_the_ui(indexed_history, tmp_path):
    root = str(indexed_history.collection.root)
    server = subprocess.Popen([sys.executable, "-m", "palimpsest.cli", "serve", "--collection",
                               root, "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        address = re.search(r"http://127\.0\.0\.1:\d+/", server.stdout.readline()).group(0)
        assert "Search the network's text" in _fetch(address)
        assert _fetch(address + "api/captures?url=http://paxpoint.test/").startswith("[")
        # a page whose DNS name was rebound to 127.0.0.1 is not answered
        rebound = urllib.request.Request(address, headers={"Host": "attacker.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=10)
        assert refused.value.code == 400
    finally:
        server.terminate()
        server.wait(10)
    empty = subprocess.run([sys.executable, "-m", "palimpsest.cli", "serve", "--collection",
                            str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert empty.returncode == 2 and "palimpsest index" in empty.stderr
