"""Waiter objects for the blocking pools: a FIFO queue of waiters, each of which either
accepts what it is offered or refuses it, so that nothing offered is ever lost.

A waiter is offered an item and accepts it only if it is still waiting. The asyncio pool
offers what a checkout returns, already taken out of the slot array for the waiter
(``(code, item)``: a connection or a free slot). The sync pool offers ``None``, a wake-up
to check out again: handing a connection to a blocked thread forces a thread switch on
every release under contention (measured: 8 threads sharing 4 connections, one PING each,
73 instead of 57 µs per command), where a woken thread that loses the race to a running
one keeps its place in the queue (``join(first=True)``). A waiter that gives
up (a timeout, a cancellation, any exception, at any point) withdraws, and learns whether
an offer got there first: the caller then passes that item on instead of losing it.

Sync waiters block on a lock of their own, taken from ``threading`` when the waiter is
made: under gevent or eventlet monkey-patching that lock is the library's, so waiting is
cooperative. No lock is held while waiting and no shared lock is ever re-acquired after
a wait (``threading.Condition`` re-acquires its lock in a ``finally``, and an exception
delivered there, such as a ``gevent.Timeout``, leaves the lock released twice). Accepting
and withdrawing race without a lock: each side appends its token to the waiter's box, an
atomic list append, and whichever token comes first wins.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from contextlib import suppress
from typing import Any, Protocol

_GONE = ("gone",)  # a withdrawal's token (offers are 1-tuples of their own)


class _Waiter(Protocol):
    def offer(self, item: Any) -> bool: ...

    def withdraw(self) -> tuple[Any] | None: ...


class Waiter:
    """A thread (or green thread) waiting for an offer."""

    __slots__ = ("_box", "_lock")

    def __init__(self) -> None:
        self._box: list[tuple[Any]] = []
        self._lock = threading.Lock()
        self._lock.acquire()  # released by the offer that is accepted

    def offer(self, item: Any) -> bool:
        """Give ``item`` to this waiter; False if it has withdrawn or was served already."""
        entry = (item,)
        self._box.append(entry)
        if self._box[0] is not entry:
            return False
        self._lock.release()
        return True

    def wait(self, timeout: float | None) -> tuple[Any] | None:
        """Block until served (the offer, as a 1-tuple) or ``timeout`` seconds (None)."""
        if timeout is None:
            self._lock.acquire()
        elif not self._lock.acquire(True, timeout):
            return None
        return self._box[0]

    def withdraw(self) -> tuple[Any] | None:
        """Stop waiting; the offer this waiter accepted before it could withdraw, if any,
        as a 1-tuple (pass it on), else None. Idempotent."""
        self._box.append(_GONE)
        first = self._box[0]
        return None if first is _GONE else first


class AsyncWaiter:
    """A task waiting for an offer: a future of the running loop."""

    __slots__ = ("future",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.future: asyncio.Future[Any] = loop.create_future()

    def offer(self, item: Any) -> bool:
        if self.future.done():
            return False
        self.future.set_result(item)
        return True

    def withdraw(self) -> tuple[Any] | None:
        future = self.future
        if not future.done():
            future.cancel()
            return None
        if future.cancelled():
            return None
        return (future.result(),)


class WaitQueue(deque["_Waiter"]):
    """Waiters in arrival order; ``offer`` serves the longest waiting one that accepts.
    A deque itself, so that the pools' "anyone waiting?" on release costs no Python call."""

    __slots__ = ()

    def join(self, waiter: _Waiter, first: bool = False) -> None:
        """Queue ``waiter`` last, or first (a waiter that was served and must wait again
        keeps its place)."""
        if first:
            self.appendleft(waiter)
        else:
            self.append(waiter)

    def leave(self, waiter: _Waiter) -> tuple[Any] | None:
        """Withdraw ``waiter`` and take it out of the queue; returns what it was offered
        and accepted before it withdrew (the caller passes that on), as ``withdraw``."""
        got = waiter.withdraw()
        with suppress(ValueError):  # already taken out by an offer
            self.remove(waiter)
        return got

    def offer(self, item: Any) -> bool:
        """Offer ``item`` to waiters in order until one accepts; False if none did."""
        while True:
            try:
                waiter = self.popleft()
            except IndexError:
                return False
            if waiter.offer(item):
                return True

    def offer_all(self, item: Any) -> None:
        """Offer ``item`` to every waiter (wake them all)."""
        while self.offer(item):
            pass
