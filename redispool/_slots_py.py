"""Pure-Python twin of ``redispool._slots_c``: the pool's slot array.

A slot holds one connection, its state, when it was created and when it was last
released. Idle slots sit in a deque: checkouts take the warm end (LIFO) or the cold end
(``fifo=True``); ``idle_timeout`` reaps from the cold end. Every method is one critical
section under ``self._lock``; the compiled twin needs no lock under the GIL.
"""

from __future__ import annotations

import importlib.util
import os
import select
import threading
import weakref
from bisect import bisect_left
from collections import deque
from time import monotonic
from typing import Any

from .slot_codes import (
    CHECK,
    CLOSE,
    FORKED,
    FULL,
    NEW,
    NO_SOCKET,
    OPAQUE_SOCKET,
    READY,
    REAP,
    RELEASED,
    RENEW,
    WAITERS,
)
from .stats import WAIT_BUCKETS, PoolStats

# slot states, private to this twin (the compiled one has its own)
_EMPTY, _RESERVED, _IDLE, _BUSY = 0, 1, 2, 3


def _unpatched_select() -> Any:
    """A fresh copy of the ``select`` module: gevent and eventlet monkey-patching replace
    its functions with ones that yield to their hub, which must not happen while the
    array's lock is held (the compiled twin polls in C, never patched)."""
    spec = importlib.util.find_spec("select")
    if spec is None or spec.loader is None:
        return select
    try:
        fresh = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fresh)
    except Exception:  # an interpreter whose select cannot be loaded twice
        return select
    return fresh


_select = _unpatched_select()


def _pending(fd: int) -> bool:
    """Whether a socket has anything to report (bytes, EOF, an error, a stale
    descriptor): one non-blocking poll."""
    try:
        if hasattr(_select, "poll"):
            poller = _select.poll()
            poller.register(fd, _select.POLLIN)
            return bool(poller.poll(0))
        return bool(_select.select([fd], [], [fd], 0)[0])
    except (OSError, ValueError):
        return True


_generation = [0]
_arrays: weakref.WeakSet[SlotArray] = weakref.WeakSet()


def _bump_generation() -> None:
    """In a forked child: a new generation, and a new lock for every array, as a parent's
    thread may have held one at the fork and will never release it here."""
    _generation[0] += 1
    for array in list(_arrays):
        array._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_bump_generation)


