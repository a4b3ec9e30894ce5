"""The state of a crawl shared through Redis, as one worker sees it: the crawl it joins, the
frontier (queues per site, seen set, leases), politeness grants, payload history, counters.

Plain redis-py, no Scrapy. One Redis database holds one crawl at a time: `palimpsest:current`
names it, every other key is under `palimpsest:<crawl id>:`. The seen set holds 8-byte URL
fingerprints (a set of a million URLs: about 60 MB of Redis) and, with every key of the
crawl but its config, is deleted when the crawl finishes: no set grows from crawl to crawl.

Round trips: a worker's calls to Redis block its reactor, and on a busy machine each costs a
wait for redis-server to be scheduled and for the worker to be scheduled back, so the writes
that need no answer now (a fetch's release, a payload remembered, a lease renewed) wait in
`pending` and go in the same pipeline as the next call that needs an answer.

Redis unreachable: every call raises `Unreachable`, said once on stderr; the callers hold
what they must write (the outbox, and `pending`) and carry on when Redis answers again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.client import Pipeline

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


# a command (or a few) to put on a pipeline, and what to do with their answers
Write = tuple[Callable[[Pipeline], Any], Callable[[list[Any]], Any] | None]
# a request as PUSH queues it: fingerprint (b"" if it may be fetched again), site, whether it
# counts against the site's page limit (2: only marked seen), the limit, URL, request
Entry = tuple[bytes, str, int, int, str, str]
FOUND_BATCH = 1000  # the most URLs of the found stream one grant reads


@dataclass
class _Batch:
    """What went to Redis in one go: the writes (pending again if the replies are lost),
    the commands whose answers someone waits for, and who."""

    writes: list[Write]
    asks: list[Write]
    done: Callable[[list[Any]], Any] | None = None
    failed: Callable[[Exception], Any] | None = None
    retry: bool = True  # sent again once if Redis had lost the scripts
    thens: list[tuple[int, int, Callable[[list[Any]], Any]]] = field(default_factory=list)
    pipe: Any = None  # the commands sent, and how their replies are parsed
    got: list[Any] = field(default_factory=list)


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
        # writes that need no answer, each queueing its commands on a pipeline: sent, in
        # order, before the next call's own (kept until Redis has taken them)
        self.pending: list[Write] = []
        # the place in `pending` of the writes that a later one of their kind replaces (a
        # lease renewal, the reaping): while Redis is unreachable they would pile up, two a
        # worker's tick, each renewal naming every lease held; and of the pending RELEASE,
        # which the releases that follow join (`_releases`, its arguments): one script call
        # for the fetches that ended in one turn
        self._replaced: dict[str, int] = {}
        self._releases: list[str] = []
        # the URLs queued in the crawl (by any worker) go here as the grants read them, the
        # last one read from the found stream in `_found_after`
        self.on_found: Callable[[list[str]], Any] = lambda urls: None
        self.alive = 1  # workers of the crawl alive, as the last heartbeat or grant said
        self._found_after = "0-0"
        # calls and writes go on one connection of our own, pipelined by hand: a batch is
        # sent, and its replies read when they are needed or at a later turn of the event
        # loop (`soon`), the worker busy with something else meanwhile
        self._conn: Any = None
        self._owed: deque[_Batch] = deque()  # sent, their replies not yet read
        self._collecting = False
        # runs a call at the event loop's next turn (the worker's scheduler sets it); at
        # once by default, in a process with no event loop
        self.soon: Callable[[Callable[[], None]], Any] = lambda call: call()

    # reaching Redis

    def call(self, fn: Any, *args: Any) -> Any:
        """`fn(*args)` against Redis, once the replies still owed are read (what this
        process sent is in before it); Unreachable (said once) if Redis does not answer."""
        return self._reach(self._in_order, fn, *args)

    def _in_order(self, fn: Any, *args: Any) -> Any:
        self._collect_owed()
        return fn(*args)

    def _reach(self, fn: Any, *args: Any) -> Any:
        try:
            result = fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._lost()
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
        return self.ask(self._queue_script(name, *args))

    def _queue_script(self, name: str, *args: Any) -> Callable[[Pipeline], Any]:
        # EVALSHA by hand: a redis-py Script on a pipeline asks SCRIPT EXISTS first, one more
        # round trip each time (the scripts are loaded by `_finish` when Redis lacks them)
        script = self._scripts[name]
        return lambda pipe: pipe.evalsha(script.sha, 1, self.prefix, *args)

    def ask(self, queue: Callable[[Pipeline], Any], answers: int = 1) -> Any:
        """The answer to the command `queue` puts on a pipeline (the last `answers` of them,
        if more than one), sent in the same round trip as the pending writes (before it)."""
        batch = self._send_batch([(queue, None)])
        self._reach(self._collect_owed)
        return batch.got[-1] if answers == 1 else batch.got[-answers:]

    def ask_later(self, queue: Callable[[Pipeline], Any], answers: int,
                  done: Callable[[list[Any]], Any], failed: Callable[[Exception], Any]
                  ) -> None:
        """`ask`, its answers (the last `answers` replies) to `done` once Redis has them,
        read at a later turn of the event loop (`soon`): the worker goes on meanwhile. Redis
        unreachable, or an error reply: `failed` (Unreachable, or the error)."""
        self._send_batch([(queue, None)], lambda got: done(got[-answers:]), failed)

    def send_pending_later(self) -> None:
        """The pending writes, sent now, their replies read at a later turn (Unreachable:
        kept for the next try)."""
        if self.pending:
            self._send_batch([])

    def _send_batch(self, asks: list[Write], done: Callable[[list[Any]], Any] | None = None,
                    failed: Callable[[Exception], Any] | None = None) -> _Batch:
        """The pending writes, then `asks`, sent in one go; their replies are owed (read in
        order by `_collect_owed`). Unreachable: nothing sent, the writes still pending."""
        batch = _Batch(list(self.pending), asks, done, failed)
        self._reach(self._send, batch)
        self._sent()
        self._collect_soon()
        return batch

    def _send(self, batch: _Batch) -> None:
        if self._conn is None:
            self._conn = self.client.connection_pool.get_connection()
        pipe = self.client.pipeline(transaction=False)
        for queue, then in [*batch.writes, *batch.asks]:
            start = len(pipe)
            queue(pipe)
            if then is not None:
                batch.thens.append((start, len(pipe), then))
        batch.pipe = pipe
        self._conn.send_packed_command(
            self._conn.pack_commands([args for args, _ in pipe.command_stack]))
        self._owed.append(batch)

    def _collect_soon(self) -> None:
        """Read the owed replies at a later turn of the event loop: those there by the next
        turn then, the rest (Redis was slow to answer) at the one after, waiting for them."""
        if self._collecting:
            return
        self._collecting = True

        def collect(wait: bool) -> None:
            self._collecting = False
            if not self._owed:
                return
            if not wait and not self._readable():
                self._collecting = True
                self.soon(lambda: collect(True))
                return
            try:
                self._reach(self._collect_owed)
            except Unreachable:
                pass  # said; the writes are pending again, the askers told
        self.soon(lambda: collect(False))

    def _readable(self) -> bool:
        try:
            return self._conn is not None and self._conn.can_read(timeout=0)
        except (redis.ConnectionError, redis.TimeoutError):
            return True  # the read says so

    def _collect_owed(self) -> None:
        """Read every reply owed, oldest batch first, and hand them out."""
        while self._owed:
            got = self._read(self._owed[0])  # still owed if the connection fails here
            self._finish(self._owed.popleft(), got)

    def _read(self, batch: _Batch) -> list[Any]:
        got = []
        for args, options in batch.pipe.command_stack:
            try:  # a copy: the parsing takes options out, and a batch may be read twice
                got.append(batch.pipe.parse_response(self._conn, args[0], **dict(options)))
            except redis.ResponseError as exc:
                got.append(exc)
        return got

    def _finish(self, batch: _Batch, got: list[Any]) -> None:
        if batch.retry and any(isinstance(g, redis.exceptions.NoScriptError) for g in got):
            # a Redis restarted (or flushed) forgets scripts: loaded again, and this batch
            # and those sent after it sent again, in order (the plain writes that ran do the
            # same a second time); a second NOSCRIPT is an error
            self._owed.appendleft(batch)
            for other in list(self._owed)[1:]:
                self._read(other)
            later = list(self._owed)[1:]
            self._owed.clear()
            for script in self._scripts.values():
                script.sha = self.client.script_load(script.script)
            for again in (batch, *later):
                again.retry, again.thens = False, []
                self._send(again)
            self._collect_owed()
            return
        batch.got = got
        errors = [g for g in got if isinstance(g, redis.ResponseError)]
        if errors:
            if batch.failed is None:
                raise errors[0]
            batch.failed(errors[0])
            return
        for start, end, then in batch.thens:
            then(got[start:end])
        if batch.done is not None:
            batch.done(got)

    def _lost(self) -> None:
        """The connection failed: the replies owed will not come. The writes sent with them
        are pending again, first (Redis may or may not have taken them: each is safe to do
        twice), and whoever waited for an answer is told."""
        if self._conn is not None:
            self._conn.disconnect()
        owed, self._owed = list(self._owed), deque()
        writes = [w for batch in owed for w in batch.writes]
        if writes:
            self._replaced = {name: place + len(writes)
                              for name, place in self._replaced.items()}
            self.pending[:0] = writes
        for batch in owed:
            if batch.failed is not None:
                batch.failed(Unreachable("Redis did not answer"))

    def later(self, queue: Callable[[Pipeline], Any],
              then: Callable[[list[Any]], Any] | None = None) -> None:
        """A write whose answer is not needed now: sent with the next call (or
        `send_pending`), `then` given its answers once Redis has them."""
        self.pending.append((queue, then))

    def later_script(self, name: str, *args: Any,
                     then: Callable[[list[Any]], Any] | None = None) -> None:
        self.later(self._queue_script(name, *args), then)

    def later_replacing(self, name: str, *args: Any) -> None:
        """`later_script`, in place of the pending write of the same script, if any (one
        whose newest arguments say all that the older ones did)."""
        write = (self._queue_script(name, *args), None)
        place = self._replaced.get(name)
        if place is None:
            self._replaced[name] = len(self.pending)
            self.pending.append(write)
        else:
            self.pending[place] = write

    def send_pending(self) -> None:
        """The pending writes, now (Unreachable: kept for the next try)."""
        if self.pending:
            self._send_batch([])
        self._reach(self._collect_owed)

    def _sent(self) -> None:
        """Redis has taken the pending writes."""
        self.pending.clear()
        self._replaced.clear()

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

    def grant(self, lease_seconds: float, most: int = 1) -> list[Grant] | float:
        """Up to `most` requests this worker may fetch now, or how long until one may be.
        The URLs queued since the last grant (by any worker) come in the same round trip, to
        `on_found`."""
        queue, after = self._queue_grant(lease_seconds, most)
        return self._granted(self.ask(queue, answers=3), after)

    def grant_later(self, lease_seconds: float, most: int,
                    done: Callable[[list[Grant] | float], Any],
                    failed: Callable[[Exception], Any]) -> None:
        """`grant`, its answer to `done` at a later turn (see `ask_later`)."""
        queue, after = self._queue_grant(lease_seconds, most)
        self.ask_later(queue, 3, lambda got: done(self._granted(got, after)), failed)

    def _queue_grant(self, lease_seconds: float, most: int
                     ) -> tuple[Callable[[Pipeline], Any], str]:
        """The grant's commands, and the found stream's entry they read from. The workers
        alive are counted with it: a worker that joins gets its share of the sites at the
        others' next grant, not their next heartbeat."""
        found_key, workers_key, after = self.key("found"), self.key("workers"), self._found_after
        grant = self._queue_script("GRANT", lease_seconds, most)

        def queue(pipe: Pipeline) -> None:
            grant(pipe)
            # from the last one read on, that one included: an exclusive start, "(id",
            # needs Redis 6.2
            pipe.xrange(found_key, min=after, count=FOUND_BATCH + 1)
            pipe.zcard(workers_key)  # the dead are taken out by every heartbeat
        return queue, after

    def _granted(self, got: list[Any], after: str) -> list[Grant] | float:
        out, found, alive = got
        self.alive = max(int(alive), 1)
        if found and found[0][0].decode() == after:
            found = found[1:]
        if found:
            self._found_after = found[-1][0].decode()
            self.on_found([fields[b"u"].decode() for _, fields in found])
        if len(out) == 1:
            return float(out[0])
        values = [v.decode() for v in out]
        return [Grant(values[i], values[i + 1], json.loads(values[i + 2]))
                for i in range(0, len(values), 3)]

    def acquire(self, site: str, lease: str, lease_seconds: float) -> float:
        """0 if the leased request may fetch (again) now, else the seconds to wait."""
        return float(self.script("ACQUIRE", site, lease, lease_seconds))

    def release(self, site: str, lease: str) -> None:
        """A fetch ended (pending: sent with the next call, in one script with the other
        releases pending)."""
        if "RELEASE" in self._replaced:
            self._releases.extend((site, lease))
            return
        releases = self._releases = [site, lease]
        self._replaced["RELEASE"] = len(self.pending)
        # the arguments read when sent: the releases that join it are in
        self.pending.append((lambda pipe: self._queue_script("RELEASE", *releases)(pipe), None))

    def pace(self, site: str) -> None:
        self.script("PACE", site)

    def push(self, lease: str, entries: list[Entry]) -> list[str]:
        """Complete `lease` (if any) and queue `entries` (see Entry): the verdict of each
        ('new', 'seen', 'limit')."""
        return [v.decode() for v in self.script("PUSH", *_push_args(lease, entries))]

    def push_later(self, lease: str, entries: list[Entry],
                   then: Callable[[list[str]], Any] | None = None) -> None:
        """`push`, pending: sent with the next call, `then` given the verdicts."""
        self.later_script("PUSH", *_push_args(lease, entries), then=then and (
            lambda got: then([v.decode() for v in got[0]])))

    def histories(self, asked: list[tuple[str, str]]
                  ) -> list[tuple[bytes | None, bytes | None]]:
        """The payload history of responses (url, payload digest) in one round trip: for
        each, the URL's latest digest and the first record of the payload."""
        got = self.ask(self._queue_histories(asked), answers=2 * len(asked))
        return list(zip(got[::2], got[1::2], strict=True))

    def histories_later(self, asked: list[tuple[str, str]],
                        done: Callable[[list[tuple[bytes | None, bytes | None]]], Any],
                        failed: Callable[[Exception], Any]) -> None:
        """`histories`, the answers to `done` at a later turn (see `ask_later`)."""
        self.ask_later(self._queue_histories(asked), 2 * len(asked),
                       lambda got: done(list(zip(got[::2], got[1::2], strict=True))), failed)

    def _queue_histories(self, asked: list[tuple[str, str]]) -> Callable[[Pipeline], Any]:
        url_key, digest_key = self.key("hurl"), self.key("hdig")

        def queue(pipe: Pipeline) -> None:
            for url, digest in asked:
                pipe.hget(url_key, url)
                pipe.hget(digest_key, digest)
        return queue

    def renew(self, lease_seconds: float, leases: list[str]) -> None:
        """Pending: sent with the next call (the heartbeat's, at the latest)."""
        if leases:
            self.later_replacing("RENEW", lease_seconds, *leases)

    def reap(self) -> None:
        """Pending: sent with the next call (the heartbeat's, at the latest)."""
        self.later_replacing("REAP")

    def heartbeat(self, worker: str, seconds: float) -> bool:
        """Whether the crawl is over (and `alive` updated)."""
        finished, alive = self.script("HEARTBEAT", worker, seconds)
        self.alive = max(int(alive), 1)
        return bool(finished)

    def leave(self, worker: str) -> int:
        return int(self.script("LEAVE", worker))

    # payload history, robots.txt, counters

    def hget(self, name: str, field: str) -> bytes | None:
        key = self.key(name)
        return self.ask(lambda pipe: pipe.hget(key, field))

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


def _push_args(lease: str, entries: list[Entry]) -> list[Any]:
    """PUSH's ARGV: the lease, then each entry's six fields."""
    return [lease, *(field for entry in entries for field in entry)]


def current_crawl(client: redis.Redis, url: str) -> SharedCrawl:
    """The crawl this Redis database holds; UsageError if none."""
    crawl_id = client.get(CURRENT)
    if crawl_id is None:
        raise UsageError(f"no crawl in Redis at {url}: start one with "
                         f"`palimpsest crawl --frontier {url}`")
    return SharedCrawl(client, url, crawl_id.decode())
