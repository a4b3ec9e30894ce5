"""Sending one notification through apprise, retried with backoff a bounded number of times,
and the log of what was sent for a crawl (so a notification is never sent twice).

The log is `notify-log.jsonl` in the crawl's folder, beside its crawl log: one JSON line per
attempt, naming the target by a digest of its URL and by apprise's privacy form of it (URLs
carry passwords and tokens; the log never holds them).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from index.errors import UsageError, WriteFailed
from index.notify.message import Message

LOG_NAME = "notify-log.jsonl"
ATTEMPTS = 3  # tries of one notification before it is logged as failed
BACKOFF = 1.0  # seconds before the second try, doubled before each next one
SETTLED = ("sent", "nothing")  # outcomes after which a target is not sent that crawl again
REASON_MAX = 500  # characters of apprise's explanation kept in the log

logger = logging.getLogger("palimpsest.notify")


def target_key(url: str) -> str:
    """What the log knows a target by: a digest of its URL, not the URL and its secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def shown_url(url: str) -> str:
    """The target's URL as people may see it: apprise's privacy form (secrets starred),
    without the options apprise spells out (`?method=POST&overflow=...`)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return url.partition("://")[0] + "://…"
    return plugin.url(privacy=True).partition("?")[0]


class NotifyLog:
    """The crawl's notification log, held open and locked while notifications go out, so a
    crawl and a monitor finishing one crawl at once cannot both send its notifications."""

    def __init__(self, stream: IO[str], crawl: str) -> None:
        self._stream, self.crawl = stream, crawl
        stream.seek(0)
        self._settled: dict[str, str] = {}
        for line in stream.read().splitlines():
            try:
                self._remember(json.loads(line))
            except (ValueError, AttributeError):
                continue  # a line torn by a kill: the attempt it records is made again

    def settled(self, key: str) -> str | None:
        """How the target's notification for this crawl was settled: "sent", "nothing" (it
        covered no change), or None: still to do (never tried, or every try failed)."""
        return self._settled.get(key)

    def _remember(self, entry: dict[str, Any]) -> None:
        if entry.get("outcome") in SETTLED:
            self._settled[entry["target"]] = entry["outcome"]

    def write(self, **entry: Any) -> None:
        """Append one event (flushed: a kill after a send must not lose that it was sent)."""
        entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                 "crawl": self.crawl, **entry}
        try:
            self._stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._stream.flush()
        except OSError as exc:  # a full disk: the crawl is written; say so in one line
            raise WriteFailed(f"cannot write the notify log {self._stream.name}: "
                              f"{exc.strerror or exc}") from None
        self._remember(entry)


@contextmanager
def notify_log(folder: Path, crawl: str) -> Iterator[NotifyLog]:
    """The notification log of the crawl whose folder is `folder`, locked until the end."""
    if not folder.is_dir():
        raise UsageError(f"no crawl {crawl} in the collection ({folder} is no folder)")
    try:
        stream = open(folder / LOG_NAME, "a+", encoding="utf-8")
    except OSError as exc:
        raise WriteFailed(f"cannot write {folder / LOG_NAME}: {exc.strerror or exc}") from None
    with stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        yield NotifyLog(stream, crawl)


def send(url: str, message: Message, log: NotifyLog) -> tuple[bool, int, str]:
    """Send `message` to the apprise `url`, up to ATTEMPTS times with backoff, each attempt
    logged; (sent, attempts made, why the last one failed)."""
    key, shown, why = target_key(url), shown_url(url), ""
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            time.sleep(BACKOFF * 2 ** (attempt - 2))
        why = _send_once(url, message)
        outcome = "sent" if not why else "failed" if attempt == ATTEMPTS else "retrying"
        log.write(target=key, url=shown, outcome=outcome, attempt=attempt, title=message.title,
                  **({"why": why} if why else {}))
        if not why:
            return True, attempt, ""
        logger.warning("notification to %s: attempt %d of %d failed: %s", shown, attempt,
                       ATTEMPTS, why)
    return False, ATTEMPTS, why


def _send_once(url: str, message: Message) -> str:
    """One try: "" when apprise delivered it, else apprise's explanation of why not."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "apprise cannot read this URL"
    with apprise.LogCapture(level=logging.DEBUG, fmt="%(levelname)s %(message)s") as output:
        try:
            delivered = bool(notifier.notify(body=message.body, title=message.title,
                                             body_format=apprise.NotifyFormat.TEXT))
        except Exception as exc:  # a plugin's own bug must not stop the crawl's other targets
            return f"apprise failed: {type(exc).__name__}: {exc}"[:REASON_MAX]
        said = output.getvalue().splitlines()
    if delivered:
        return ""
    # apprise's warnings say what failed, its debug lines why (payloads are debug lines too:
    # only exception lines are kept, not the message)
    reasons = [line.partition(" ")[2] for line in said
               if line.startswith(("WARNING", "ERROR")) or "Exception:" in line]
    return ("; ".join(reasons) or "apprise reported a failure")[:REASON_MAX]
