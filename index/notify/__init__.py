"""Notifications after a crawl (issue 15): for every `[[notify]]` target of the network config,
one message per crawl that changed something the target covers, sent through apprise (email,
Matrix, Slack, Telegram, webhooks...).

What changed is the change report (index.compare.changes) of the crawl against the complete
crawl before it, read from the catalog and the WARCs: the full-text index plays no part. A
target that fails is retried with backoff, logged in the crawl's `notify-log.jsonl` with
apprise's reason, and never stops or fails the crawl; one that was sent is never sent the
same crawl's message again (a second call, a monitor restarted, a crawl and a monitor both
finishing the crawl).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from index import indexer
from index.catalog import Catalog
from index.collection import Collection
from index.compare.changes import change_report
from index.compare.crawls import crawl_pair
from index.config import NetworkConfig, Notify
from index.crawl_status import crawl_status
from index.errors import PalimpsestError
from index.notify.message import compose
from index.notify.send import LOG_NAME, NotifyLog, notify_log, send, shown_url, target_key

__all__ = ["ALREADY_SENT", "FAILED", "LOG_NAME", "NOTHING", "SENT", "Delivery",
           "crawl_changes", "notify_after_crawl"]

logger = logging.getLogger("palimpsest.notify")

SENT, FAILED, ALREADY_SENT, NOTHING = "sent", "failed", "already sent", "nothing to send"


@dataclass(frozen=True)
class Delivery:
    """What became of one target's notification for one crawl. `target`: its URL with the
    secrets starred; `outcome`: sent, failed, already sent, or nothing to send (with `why`)."""

    target: str
    outcome: str
    attempts: int = 0
    why: str = ""
    title: str = ""

    def __str__(self) -> str:
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"notification to {self.target}: {self.outcome}{tries}" + (
            f" ({self.why})" if self.why else "")


def notify_after_crawl(collection: Collection, crawl_id: str,
                       config: NetworkConfig | None = None) -> list[Delivery]:
    """Send each `[[notify]]` target of `config` (default: the collection's) the changes
    crawl `crawl_id` made since the complete crawl before it, once; one Delivery per
    target. Brings the catalog up to date first (only when there is a target). Never raises
    for a target that fails, nor for a crawl there is nothing to compare with: the
    deliveries say so, and the crawl's notify log has every attempt."""
    config = config or collection.load_config()
    if not config.notify:
        return []
    with notify_log(collection.crawl_dir(crawl_id), crawl_id) as log:
        pending = [t for t in config.notify if not log.settled(target_key(t.url))]
        done = [Delivery(shown_url(t.url), ALREADY_SENT if log.settled(target_key(t.url))
                         == "sent" else NOTHING, why="settled before") for t in config.notify
                if t not in pending]
        if not pending:
            return done
        report, why = _report(collection, crawl_id, config)
        if report is None:
            for target in pending:
                log.write(target=target_key(target.url), url=shown_url(target.url),
                          outcome="skipped", why=why)
            return done + [Delivery(shown_url(t.url), NOTHING, why=why) for t in pending]
        return done + [_deliver(target, report, config, log) for target in pending]


def _report(collection: Collection, crawl_id: str, config: NetworkConfig
            ) -> tuple[dict | None, str]:
    """The change report of `crawl_id` against the complete crawl before it, or None and
    why there is none (the crawl incomplete, the first one, the catalog not updatable)."""
    status = crawl_status(collection, crawl_id)
    if not status.complete:
        return None, f"crawl {crawl_id} is incomplete ({status.why or 'a site not reached'})"
    try:
        # the crawl wrote WARCs the catalog has not read yet; the change report reads only
        # the catalog and the WARCs, so the full text is left to `palimpsest index`
        indexer.update(collection, config=config, fulltext=False)
        earlier = _crawl_before(collection, crawl_id)
        if earlier is None:
            return None, f"no complete crawl before {crawl_id} to compare it with"
        return crawl_changes(collection, earlier, crawl_id, config), ""
    except PalimpsestError as exc:
        logger.warning("notifications for crawl %s: %s", crawl_id, exc)
        return None, str(exc)


def _crawl_before(collection: Collection, crawl_id: str) -> str | None:
    """The complete crawl the change report compares `crawl_id` with, None for the first."""
    with Catalog.open(collection) as catalog:
        crawls = catalog.crawls()
    if crawl_id not in crawls:  # it captured nothing the catalog holds
        return None
    complete = {c for c in crawls if crawl_status(collection, c).complete}
    earlier = crawl_pair(crawls, complete, None, crawl_id)[0]
    return None if earlier == crawl_id else earlier


def crawl_changes(collection: Collection, earlier: str, crawl_id: str,
                  config: NetworkConfig | None) -> dict:
    """What crawl `crawl_id` changed since the complete crawl `earlier`, the change report
    that notifications and the Atom feed of changes tell. A crawl `palimpsest monitor` ran
    fetched the pages that were due, not whole sites: the pages it did not fetch are not
    gone, and each page it did is compared with its own last capture (which `earlier` may
    not hold)."""
    from index.schedule.state import MonitorState

    if crawl_id in MonitorState.load(collection).crawls:
        return change_report(collection, None, crawl_id, config, since_each_page=True)
    return change_report(collection, earlier, crawl_id, config)


def _deliver(target: Notify, report: dict, config: NetworkConfig, log: NotifyLog) -> Delivery:
    message = compose(report, target, config.name, config.web.base_url.rstrip("/"))
    shown = shown_url(target.url)
    if message is None:
        why = "nothing it covers changed"
        log.write(target=target_key(target.url), url=shown, outcome="nothing", why=why)
        return Delivery(shown, NOTHING, why=why)
    delivered, attempts, why = send(target.url, message, log)
    return Delivery(shown, SENT if delivered else FAILED, attempts, why, message.title)