class SlotArray:
    """Up to ``capacity`` connections; the bookkeeping behind ``ConnectionPool``.

    Times are seconds on the monotonic clock; a limit of 0 disables it. Connections are
    opaque: the array never calls them, so a slow or failing connection cannot stall it.
    """

    def __init__(
        self,
        capacity: int,
        *,
        fifo: bool = False,
        check_after: float = 1.0,
        idle_timeout: float = 0.0,
        max_lifetime: float = 0.0,
        max_idle: int = 0,
        min_idle: int = 0,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._lock = threading.Lock()
        _arrays.add(self)
        self._capacity = capacity
        self._fifo = bool(fifo)
        self._check_after = float(check_after)
        self._idle_timeout = float(idle_timeout)
        self._max_lifetime = float(max_lifetime)
        self._max_idle = max_idle if max_idle > 0 else capacity
        self._min_idle = max(0, min_idle)
        self._generation = _generation[0]
        self._conns: list[Any] = []
        self._state: list[int] = []
        self._created_at: list[float] = []
        self._last_used: list[float] = []
        self._fds: list[int] = []
        self._free: list[int] = []  # empty slot indices
        self._idle: deque[int] = deque()  # right end is the warm end
        self._slot_of: dict[int, int] = {}  # id(conn) -> slot
        self._occupied = 0
        self._busy = 0
        self._max_busy = 0  # the high-water mark of ``_busy``
        self._waiters = 0
        self._hits = self._misses = self._waits = self._timeouts = 0
        self._created = self._closed = self._stale_closed = self._dirty_closed = 0
        self._wait_time = self._max_wait_time = 0.0
        self._wait_buckets = [0] * (len(WAIT_BUCKETS) + 1)

    # ---- configuration and gauges -------------------------------------------------
    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def fifo(self) -> bool:
        return self._fifo

    @property
    def forked(self) -> bool:
        """True in a child process until the array is cleared."""
        return self._generation != _generation[0]

    @property
    def size(self) -> int:
        """Occupied slots: idle, in use, and reserved for a connection being made."""
        return self._occupied

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def busy_count(self) -> int:
        return self._busy

    # ---- hot path -----------------------------------------------------------------
    def acquire(self) -> Any:
        """The next idle connection if its socket has nothing pending (one non-blocking
        poll; none for a connection used within ``check_after``), else None (use
        ``checkout``). A connection released with ``NO_SOCKET`` is handed out as it is:
        the caller connects it."""
        if self._generation != _generation[0]:  # forked: the lock may be held for good
            return None
        with self._lock:
            idle = self._idle
            if not idle:
                return None
            slot = idle[0] if self._fifo else idle[-1]
            now = monotonic()
            age = now - self._last_used[slot]
            if (self._max_lifetime and now - self._created_at[slot] >= self._max_lifetime) or (
                self._idle_timeout and age >= self._idle_timeout
            ):
                return None  # checkout() renews it
            if age >= self._check_after and self._suspect(slot):
                return None
            if self._fifo:
                idle.popleft()
            else:
                idle.pop()
            self._state[slot] = _BUSY
            self._busy += 1
            if self._busy > self._max_busy:
                self._max_busy = self._busy
            self._hits += 1
            return self._conns[slot]

    def release(self, conn: Any, fd: int = OPAQUE_SOCKET) -> int:
        """Return a checked-out connection; the result is a set of the release flags
        (``redispool.slot_codes``). ``fd`` is its open socket's descriptor, ``NO_SOCKET``
        if it is closed, or ``OPAQUE_SOCKET`` if it is open but cannot be polled."""
        if self._generation != _generation[0]:  # forked: the lock may be held for good
            return FORKED
        with self._lock:
            slot = self._slot_of.get(id(conn), -1)
            if slot < 0 or self._state[slot] != _BUSY or self._conns[slot] is not conn:
                return 0
            self._busy -= 1
            now = monotonic()
            if len(self._idle) >= self._max_idle or (
                self._max_lifetime and now - self._created_at[slot] >= self._max_lifetime
            ):
                self._drop(slot)
                self._stale_closed += 1
                flags = CLOSE
            else:
                self._state[slot] = _IDLE
                self._last_used[slot] = now
                self._fds[slot] = fd
                self._idle.append(slot)
                flags = RELEASED
            if self._waiters:
                flags |= WAITERS
            if self._reap_due(now):
                flags |= REAP
            return flags

    # ---- slow path ----------------------------------------------------------------
    def checkout(self) -> tuple[int, Any]:
        """``(code, connection)`` for READY/CHECK/RENEW, ``(NEW, slot)``, ``(FULL, None)``."""
        with self._lock:
            idle = self._idle
            if idle:
                slot = idle.popleft() if self._fifo else idle.pop()
                self._state[slot] = _BUSY
                self._busy += 1
                if self._busy > self._max_busy:
                    self._max_busy = self._busy
                self._hits += 1
                now = monotonic()
                age = now - self._last_used[slot]
                if (self._max_lifetime and now - self._created_at[slot] >= self._max_lifetime) or (
                    self._idle_timeout and age >= self._idle_timeout
                ):
                    code = RENEW
                    self._created_at[slot] = now
                    self._stale_closed += 1
                else:
                    code = CHECK if age >= self._check_after and self._suspect(slot) else READY
                return code, self._conns[slot]
            if self._occupied >= self._capacity:
                return FULL, None
            self._misses += 1
            return NEW, self._reserve()

    def in_use(self, conn: Any) -> bool:
        """Whether ``conn`` is checked out from this array."""
        with self._lock:
            slot = self._slot_of.get(id(conn), -1)
            return slot >= 0 and self._state[slot] == _BUSY and self._conns[slot] is conn

    def reserve(self) -> int:
        """Reserve an empty slot for a connection made elsewhere (``fill`` it next);
        -1 when the array is full. Unlike ``checkout`` it never takes an idle one."""
        with self._lock:
            if self._occupied >= self._capacity:
                return -1
            return self._reserve()

    def renew(self, conn: Any) -> bool:
        """For a connection handed from one user to the next without going idle: that
        checkout counts as a hit, and the answer is True (and its age restarts) if it is
        past ``max_lifetime`` and must be reconnected."""
        with self._lock:
            slot = self._slot_of.get(id(conn), -1)
            if slot < 0:
                return False
            self._hits += 1
            if not self._max_lifetime:
                return False
            now = monotonic()
            if now - self._created_at[slot] < self._max_lifetime:
                return False
            self._created_at[slot] = now
            self._stale_closed += 1
            return True

    def fill(self, slot: int, conn: Any) -> None:
        """Put a newly made connection into the slot ``checkout`` reserved; it is in use."""
        with self._lock:
            if not 0 <= slot < len(self._state) or self._state[slot] != _RESERVED:
                raise ValueError(f"slot {slot} is not reserved")
            if id(conn) in self._slot_of:
                raise ValueError("connection is already in the array")
            now = monotonic()
            self._conns[slot] = conn
            self._state[slot] = _BUSY
            self._created_at[slot] = self._last_used[slot] = now
            self._slot_of[id(conn)] = slot
            self._busy += 1
            if self._busy > self._max_busy:
                self._max_busy = self._busy
            self._created += 1

    def cancel(self, slot: int) -> None:
        """Give back a reserved slot whose connection could not be made."""
        with self._lock:
            if not 0 <= slot < len(self._state) or self._state[slot] != _RESERVED:
                raise ValueError(f"slot {slot} is not reserved")
            self._state[slot] = _EMPTY
            self._free.append(slot)
            self._occupied -= 1

    def remove(self, conn: Any) -> bool:
        """Take a connection (idle or in use) out of the array, freeing its slot."""
        with self._lock:
            slot = self._slot_of.get(id(conn), -1)
            if slot < 0 or self._conns[slot] is not conn:
                return False
            if self._state[slot] == _IDLE:
                self._idle.remove(slot)
            else:
                self._busy -= 1
            self._drop(slot)
            return True

    def reap(self) -> list[Any]:
        """Remove idle connections past ``idle_timeout`` (keeping ``min_idle``) or past
        ``max_lifetime``, coldest first; the caller disconnects them."""
        with self._lock:
            out: list[Any] = []
            now = monotonic()
            while self._idle and self._reap_due(now):
                slot = self._idle.popleft()
                out.append(self._conns[slot])
                self._drop(slot)
                self._stale_closed += 1
            return out

    def idle_connections(self) -> list[Any]:
        """Idle connections, coldest first."""
        with self._lock:
            return [self._conns[slot] for slot in self._idle]

    def busy_connections(self) -> list[Any]:
        with self._lock:
            return [c for c, s in zip(self._conns, self._state, strict=True) if s == _BUSY]

    def note_closed(self, conn: Any) -> None:
        """An idle connection's socket was closed outside ``release`` (``disconnect()``)."""
        with self._lock:
            slot = self._slot_of.get(id(conn), -1)
            if slot >= 0 and self._state[slot] == _IDLE and self._conns[slot] is conn:
                self._fds[slot] = NO_SOCKET

    def clear(self) -> list[Any]:
        """Forget every connection (``reset()``, or after a fork); counters are kept, and
        the forgotten ones count as closed. Returns them; the caller decides their fate."""
        if self._generation != _generation[0]:  # forked: the parent's waiters are not here
            self._waiters = 0
        with self._lock:
            out = [c for c, s in zip(self._conns, self._state, strict=True) if s in (_IDLE, _BUSY)]
            self._conns.clear()
            self._state.clear()
            self._created_at.clear()
            self._last_used.clear()
            self._fds.clear()
            self._free.clear()
            self._idle.clear()
            self._slot_of.clear()
            self._occupied = self._busy = 0
            self._closed += len(out)  # forgotten: gone from the pool, for the stats' balance
            self._generation = _generation[0]
            return out

    # ---- waiting and counters -----------------------------------------------------
    def wait_begin(self) -> None:
        """Announce a waiter; from now on ``release`` returns the WAITERS flag."""
        with self._lock:
            self._waiters += 1
            self._waits += 1

    def wait_end(self, waited: float, timed_out: bool) -> None:
        """The waiter announced by ``wait_begin`` stopped waiting. An exception delivered
        while this takes the lock (a ``gevent.Timeout``, ``KeyboardInterrupt``) is raised
        after the count is settled, so that no waiter is counted forever."""
        pending: BaseException | None = None
        while True:
            try:
                self._lock.acquire()
                break
            except BaseException as exc:  # the lock was not taken: take it, then raise
                pending = exc
        try:
            self._waiters -= 1
            self._wait_time += waited
            self._wait_buckets[bisect_left(WAIT_BUCKETS, waited)] += 1
            if waited > self._max_wait_time:
                self._max_wait_time = waited
            if timed_out:
                self._timeouts += 1
        finally:
            self._lock.release()
        if pending is not None:
            raise pending

    @property
    def waiters(self) -> int:
        return self._waiters

    def note_dirty(self) -> None:
        """Count a disconnect of a connection released with a reply possibly unread."""
        with self._lock:
            self._dirty_closed += 1

    def stats(self) -> PoolStats:
        with self._lock:
            closed_idle = sum(1 for slot in self._idle if self._fds[slot] == NO_SOCKET)
            return PoolStats(
                hits=self._hits,
                misses=self._misses,
                waits=self._waits,
                wait_time=self._wait_time,
                max_wait_time=self._max_wait_time,
                timeouts=self._timeouts,
                created=self._created,
                closed=self._closed,
                stale_closed=self._stale_closed,
                dirty_closed=self._dirty_closed,
                idle=len(self._idle) - closed_idle,
                idle_closed=closed_idle,
                in_use=self._busy,
                max=self._capacity,
                max_in_use=self._max_busy,
                wait_buckets=tuple(self._wait_buckets),
            )

    # ---- internals (called with the lock held) -------------------------------------
    def _reserve(self) -> int:
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._conns)
            self._conns.append(None)
            self._state.append(_EMPTY)
            self._created_at.append(0.0)
            self._last_used.append(0.0)
            self._fds.append(NO_SOCKET)
        self._state[slot] = _RESERVED
        self._occupied += 1
        return slot

    def _drop(self, slot: int) -> None:
        del self._slot_of[id(self._conns[slot])]
        self._conns[slot] = None
        self._state[slot] = _EMPTY
        self._free.append(slot)
        self._occupied -= 1
        self._closed += 1

    def _suspect(self, slot: int) -> bool:
        """Whether an idle connection needs a closer look before it is lent: its socket
        has something pending or cannot be polled."""
        fd = self._fds[slot]
        if fd == NO_SOCKET:
            return False  # closed: the caller connects it anyway
        return fd < 0 or _pending(fd)

    def _reap_due(self, now: float) -> bool:
        if not self._idle:
            return False
        cold = self._idle[0]
        if self._max_lifetime and now - self._created_at[cold] >= self._max_lifetime:
            return True
        return bool(
            self._idle_timeout
            and len(self._idle) > self._min_idle
            and now - self._last_used[cold] >= self._idle_timeout
        )
