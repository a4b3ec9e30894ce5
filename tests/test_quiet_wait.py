"""The browser's wait for quiet (crawler.browser.NetworkWatch.quiet) taking its snapshot of the
page early: begun once the page has been at rest for a quarter of the window, kept only if
the page is still at rest when the window ends, taken again otherwise.

The network is played by the test: `began` and `ended` as the tab's recording proxy calls
them. Times are lower bounds only (a sleep never ends early): what is asserted is which
snapshot the wait returns, and that the window was waited out in full after the last change.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from crawler.browser import NetworkWatch
from tests.conftest import run_coroutine

WINDOW, CAP = 0.2, 5.0


class Snapshots:
    """A snapshot callable that numbers what it takes and notes when each was begun."""

    def __init__(self, watch: NetworkWatch, *, sets_off: int = 0, fails: bool = False,
                 seconds: float = 0.05) -> None:
        self.watch = watch
        self.seconds = seconds  # how long taking one lasts
        self.begun: list[float] = []
        self.sets_off = sets_off  # how many of the first snapshots set off a request
        self.fails = fails

    async def __call__(self) -> int:
        self.begun.append(time.monotonic())
        n = len(self.begun)
        if n <= self.sets_off:  # as a full-page capture setting off lazy loading
            self.watch.began("http://site.test/lazy.png")
        await asyncio.sleep(self.seconds)
        if n <= self.sets_off:
            self.watch.ended()
        if self.fails:
            raise RuntimeError("the page went away")
        return n


async def _settle() -> None:
    await asyncio.sleep(0)


async def _wait(watch: NetworkWatch, snapshots: Snapshots) -> tuple[bool, int | None, float]:
    start = time.monotonic()
    quiet, taken = await watch.quiet(WINDOW, CAP, _settle, None, snapshots)
    return quiet, taken, start


def test_a_page_at_rest_is_taken_once_early_and_the_window_still_waited_out():
    async def run():
        watch = NetworkWatch()
        watch.reset("http://site.test/")
        snapshots = Snapshots(watch)
        quiet, taken, start = await _wait(watch, snapshots)
        return quiet, taken, start, snapshots, time.monotonic()
    quiet, taken, start, snapshots, end = run_coroutine(run())
    assert quiet and taken == 1
    assert len(snapshots.begun) == 1
    assert snapshots.begun[0] - start >= WINDOW / 4  # at rest a quarter of the window first
    assert end - start >= WINDOW  # and kept only once the whole window passed at rest


# a snapshot shorter than the window, the request within the window; a snapshot that outlasts
# the window (a full-page capture of a long page), the request after the window's end
@pytest.mark.parametrize(("snapshot_s", "request_at"), [(0.05, 0.1), (0.3, 0.25)])
def test_a_request_after_the_snapshot_began_makes_the_wait_take_it_again(snapshot_s,
                                                                         request_at):
    async def run():
        watch = NetworkWatch()
        watch.reset("http://site.test/")
        snapshots = Snapshots(watch, seconds=snapshot_s)

        async def late_request() -> float:
            await asyncio.sleep(request_at)  # after the first snapshot began
            watch.began("http://site.test/api/late.json")
            await asyncio.sleep(0.05)
            watch.ended()
            return time.monotonic()
        (quiet, taken, start), ended = await asyncio.gather(_wait(watch, snapshots),
                                                            late_request())
        return quiet, taken, snapshots, ended, time.monotonic()
    quiet, taken, snapshots, ended, end = run_coroutine(run())
    assert quiet
    assert taken == 2  # the first snapshot was of the page before the late response
    assert snapshots.begun[1] >= ended  # the second was begun at rest after it
    assert end - ended >= WINDOW  # the window ran again from the last change


@pytest.mark.parametrize("snapshot_s", [0.05, 0.3])
def test_requests_the_snapshot_itself_sets_off_are_waited_for_and_it_is_taken_again(
        snapshot_s):
    async def run():
        watch = NetworkWatch()
        watch.reset("http://site.test/")
        snapshots = Snapshots(watch, sets_off=1, seconds=snapshot_s)
        quiet, taken, _start = await _wait(watch, snapshots)
        return quiet, taken, snapshots
    quiet, taken, snapshots = run_coroutine(run())
    assert quiet and taken == 2 and len(snapshots.begun) == 2


def test_a_network_never_quiet_takes_no_snapshot_and_gives_up_at_the_cap():
    async def run():
        watch = NetworkWatch()
        watch.reset("http://site.test/")
        watch.began("http://site.test/stream")  # never ends
        snapshots = Snapshots(watch)
        quiet, taken = await watch.quiet(WINDOW, 0.5, _settle, None, snapshots)
        return quiet, taken, snapshots
    quiet, taken, snapshots = run_coroutine(run())
    assert not quiet and taken is None and not snapshots.begun


def test_a_failed_early_snapshot_is_left_to_the_caller_to_take_again():
    async def run():
        watch = NetworkWatch()
        watch.reset("http://site.test/")
        return await watch.quiet(WINDOW, CAP, _settle, None, Snapshots(watch, fails=True))
    assert run_coroutine(run()) == (True, None)


def test_a_wait_given_up_cancels_the_snapshot_under_way():
    async def run():
        watch = NetworkWatch()
        watch.reset("http://site.test/")
        cancelled = asyncio.Event()

        async def slow_snapshot() -> int:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return 1
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(watch.quiet(WINDOW, CAP, _settle, None, slow_snapshot),
                                   0.15)
        await asyncio.sleep(0)
        return cancelled.is_set()
    assert run_coroutine(run())
