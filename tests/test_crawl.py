"""Crawling the sample network for real: what gets captured, what is left out and why."""

from __future__ import annotations

from urllib.parse import urlsplit

from palimpsest.sample_network import manifest
from tests.conftest import CrawledCollection


def _first(history: CrawledCollection):
    return history.crawls[0]


def _captured(records, status=None) -> set[str]:
    return {r.url for r in records if r.type in ("response", "revisit")
            and (status is None or r.status == status)}


def test_crawl_captures_every_reachable_page_of_all_five_sites(network_history):
    records = _first(network_history).records()
    pages = manifest(1).pages
    assert len(pages) >= 60
    assert pages <= _captured(records, 200)
    assert {urlsplit(u).hostname for u in pages} == {
        "paxpoint.test", "cognitura.test", "justorium.test", "allyvia.test", "factsignal.test"}


def test_robots_disallowed_path_is_not_fetched_and_is_logged_excluded(network_history):
    crawl = _first(network_history)
    disallowed = manifest(1).disallowed
    assert disallowed
    assert not disallowed & _captured(crawl.records())
    excluded = {e["url"] for e in crawl.log()
                if e["outcome"] == "excluded" and e.get("why") == "robots"}
    assert disallowed <= excluded


def test_sitemap_only_page_is_captured_via_the_sitemap(network_history):
    crawl = _first(network_history)
    only = manifest(1).sitemap_only
    assert only and only <= _captured(crawl.records(), 200)
    reasons = {e["url"]: e["reason"] for e in crawl.log() if "reason" in e}
    assert all(reasons[u] == "sitemap" for u in only)


def test_calendar_trap_is_stopped_by_a_limit(network_history):
    crawl = _first(network_history)
    prefix = manifest(1).trap_prefix
    calendar = {u for u in _captured(crawl.records()) if u.startswith(prefix)}
    assert 1 <= len(calendar) <= 26
    traps = [e for e in crawl.log() if e.get("why", "").startswith("trap")]
    assert any(e["url"].startswith(prefix) for e in traps)


def test_page_requisites_are_captured(network_history):
    records = _first(network_history).records()
    requisites = manifest(1).requisites
    assert requisites <= _captured(records, 200)
    mimes = {dict(r.http_headers).get("Content-Type", "").split(";")[0]
             for r in records if r.url in requisites and r.type == "response"}
    assert {"text/css", "image/png"} <= mimes


def test_redirect_is_recorded_as_its_own_record_and_followed(network_history):
    crawl = _first(network_history)
    records = crawl.records()
    for source, target in manifest(1).redirects.items():
        redirect = next(r for r in records if r.url == source and r.type == "response")
        assert redirect.status == 301
        assert dict(redirect.http_headers)["Location"].endswith(urlsplit(target).path)
        assert target in _captured(records, 200)
        # the redirect's metadata record names where it leads (the target itself may have
        # been reached first by a plain link)
        meta = next(r for r in records if r.url == source and r.type == "metadata")
        assert f"outlink: {target} R http/Location" in meta.body.decode()


def test_broken_link_is_recorded_with_its_404(network_history):
    records = _first(network_history).records()
    assert manifest(1).broken <= _captured(records, 404)


def test_each_crawl_has_its_own_folder_log_and_summary(network_history):
    crawls = network_history.crawls
    assert len({c.crawl_id for c in crawls}) == 3
    for crawl in crawls:
        summary = crawl.summary()
        assert summary["finish_reason"] == "finished"
        assert set(summary["sites"]) >= {"paxpoint", "cognitura", "justorium", "allyvia",
                                         "factsignal"}
        assert summary["totals"]["pages"] >= 60
        for entry in crawl.log():
            assert {"time", "url", "outcome"} <= set(entry)
            if entry["outcome"] not in ("excluded", "error"):
                assert {"status", "bytes", "digest"} <= set(entry)


def test_second_crawl_of_unchanged_revision_writes_revisits_at_most_15_percent(network_history):
    first, second = network_history.crawls[:2]
    records = second.records()
    revisits = [r for r in records if r.type == "revisit"]
    assert len(revisits) >= len(manifest(1).pages)
    for r in revisits:
        assert r.headers["WARC-Profile"].endswith("/revisit/identical-payload-digest")
        assert r.headers["WARC-Refers-To-Target-URI"]
        assert r.headers["WARC-Refers-To-Date"]
    outcomes = {e["outcome"] for e in second.log() if "status" in e}
    assert "unchanged-revisit" in outcomes
    size = sum(p.stat().st_size for p in second.warcs)
    assert size <= 0.15 * sum(p.stat().st_size for p in first.warcs)


def test_every_revisit_of_every_crawl_refers_to_a_response_record(network_history):
    # pages that share a payload across URLs (the sister sites' common files) make one
    # URL's latest capture a revisit of another URL: a later crawl must still name the
    # response holding the payload, never that revisit (tools resolve one hop only)
    records = [r for crawl in network_history.crawls for r in crawl.records()]
    responses = {(r.url, r.headers["WARC-Date"]) for r in records if r.type == "response"}
    revisits = [r for r in records if r.type == "revisit"]
    across = [r for r in revisits if r.headers["WARC-Refers-To-Target-URI"] != r.url]
    assert across, "the sample network has no payload shared across URLs"
    wrong = [(r.url, r.headers["WARC-Refers-To-Target-URI"], r.headers["WARC-Refers-To-Date"])
             for r in revisits if (r.headers["WARC-Refers-To-Target-URI"],
                                   r.headers["WARC-Refers-To-Date"]) not in responses]
    assert not wrong, f"{len(wrong)} of {len(revisits)} revisits name no response: {wrong[:3]}"


def test_crawl_of_changed_revision_logs_changed_and_new(network_history):
    third = network_history.crawls[2]
    by_url = {e["url"]: e for e in third.log() if "status" in e}
    changes = manifest(2).pages - manifest(1).pages
    assert changes and all(by_url[u]["outcome"] == "new" for u in changes)
    assert any(e["outcome"] == "changed" for e in by_url.values())
