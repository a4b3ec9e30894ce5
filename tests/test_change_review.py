"""The change report as a review tool, as an auditor uses it in Chromium on a desktop and on a
phone: each changed page shows the words deleted and inserted, the list narrows by site, kind
of change and size without any script, one jump list leads to each site, crawls are named by
date, and no page is listed twice. `palimpsest changes` links into the web UI when it knows
where that is."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest

from index.collection import Collection
from index.compare.crawls import crawl_names
from index.compare.excerpts import excerpts
from palimpsest.cli import main
from palimpsest.sample_network import changes
from tests.conftest import ARTIFACTS

SCREENS = {"desktop": (1366, 900), "phone": (390, 844)}
SHOTS = ARTIFACTS / "issue11"
EDITED = "http://cognitura.test/psychology/the-certainty-trap/"
CRAWL_NAME = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}(:\d{2})? UTC$")


@pytest.fixture(params=list(SCREENS))
def screen(request, browser):
    """A page in a browser the size of a desktop or a phone screen, and that screen's name."""
    width, height = SCREENS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    yield context.new_page(), request.param
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"changes-{name}-after.png"))


def rows(page, kind: str = "") -> list[dict]:
    """The report's rows as shown: kind, site, URL, ratio, and excerpts' deleted and inserted
    words."""
    selector = "section.site-changes ul.changes > li" + (f".{kind}" if kind else "")
    return page.eval_on_selector_all(selector, """
        rows => rows.map(li => ({
          kind: li.dataset.kind, site: li.closest("section").dataset.site,
          url: li.querySelector(".url").textContent,
          ratio: li.dataset.ratio ? parseFloat(li.dataset.ratio) : null,
          deleted: [...li.querySelectorAll(".row-excerpts del")].map(d => d.textContent),
          inserted: [...li.querySelectorAll(".row-excerpts ins")].map(i => i.textContent)}))""")


def test_changed_rows_show_the_words_deleted_and_inserted(web_server, screen):
    page, name = screen
    page.goto(f"{web_server}/changes")
    shot(page, name)
    changed = {r["url"]: r for r in rows(page, "changed")}
    assert set(changed) == set(changes(1, 2).changed)
    assert changed[EDITED]["deleted"] == ["The simplicity is the point."]
    for url, row in changed.items():
        if url.startswith("http://allyvia.test/"):  # its disclosure footer, dropped
            assert row["deleted"][0].startswith("Prepared and distributed by Harborline")
    assert any(len(" ".join(r["inserted"]).split()) > 5 for u, r in changed.items()
               if "factsignal" in u), "an added sentence of factsignal's shows inserted"
    row = page.locator("li.changed", has=page.locator(f".url:text-is('{EDITED}')"))
    excerpt = row.locator(".row-excerpts .excerpt").first
    excerpt.scroll_into_view_if_needed()
    assert excerpt.is_visible()
    assert "single story with a single villain." in excerpt.inner_text()  # its context
    box = excerpt.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= SCREENS[name][0]
    shot(page, f"rows-{name}")


def test_the_json_entry_carries_the_excerpts(web_server, page):
    report = page.request.get(f"{web_server}/api/changes").json()
    entry = next(e for e in report["changed"] if e["url"] == EDITED)
    (first,) = entry["excerpts"]
    assert first["deleted"] == "The simplicity is the point." and first["inserted"] == ""
    assert first["before"].endswith("single story with a single villain.")
    assert first["after"].startswith("It replaces")
    assert all(len(e["excerpts"]) <= min(3, e["changes"]) for e in report["changed"])


def test_each_filter_narrows_the_list_without_script(web_server, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900},
                                  java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{web_server}/changes")
    everything = rows(page)
    page.select_option("select[name=site]", "allyvia")
    page.click("form.report-controls button[type=submit]")
    assert parse_qs(urlsplit(page.url).query)["site"] == ["allyvia"]
    allyvia = rows(page)
    assert allyvia == [r for r in everything if r["site"] == "allyvia"] and len(allyvia) == 15
    assert "Showing 15 rows of" in page.inner_text("#filter-summary")

    page.goto(f"{web_server}/changes")
    for kind in ("removed", "changed", "status", "limited"):
        page.uncheck(f"input[name=kind][value={kind}]")
    page.click("form.report-controls button[type=submit]")
    added = rows(page)
    assert {r["url"] for r in added} == set(changes(1, 2).added)
    assert {r["kind"] for r in added} == {"added"}
    assert page.locator("section.site-changes").count() == 1  # only the site with a row

    page.goto(f"{web_server}/changes?kind=removed")
    assert [r["url"] for r in rows(page)] == sorted(changes(1, 2).removed)

    page.goto(f"{web_server}/changes")
    page.select_option("select[name=min_ratio]", "0.05")
    page.click("form.report-controls button[type=submit]")
    large = rows(page, "changed")
    expected = [r for r in everything if r["kind"] == "changed" and r["ratio"] >= 0.05]
    assert large == expected and 0 < len(large) < len(changes(1, 2).changed)
    assert page.locator("select[name=min_ratio]").input_value() == "0.05"  # kept as chosen
    shot(page, "filtered-desktop")
    context.close()


