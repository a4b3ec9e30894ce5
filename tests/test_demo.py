"""`palimpsest demo`, the front door: the sample network crawled twice and indexed, offline.

It reads the session's one demo run (`demo_run` in conftest.py, which test_newcomer.py also
reads): a demo crawls the network twice, and once is enough to check what it reports."""

from __future__ import annotations

import re


def test_demo_crawls_both_revisions_indexes_them_and_reports(demo_run):
    home, done = demo_run
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("(finished)") == 2
    assert "revision 1" in out and "revision 2" in out
    # the second crawl notices what changed and stores the rest as revisits
    assert "changed:" in out and "unchanged-revisit:" in out
    assert "new documents" in out
    # allyvia's 15 pages drop the line; civiscope's, which its script renders, too once the
    # rendered DOM is what is compared
    assert re.search(r"disclosure line disappeared from \d+ pages \(allyvia(, civiscope)?\)",
                     out), out
    assert "what a plain crawl misses: civiscope.test" in out
    assert (home / "warcs" / "derived" / "catalog.sqlite").exists()
