"""`palimpsest demo`, the front door: the sample network crawled twice and indexed, offline."""

from __future__ import annotations

from tests.conftest import palimpsest


def test_demo_crawls_both_revisions_indexes_them_and_reports(tmp_path):
    done = palimpsest("demo", "--dir", str(tmp_path / "demo"), "--no-serve")
    out = done.stdout
    assert out.count("(finished)") == 2
    assert "revision 1" in out and "revision 2" in out
    # the second crawl notices what changed and stores the rest as revisits
    assert "changed:" in out and "unchanged-revisit:" in out
    assert "new documents" in out
    assert "disclosure line disappeared from 15 pages (allyvia)" in out
    assert (tmp_path / "demo" / "derived" / "catalog.sqlite").exists()
