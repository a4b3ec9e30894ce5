"""Change-rate estimates from history (issue 15 point 1): WARCs written by another tool, with
a known history of several captures of a few pages at irregular times, are added to a
collection; `palimpsest schedule` must rank the pages by how often their text changed, count
a change only where the text differs after the noise rules, and say when each is next due.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from markupsafe import escape
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.collection import Collection
from index.config import render_template
from index.schedule.estimator import Interval, estimate_rate
from tests.conftest import palimpsest

SITE = "http://history.test/"
ODD = SITE + "find?q=<b>\"x\"</b>&n=1"  # a URL the page must escape
# days of the visits (irregular), the same for every page
VISITS = (0, 0.7, 2.5, 3.1, 6, 8.4, 9, 13.2, 15, 19.5, 21, 24.8)


def with_schedule(config: str, **values: str) -> str:
    """A config's text with these `[schedule]` keys set to these TOML values (the template
    writes every key)."""
    for key, value in values.items():
        start = config.index(f"\n{key} = ", config.index("[schedule]"))
        config = config[:start] + f"\n{key} = {value}" + config[config.index("\n", start + 1):]
    return config


def page(title: str, words: str, noise: str = "") -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><main><h1>{title}</h1><p>{words}</p></main>{noise}"
            "<footer>history.test</footer></body></html>").encode()


def write_history(path: Path, pages: dict[str, list[bytes]], times: list[datetime]) -> Path:
    """A WARC of response records: `pages[url][k]` captured at `times[k]`."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for k, when in enumerate(times):
            for url, bodies in pages.items():
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                        protocol="HTTP/1.1")
                record = writer.create_warc_record(
                    url, "response", payload=BytesIO(bodies[k]),
                    http_headers=http,
                    warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
                writer.write_record(record)
    return path


def history_pages() -> dict[str, list[bytes]]:
    """Five pages over the visits: one changed at every visit, one every third, one once, one
    never (at an odd URL), and one whose bytes change every time but only in noise (a token,
    and a time the config's ignore rule blanks out)."""
    n = len(VISITS)
    return {
        SITE + "live/": [page("Live", f"Edition {k} of the running story.") for k in range(n)],
        SITE + "weekly/": [page("Weekly", f"Issue {k // 3}.") for k in range(n)],
        SITE + "about/": [page("About", "Founded long ago." if k < n - 2 else "Founded in 1999.")
                          for k in range(n)],
        ODD: [page("Odd", "A URL that must be escaped.")] * n,
        SITE + "clock/": [page("Clock", "Nothing new here.",
                               f"<div data-token='{k * 7919}'>Updated {k % 24:02d}:{k:02d}</div>")
                          for k in range(n)],
    }


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    root = tmp_path_factory.mktemp("schedule")
    collection = Collection(root)
    config = render_template([("history", SITE)], ignore=[r"Updated \d\d:\d\d"])
    collection.config_path.write_text(config, encoding="utf-8")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    times = [start + timedelta(days=d) for d in VISITS]
    warc = write_history(root.parent / "history.warc.gz", history_pages(), times)
    palimpsest("add", "--collection", str(root), str(warc))
    return collection


def schedule_json(collection: Collection) -> dict:
    done = palimpsest("schedule", "--collection", str(collection.root), "--json")
    return json.loads(done.stdout)


def test_schedule_ranks_pages_by_how_often_their_text_changed(history: Collection) -> None:
    found = schedule_json(history)
    by_url = {row["url"]: row for row in found["urls"]}
    live, weekly, about, clock = (by_url[SITE + p] for p in ("live/", "weekly/", "about/",
                                                            "clock/"))
    assert live["estimate"] > weekly["estimate"] > about["estimate"] > clock["estimate"] > 0
    assert [live["changes"], weekly["changes"], about["changes"], clock["changes"]] == \
        [len(VISITS) - 1, 3, 1, 0]
    assert {row["visits"] for row in by_url.values()} == {0, len(VISITS)}
    # the live page changed about as often as it was visited (24.8 days, 11 intervals)
    assert 0.3 < live["estimate"] < 3


def test_schedule_json_shape_per_url_and_per_site(history: Collection) -> None:
    found = schedule_json(history)
    assert set(found) >= {"generated", "limits", "feasible", "planned_fetches_per_day",
                          "fetched_last_24h", "due", "chosen", "waiting", "total", "sites",
                          "urls"}
    assert found["total"] == 6 and found["feasible"]
    # the site's seed, never captured, is planned too: due now, and fetched first
    seed = found["urls"][0]
    assert (seed["url"], seed["visits"], seed["due"], seed["chosen"]) == (SITE, 0, True, True)
    row = found["urls"][1]
    assert set(row) >= {"url", "site", "estimate", "visits", "changes", "first_visit",
                        "last_visit", "last_change", "next_due", "interval_hours", "due",
                        "chosen"}
    (site,) = found["sites"]
    assert site["site"] == "history" and site["pages"] == 6
    assert site["visits"] == 5 * len(VISITS)
    assert site["changes_per_day"] == pytest.approx(sum(r["estimate"] for r in found["urls"]),
                                                    rel=1e-3)
    about = next(r for r in found["urls"] if r["url"] == SITE + "about/")
    assert about["last_change"].startswith(about["last_visit"][:4])
    assert about["last_change"] < about["last_visit"]  # the change came at the one before
    # last seen 5 days ago, every page is due again within the 7-day max_interval
    assert all(r["next_due"] <= _iso_days_after(r["last_visit"], 7) for r in found["urls"][1:])


def test_schedule_prints_sites_and_urls(history: Collection) -> None:
    done = palimpsest("schedule", "--collection", str(history.root), "--limit", "2")
    assert "history" in done.stdout and "changes/day" in done.stdout
    assert "4 more" in done.stdout


def _iso_days_after(iso: str, days: float) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(days=days)
    return moment.isoformat().replace("+00:00", "Z")


def test_one_visit_does_not_swing_the_estimate() -> None:
    # a page seen once changed, or once unchanged, stays within a factor of a few of the
    # prior; twenty changed intervals in a row do not run to infinity
    prior = estimate_rate([])
    assert prior / 4 < estimate_rate([Interval(1.0, True)]) < prior * 10
    assert prior / 4 < estimate_rate([Interval(1.0, False)]) <= prior * 4
    assert estimate_rate([Interval(1.0, True)] * 20) < 10
    fast = estimate_rate([Interval(0.1, True)] * 5 + [Interval(0.1, False)] * 5)
    slow = estimate_rate([Interval(10.0, True)] * 5 + [Interval(10.0, False)] * 5)
    assert fast == pytest.approx(100 * slow)  # the same history, 100 times faster


def test_schedule_page_shows_the_same_rows_escaped(history: Collection) -> None:
    from web import create_app

    client = create_app({"COLLECTION": str(history.root)}).test_client()
    api = client.get("/api/schedule").get_json()
    html = client.get("/schedule").get_data(as_text=True)
    assert api["total"] == 6 and api["page"] == 1 and api["pages"] == 1
    assert [r["url"] for r in api["urls"]] == [r["url"] for r in schedule_json(history)["urls"]]
    # every URL in the table, in the API's order, escaped
    positions = [html.index(escape(r["url"])) for r in api["urls"]]
    assert positions == sorted(positions)
    assert "<b>" not in html and escape(ODD) in html
    assert f"{api['urls'][1]['estimate']:.3f}" in html
    assert client.get("/schedule?page=x").status_code == 400
    empty = client.get("/api/schedule?page=2").get_json()
    assert empty["urls"] == [] and empty["total"] == 6


@pytest.mark.parametrize(("key", "value", "says"), [
    ("min_interval", '"soon"', "schedule.min_interval: 'soon' is not a duration"),
    ("max_interval", '"30m"', "min_interval must be above 0 and at most max_interval"),
    ("fetches_per_day", "0", "the fetch budgets must be at least 1 a day"),
])
def test_a_bad_schedule_is_one_line_naming_the_key(tmp_path: Path, key: str, value: str,
                                                   says: str) -> None:
    text = with_schedule(render_template([("history", SITE)]), **{key: value})
    (tmp_path / "palimpsest.toml").write_text(text)
    done = palimpsest("schedule", "--collection", str(tmp_path), check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and says in done.stderr