def test_with_script_the_filters_narrow_at_once_and_the_address_follows(web_server, screen):
    page, name = screen
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{web_server}/changes")
    everything = page.locator("ul.changes > li[data-kind]").count()
    loaded = page.url
    page.select_option("select[name=site]", "cognitura")
    page.uncheck("input[name=kind][value=added]")
    assert page.url != loaded and parse_qs(urlsplit(page.url).query)["site"] == ["cognitura"]
    shown = page.locator("ul.changes > li[data-kind]:visible")
    assert shown.count() == 5 < everything  # cognitura's changed pages, not its added one
    assert {r["kind"] for r in rows(page) if r["site"] == "cognitura"} >= {"added", "changed"}
    assert page.locator("section.site-changes:visible").count() == 1
    assert page.inner_text("#shown-rows") == "Showing 5 rows."
    assert page.locator("nav.site-jump li:visible").count() == 1
    shot(page, f"script-filtered-{name}")
    page.reload()  # the address now asks the server for the same list
    assert page.locator("ul.changes > li[data-kind]").count() == 5
    assert not errors, errors  # nothing the CSP refused


def test_the_json_twin_narrows_alike_and_bad_filters_are_400(web_server, page):
    api = f"{web_server}/api/changes"
    narrow = page.request.get(f"{api}?site=cognitura&kind=changed&min_ratio=0.01").json()
    assert narrow["filters"] == {"site": ["cognitura"], "kind": ["changed"], "min_ratio": 0.01}
    assert list(narrow["sites"]) == ["cognitura"] and narrow["added"] == []
    assert narrow["changed"] and all(e["site"] == "cognitura" and e["ratio"] >= 0.01
                                     for e in narrow["changed"])
    for bad, says in (("kind=moved", "no kind of change 'moved'"), ("site=nowhere", "nowhere"),
                      ("min_ratio=lots", "min_ratio"), ("min_ratio=5", "from 0 to 1")):
        answer = page.request.get(f"{api}?{bad}")
        assert answer.status == 400 and says in answer.json()["error"]
    assert "filters" not in page.request.get(api).json()  # unfiltered: what the CLI prints


def test_one_jump_list_leads_to_each_site_with_its_count(web_server, screen):
    page, name = screen
    page.goto(f"{web_server}/changes")
    assert page.locator("nav.site-jump").count() == 1
    shown = rows(page)
    links = page.locator("nav.site-jump a")
    sites = [s["site"] for s in page.eval_on_selector_all("section.site-changes",
                                                          "s => s.map(e => e.dataset)")]
    assert links.count() == len(sites) == 5
    for i, site in enumerate(sites):
        link = links.nth(i)
        assert link.get_attribute("href") == f"#site-{site}"
        count = int(link.locator(".count").inner_text())
        assert count == len([r for r in shown if r["site"] == site])
    links.filter(has_text="justorium").click()
    heading = page.locator("#site-justorium h2")
    box = heading.bounding_box()
    assert 0 <= box["y"] < SCREENS[name][1] / 2  # scrolled to, at the top of the screen
    shot(page, f"jump-{name}")


