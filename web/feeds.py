"""Atom feeds (RFC 4287) of what changed, for feed readers (issue 15 point 4):

    /changes.atom            the network's changes, one entry per pair of consecutive
                             complete crawls, newest first
    /watch/<name>.atom       where a watched phrase appeared or disappeared, one entry per
                             page and crawl, newest first
    /captures.atom?url=URL   a URL's own changes: one entry per capture whose text differs
                             from the capture before it, newest first (the URL as
                             /api/captures takes it)

Each feed is bounded, and built from the objects the HTML pages show (the change report,
the watch history, the captures). Entry ids are `urn:uuid:` UUIDs derived from what the
entry is about (the crawls, the phrase, the URL and times) and the network, so a reader
sees an entry once however often it polls. Links are absolute: the config's `[web]
base_url`, else the address the request came to. Archived text is hostile: the template
escapes it, and characters XML 1.0 cannot carry at all are dropped.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, render_template, request

from index.catalog import Capture
from index.compare.changes import MOVES
from index.compare.diff import change_ratio, rules_for
from index.compare.permalinks import diff_url, report_url
from index.compare.watch import find_watch, watch_history
from index.config import Notify
from index.crawl_status import crawl_status
from index.errors import CaptureNotFound, QueryError, UsageError
from index.notify import crawl_changes
from index.notify.message import compose
from index.timestamps import timestamp_time
from web.state import catalog, collection, network_config, state

bp = Blueprint("feeds", __name__)

CRAWL_PAIRS = 10  # entries of /changes.atom: each is a change report
WATCH_ENTRIES = 50
CAPTURE_ENTRIES = 25  # entries of a URL's feed: each measures a diff, as the timeline does
ATOM = "application/atom+xml; charset=utf-8"
# what XML 1.0 cannot hold even escaped (RFC 4287 content is XML): C0 controls but tab and
# newlines, lone surrogates, U+FFFE and U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CRAWL_ID = re.compile(r"^\d{14}")


@bp.app_template_filter("xml_safe")
def xml_safe(text: Any) -> str:
    """`text` without the characters no XML document may contain (escaping is Jinja's)."""
    return _NOT_XML.sub("", str(text))


@bp.route("/changes.atom")
def changes_feed() -> Any:
    """The network's changes, crawl pair by crawl pair, newest first."""
    config, base = network_config(), _base()
    network = config.name if config else "archive"
    pairs = _complete_pairs()[-CRAWL_PAIRS:][::-1]
    entries = []
    for older, newer in pairs:
        report = state().recall(("changes.atom", older, newer),
                                lambda a=older, b=newer: crawl_changes(collection(), a, b,
                                                                       config))
        message = compose(report, Notify(url=""), network, base)
        names = report["crawl_names"]
        entries.append({
            "id": _uuid("changes", older, newer),
            "title": message.title if message else
            f"{network}: no change (crawl {names[newer]})",
            "updated": _crawl_time(newer),
            "link": base + report_url(older, newer),
            "text": message.body if message else
            f"Crawl {names[newer]} compared with {names[older]}: "
            f"{report['unchanged']} pages, none changed."})
    return _feed(f"Changes across {network}", base + "/changes", entries)


@bp.route("/watch/<name>.atom")
def watch_feed(name: str) -> Any:
    """Where the watched phrase `name` appeared or disappeared, newest first."""
    config, base = network_config(), _base()
    try:
        watch = find_watch(config, name)
    except UsageError as exc:
        abort(404, str(exc))
    history = watch_history(collection(), watch)
    what = f"phrase \u201c{watch.phrase}\u201d" if watch.phrase else f"pattern {watch.pattern}"
    entries = []
    for crawl in reversed(history["crawls"]):
        for move in MOVES:
            for moved in crawl[move]:
                entries.append({
                    "id": _uuid("watch", name, crawl["crawl"], move, moved["url"]),
                    "title": f"\u201c{name}\u201d {move} "
                             f"{'from' if move == 'disappeared' else 'on'} {moved['url']}",
                    "updated": _crawl_time(crawl["crawl"]),
                    "link": base + moved["diff"],
                    "text": f"The watched {what} {move} "
                            f"{'from' if move == 'disappeared' else 'on'} {moved['url']} "
                            f"({moved['site'] or 'no site'}) between its captures of "
                            f"{moved['from']} and "
                            f"{moved['to']}, crawl {crawl['crawl']}."})
    return _feed(f"Watched phrase \u201c{name}\u201d", base + f"/watch/{quote(name)}",
                 entries[:WATCH_ENTRIES])


@bp.route("/captures.atom")
def captures_feed() -> Any:
    """A URL's changes: each capture whose text differs from the one before, newest first."""
    url = request.args.get("url", "").strip()
    if not url:
        raise QueryError("give a URL: /captures.atom?url=...")
    captures = catalog().captures(url)
    if not captures:
        raise CaptureNotFound(f"no capture of {url}")
    base, root, rules = _base(), collection(), rules_for(network_config(), url)
    changed = [(captures[i - 1], c) for i, c in enumerate(captures)
               if i and c.text_digest != captures[i - 1].text_digest][-CAPTURE_ENTRIES:]
    entries = []
    for before, after in reversed(changed):
        ratio = state().recall(("captures.atom", before.id, after.id),
                               lambda a=before, b=after: _ratio(root, a, b, rules))
        size = f"{100 * ratio:.1f}% of its words changed" if ratio is not None else "changed"
        entries.append({
            "id": _uuid("capture", url, before.timestamp, after.timestamp),
            "title": f"{url}: {size}",
            "updated": timestamp_time(after.timestamp),
            "link": base + diff_url(before.timestamp, after.timestamp, url),
            "text": f"{url} captured at {after.timestamp} (crawl {after.crawl}) differs from "
                    f"its capture at {before.timestamp}: {size}."})
    return _feed(f"Changes of {url}", base + f"/web/*/{url}", entries)


def _ratio(root: Any, before: Capture, after: Capture, rules: Any) -> float | None:
    if not (before.has_payload and after.has_payload):
        return None
    return change_ratio(root, before, after, rules)


def _feed(title: str, alternate: str, entries: list[dict[str, Any]]) -> Any:
    """The Atom document: `entries` (newest first) under a feed titled `title`, whose HTML
    page is `alternate`. A feed with no entry is as new as its newest crawl."""
    config = network_config()
    self_link = _base() + request.full_path.rstrip("?")
    updated = max((e["updated"] for e in entries), default=None) or _newest_crawl_time()
    body = render_template("feeds/atom.xml", title=title, feed_id=_uuid("feed", self_link),
                           self_link=self_link, alternate=alternate, updated=updated,
                           author=f"Palimpsest: {config.name}" if config else "Palimpsest",
                           entries=entries)
    return body, 200, {"Content-Type": ATOM}


def _base() -> str:
    """Where the web UI is, without its final "/": [web] base_url, else this request's."""
    config = network_config()
    return (config.web.base_url if config and config.web.base_url
            else request.url_root).rstrip("/")


def _uuid(*parts: str) -> str:
    """A stable id for what `parts` name, within this network (its name, its UI's address)."""
    config = network_config()
    scope = (config.web.base_url or config.name) if config else str(collection().root)
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "\n".join(
        ("palimpsest", scope, *parts))))


def _complete_pairs() -> list[tuple[str, str]]:
    """Consecutive complete crawls, oldest first: what the change report compares."""
    root = collection()
    complete = [c for c in catalog().crawls() if crawl_status(root, c).complete]
    return list(zip(complete, complete[1:], strict=False))


def _crawl_time(crawl: str) -> datetime:
    """When a crawl started (its id), or for an imported batch its last capture's time."""
    if _CRAWL_ID.match(crawl):
        return timestamp_time(crawl[:14])
    return timestamp_time(max(c.timestamp for c in catalog().by_crawl(crawl)))


def _newest_crawl_time() -> datetime:
    crawls = catalog().crawls()
    return _crawl_time(crawls[-1]) if crawls else datetime(1970, 1, 1, tzinfo=UTC)
