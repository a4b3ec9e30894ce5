"""The state of a crawl shared through Redis, as one worker sees it: the crawl it joins, the
frontier (queues per site, seen set, leases), politeness grants, payload history, counters.

Plain redis-py, no Scrapy. One Redis database holds one crawl at a time: `palimpsest:current`
names it, every other key is under `palimpsest:<crawl id>:`. The seen set holds 8-byte URL
fingerprints (a set of a million URLs: about 60 MB of Redis) and, with every key of the
crawl but its config, is deleted when the crawl finishes: no set grows from crawl to crawl.

Redis unreachable: every call raises `Unreachable`, said once on stderr; the callers hold
what they must write (the outbox) and carry on when Redis answers again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import redis

from crawler.distributed import lua
from index.errors import UsageError

CURRENT = "palimpsest:current"
FINISHED_KEPT_SECONDS = 7 * 86400  # a finished crawl's config, then Redis forgets it too


class Unreachable(Exception):
    """Redis did not answer: the worker pauses."""


def fingerprint(url: str) -> bytes:
    """8 bytes of the URL's SHA-1: a collision in a crawl of a million URLs has odds of about
    one in 30 million."""
    return hashlib.sha1(url.encode("utf-8", "surrogateescape")).digest()[:8]


@dataclass(frozen=True)
class Grant:
    lease: str
    site: str
    request: dict[str, Any]


def connect(url: str) -> redis.Redis:
    """A client for `url` (redis://HOST:PORT/DB); UsageError for a malformed one or a Redis
    that does not answer."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UsageError(f"--frontier {url}: not a Redis URL (redis://HOST:PORT/DB)")
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                      health_check_interval=0)
        client.ping()
    except ValueError as exc:
        raise UsageError(f"--frontier {url}: {exc}") from None
    except redis.RedisError as exc:  # a crawl cannot start (or join) without it
        raise UsageError(f"--frontier {url}: Redis unreachable ({exc})") from None
    return client


class SharedCrawl:
    """One crawl's keys, and the scripts that change them."""

    def __init__(self, client: redis.Redis, url: str, crawl_id: str) -> None:
        self.client = client
        self.url = url
        self.crawl_id = crawl_id
        self.prefix = f"palimpsest:{crawl_id}:"
        self._scripts = {name: client.register_script(getattr(lua, name))
                         for name in ("GRANT", "ACQUIRE", "RELEASE", "PACE", "PUSH", "RENEW",
                                      "REAP", "HEARTBEAT", "LEAVE")}
        self.down = False

    # reaching Redis

    def call(self, fn: Any, *args: Any) -> Any:
        """`fn(*args)` against Redis; Unreachable (said once) if Redis does not answer."""
        try:
            result = fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not self.down:
                self.down = True
                sys.stderr.write(f"palimpsest: Redis at {self.url} unreachable ({exc}): "
                                 "pausing until it answers\n")
                sys.stderr.flush()
            raise Unreachable(str(exc)) from None
        if self.down:
            self.down = False
            sys.stderr.write(f"palimpsest: Redis at {self.url} answers again: carrying on\n")
            sys.stderr.flush()
        return result

    def script(self, name: str, *args: Any) -> Any:
        return self.call(self._scripts[name], [self.prefix], list(args))

    def key(self, name: str) -> str:
        return self.prefix + name

    # the crawl's description

    def config(self) -> dict[str, str]:
        raw = self.call(self.client.hgetall, self.key("config"))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def describe(self, fields: dict[str, str], policy: dict[str, str]) -> None:
        """Write the crawl's config and each site's politeness, and make it the current one."""
        pipe = self.client.pipeline()
        pipe.hset(self.key("config"), mapping=fields)
        pipe.hset(self.key("pol"), mapping=policy)
        pipe.set(CURRENT, self.crawl_id)
        self.call(pipe.execute)

    def mark_seeded(self) -> None:
        self.call(self.client.hset, self.key("config"), "seeded", "1")

    # the frontier

    def grant(self, lease_seconds: float) -> Grant | float:
        """The next request this worker may fetch now, or how long until one may be."""
        out = self.script("GRANT", lease_seconds)
        if len(out) == 1:
            return float(out[0])
        lease, site, request = (v.decode() for v in out)
        return Grant(lease, site, json.loads(request))

    def acquire(self, site: str, lease: str, lease_seconds: float) -> float:
        """0 if the leased request may fetch (again) now, else the seconds to wait."""
        return float(self.script("ACQUIRE", site, lease, lease_seconds))

    def release(self, site: str, lease: str) -> None:
        self.script("RELEASE", site, lease)

    def pace(self, site: str) -> None:
        self.script("PACE", site)

    def push(self, lease: str, entries: list[tuple[bytes, str, int, int, str]]) -> list[str]:
        """Complete `lease` (if any) and queue `entries` (fingerprint, site, counts, page
        limit, request): the verdict of each ('new', 'seen', 'limit')."""
        args: list[Any] = [lease]
        for entry in entries:
            args.extend(entry)
        return [v.decode() for v in self.script("PUSH", *args)]

    def renew(self, lease_seconds: float, leases: list[str]) -> None:
        if leases:
            self.script("RENEW", lease_seconds, *leases)

    def reap(self) -> int:
        return int(self.script("REAP"))

    def heartbeat(self, worker: str, seconds: float) -> tuple[bool, int]:
        finished, alive = self.script("HEARTBEAT", worker, seconds)
        return bool(finished), int(alive)

    def leave(self, worker: str) -> int:
        return int(self.script("LEAVE", worker))

    # payload history, robots.txt, counters

    def hget(self, name: str, field: str) -> bytes | None:
        return self.call(self.client.hget, self.key(name), field)

    def hset(self, name: str, field: str, value: str | bytes) -> None:
        self.call(self.client.hset, self.key(name), field, value)

    def count(self, counter: str, n: int = 1) -> None:
        self.call(self.client.hincrby, self.key("stats"), counter, n)

    def stats(self) -> dict[str, int]:
        raw = self.call(self.client.hgetall, self.key("stats"))
        return {k.decode(): int(v) for k, v in raw.items()}

    def lock(self, name: str, seconds: float) -> bool:
        """Take a lock for `seconds` (the first worker to ask gets it)."""
        return bool(self.call(lambda: self.client.set(self.key("lock:" + name), "1", nx=True,
                                                      ex=max(1, int(seconds)))))

    def forget(self) -> None:
        """The crawl finished: drop every key but its config (kept a week, marked finished)."""
        keep = self.key("config").encode()
        batch = []
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            if key != keep:
                batch.append(key)
            if len(batch) >= 500:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)
        self.client.expire(keep, FINISHED_KEPT_SECONDS)


def current_crawl(client: redis.Redis, url: str) -> SharedCrawl:
    """The crawl this Redis database holds; UsageError if none."""
    crawl_id = client.get(CURRENT)
    if crawl_id is None:
        raise UsageError(f"no crawl in Redis at {url}: start one with "
                         f"`palimpsest crawl --frontier {url}`")
    return SharedCrawl(client, url, crawl_id.decode())