def test_crawls_are_named_by_date_and_time_not_by_id(web_server, indexed_history, page):
    ids = [c.crawl_id for c in indexed_history.crawls]
    page.goto(f"{web_server}/changes")
    for select in ("from", "to"):
        options = page.locator(f"select[name={select}] option")
        assert [options.nth(i).get_attribute("value") for i in range(len(ids))] == ids
        for i, crawl in enumerate(ids):
            assert CRAWL_NAME.match(options.nth(i).inner_text())
            assert crawl in options.nth(i).get_attribute("title")
    summary = page.inner_text(".report-summary")
    names = page.locator(".report-summary .crawl-name")
    assert [names.nth(i).get_attribute("title") for i in range(2)] == [
        f"crawl {ids[1]}", f"crawl {ids[2]}"]
    assert CRAWL_NAME.match(names.nth(0).inner_text()) and not any(c in summary for c in ids)
    assert not any(c in page.title() or c in page.inner_text("h1") for c in ids)
    # three crawls seconds apart: each name still tells them apart
    assert len({page.locator(f"select[name=to] option >> nth={i}").inner_text()
                for i in range(3)}) == 3


def test_allyvias_pages_are_listed_once_the_watch_block_links_to_them(web_server, page):
    page.goto(f"{web_server}/changes")
    allyvia = [r["url"] for r in rows(page) if r["site"] == "allyvia"]
    assert len(allyvia) == 15
    listed = page.eval_on_selector_all(
        "main .url, main a", "els => els.map(e => e.textContent.trim())")
    for url in allyvia:
        assert listed.count(url) == 1, f"{url} listed {listed.count(url)} times"
    watch = page.locator("section.watch-summary")
    link = watch.locator("a.site-link")
    assert link.inner_text() == "allyvia (15)" and link.get_attribute("href") == "#site-allyvia"
    assert watch.locator("li").count() == 0  # no list of pages of its own
    marks = page.locator("#site-allyvia li.changed strong.down")
    assert marks.count() == 15 and "“disclosure” disappeared" in marks.first.inner_text()


def _report_lines(root: str, capsys) -> list[str]:
    assert main(["changes", "--collection", root]) == 0
    return capsys.readouterr().out.splitlines()


def test_cli_prints_absolute_urls_when_the_base_url_is_known(indexed_history, tmp_path,
                                                             capsys):
    root = str(indexed_history.collection.root)
    relative = _report_lines(root, capsys)
    assert any(line.startswith("report: /changes?from=") for line in relative)
    copy = Collection(tmp_path / "c")
    shutil.copytree(indexed_history.collection.root, copy.root)
    config = copy.config_path.read_text()
    assert '\n[web]\n' in config and '\nbase_url = ""\n' in config  # the template says it
    base = "https://archive.example.org/palimpsest/"
    copy.config_path.write_text(config.replace('\nbase_url = ""\n',
                                               f"\nbase_url = {json.dumps(base)}\n"))
    absolute = _report_lines(str(copy.root), capsys)
    edited = next(line for line in absolute if f"  {EDITED}  " in line)
    assert edited.split()[-1].startswith(f"{base}diff/")
    assert any(line.startswith(f"report: {base}changes?from=") for line in absolute)
    diffs = [w for line in absolute for w in line.split() if "/diff/" in w]
    assert diffs and all(w.startswith(base) for w in diffs)
    # and each changed page's first changes, marked as `palimpsest diff` marks them
    after = absolute[absolute.index(edited) + 1]
    assert "[-The simplicity is the point.-]" in after
    assert len([line for line in absolute if "http://allyvia.test/about/" in line]) == 1


def test_crawl_names_tell_apart_crawls_of_one_minute_and_keep_imported_names():
    names = crawl_names(["20261202043310", "20261202043355", "20261202043355-1",
                         "20261203090000", "batch0"])
    assert names == {"20261202043310": "2 Dec 2026 04:33:10 UTC",
                     "20261202043355": "2 Dec 2026 04:33:55 UTC",
                     "20261202043355-1": "2 Dec 2026 04:33:55 UTC #2",
                     "20261203090000": "3 Dec 2026 09:00 UTC", "batch0": "batch0"}


def test_an_excerpt_is_cut_to_its_longest_and_numbered_as_the_diff_page_numbers():
    ops = [{"op": "equal", "text": "one two three"}, {"op": "delete", "text": "a b c d"},
           {"op": "insert", "text": "e"}, {"op": "equal", "text": "four five"},
           {"op": "insert", "text": "six\nseven"}]
    assert excerpts(ops, context=2, longest=2) == [
        {"n": 1, "before": "two three", "deleted": "a b …", "inserted": "e",
         "after": "four five"},
        {"n": 2, "before": "four five", "deleted": "", "inserted": "six seven", "after": ""}]
    assert excerpts(ops, context=0)[1]["inserted"] == "six\nseven"  # whole, as the diff shows
    assert excerpts(ops, context=0)[0]["before"] == ""
