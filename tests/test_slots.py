"""SlotArray semantics, identical in both twins (``slots_mod``)."""

from __future__ import annotations

import os
import socket
import time
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redispool import _slots_py, slot_codes
from redispool._impl import NO_EXTENSIONS
from redispool.stats import WAIT_BUCKETS

if NO_EXTENSIONS:
    _slots_c: Any = None
else:
    from redispool import _slots_c

compiled = pytest.mark.skipif(NO_EXTENSIONS, reason="REDISPOOL_NO_EXTENSIONS is set")


class Conn:
    """A stand-in connection: the array never calls its connections."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def new(slots: Any, name: str) -> Conn:
    code, slot = slots.checkout()
    assert code == _slots_py.NEW
    conn = Conn(name)
    slots.fill(slot, conn)
    return conn


def _codes(module: ModuleType) -> dict[str, Any]:
    """A module's upper-case names: the checkout codes, release flags and socket codes."""
    return {name: value for name, value in vars(module).items() if name.isupper()}


def test_codes_are_plain_distinct_ints() -> None:
    codes = _codes(slot_codes)
    checkout = [codes.pop(name) for name in ("READY", "CHECK", "RENEW", "NEW", "FULL")]
    flags = [codes.pop(name) for name in ("RELEASED", "CLOSE", "WAITERS", "REAP", "FORKED")]
    sockets = [codes.pop(name) for name in ("NO_SOCKET", "OPAQUE_SOCKET", "DIRTY")]
    assert codes == {}
    assert all(type(code) is int for code in checkout + flags + sockets)  # no enum: hot paths
    assert len(set(checkout)) == len(checkout)
    assert all(flag > 0 and flag & (flag - 1) == 0 for flag in flags)  # one bit each
    assert len(set(flags)) == len(flags)
    assert all(code < 0 for code in sockets) and len(set(sockets)) == len(sockets)


@compiled
def test_compiled_codes_match_slot_codes() -> None:
    """The C enums (src_c/_slot_codes.pxd) that _slots_c exports are slot_codes' names
    with slot_codes' values, in both directions."""
    assert _codes(_slots_c) == _codes(slot_codes)


def test_capacity_must_be_positive(slots_mod: ModuleType) -> None:
    with pytest.raises(ValueError, match="capacity"):
        slots_mod.SlotArray(0)


def test_new_then_reuse(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2)
    assert slots.acquire() is None
    conn = new(slots, "a")
    assert (slots.size, slots.busy_count, slots.idle_count) == (1, 1, 0)
    assert slots.release(conn) == slots_mod.RELEASED
    assert slots.acquire() is conn
    assert slots.release(conn) == slots_mod.RELEASED
    stats = slots.stats()
    assert (stats.hits, stats.misses, stats.created, stats.idle, stats.in_use) == (1, 1, 1, 1, 0)


@pytest.mark.parametrize("fifo", [False, True])
def test_order(slots_mod: ModuleType, fifo: bool) -> None:
    slots = slots_mod.SlotArray(3, fifo=fifo)
    conns = [new(slots, name) for name in "abc"]
    for conn in conns:
        slots.release(conn)
    assert slots.idle_connections() == conns  # coldest first
    taken = [slots.acquire() for _ in conns]
    assert taken == (conns if fifo else conns[::-1])


def test_full_and_cancel(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2)
    new(slots, "a")
    code, slot = slots.checkout()
    assert code == slots_mod.NEW
    assert slots.checkout() == (slots_mod.FULL, None)
    slots.cancel(slot)
    with pytest.raises(ValueError, match="not reserved"):
        slots.cancel(slot)
    assert slots.checkout()[0] == slots_mod.NEW


def test_fill_rejects_bad_slot_and_duplicates(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(3)
    conn = new(slots, "a")
    with pytest.raises(ValueError, match="not reserved"):
        slots.fill(0, Conn("b"))
    _, slot = slots.checkout()
    with pytest.raises(ValueError, match="already"):
        slots.fill(slot, conn)


def test_foreign_and_double_release(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2)
    conn = new(slots, "a")
    assert slots.release(Conn("foreign")) == 0
    assert slots.release(conn) == slots_mod.RELEASED
    assert slots.release(conn) == 0
    assert slots.in_use(conn) is False
    assert slots.acquire() is conn
    assert slots.in_use(conn) is True


def test_check_after(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2, check_after=0.0)
    conn = new(slots, "a")
    slots.release(conn)
    assert slots.acquire() is None  # idle at all: needs a peek, so the slow path
    assert slots.checkout() == (slots_mod.CHECK, conn)
    slots.release(conn)
    fresh = slots_mod.SlotArray(2, check_after=3600.0)
    conn = new(fresh, "b")
    fresh.release(conn)
    assert fresh.checkout() == (fresh_ready := slots_mod.READY, conn)
    assert fresh_ready == 0


def test_idle_timeout_renews(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2, idle_timeout=0.01)
    conn = new(slots, "a")
    slots.release(conn)
    time.sleep(0.02)
    assert slots.acquire() is None
    assert slots.checkout() == (slots_mod.RENEW, conn)
    assert slots.stats().stale_closed == 1


def test_max_lifetime(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2, max_lifetime=0.01)
    conn = new(slots, "a")
    time.sleep(0.02)
    assert slots.release(conn) & slots_mod.CLOSE
    assert slots.size == 0
    stats = slots.stats()
    assert (stats.closed, stats.stale_closed) == (1, 1)


def test_max_idle(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(3, max_idle=1)
    a, b = new(slots, "a"), new(slots, "b")
    assert slots.release(a) == slots_mod.RELEASED
    assert slots.release(b) == slots_mod.CLOSE
    assert slots.idle_connections() == [a]


def test_reap_keeps_min_idle(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(4, idle_timeout=0.01, min_idle=1)
    conns = [new(slots, name) for name in "abc"]
    for conn in conns:
        slots.release(conn)
    time.sleep(0.02)
    hot = slots.acquire() or slots.checkout()[1]
    assert slots.release(hot) & slots_mod.REAP
    reaped = slots.reap()
    assert reaped == conns[:2]  # coldest first; the hot one stays
    assert slots.idle_connections() == [hot]
    assert slots.reap() == []


def test_remove(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(4)
    a, b, c = (new(slots, name) for name in "abc")
    slots.release(a)
    slots.release(b)
    assert slots.remove(a) is True  # idle
    assert slots.remove(c) is True  # in use
    assert slots.remove(c) is False
    assert slots.idle_connections() == [b]
    assert slots.busy_connections() == []
    assert (slots.size, slots.stats().closed) == (1, 2)


def test_waiters_flag_and_wait_stats(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(1)
    conn = new(slots, "a")
    slots.wait_begin()
    assert slots.waiters == 1
    assert slots.release(conn) == slots_mod.RELEASED | slots_mod.WAITERS
    slots.wait_end(0.25, False)
    slots.wait_begin()
    slots.wait_end(0.5, True)
    stats = slots.stats()
    assert (stats.waits, stats.timeouts, stats.wait_time, stats.max_wait_time) == (2, 1, 0.75, 0.5)
    assert slots.waiters == 0


def test_wait_histogram(slots_mod: ModuleType) -> None:
    """Each wait counts in the first bucket whose bound is >= it (a bound itself is in its
    own bucket), else in the last; timed-out waits too; counts are per bucket."""
    bounds = WAIT_BUCKETS
    waits = [0.0, bounds[0], bounds[0] * 1.01, bounds[3], bounds[-1], bounds[-1] * 2, 1e9]
    slots = slots_mod.SlotArray(1)
    for i, waited in enumerate(waits):
        slots.wait_begin()
        slots.wait_end(waited, i % 2 == 1)
    stats = slots.stats()
    expected = [0] * (len(bounds) + 1)
    for i in (0, 0, 1, 3, len(bounds) - 1, len(bounds), len(bounds)):
        expected[i] += 1
    assert stats.wait_buckets == tuple(expected)
    assert sum(stats.wait_buckets) == stats.waits == len(waits)
    assert stats.timeouts == 3


def test_no_wait_no_bucket(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2)
    conn = new(slots, "a")
    slots.release(conn)
    assert slots.acquire() is conn
    stats = slots.stats()
    assert stats.waits == 0
    assert stats.wait_buckets == (0,) * (len(WAIT_BUCKETS) + 1)


def test_max_in_use(slots_mod: ModuleType) -> None:
    """The high-water mark of in_use, reached through fill, checkout and acquire alike;
    closing connections and clear() do not lower it."""
    slots = slots_mod.SlotArray(8, check_after=3600.0)
    a, b = new(slots, "a"), new(slots, "b")
    assert slots.stats().max_in_use == 2
    slots.release(a)
    slots.release(b)
    assert slots.stats()[-2:] == (2, (0,) * (len(WAIT_BUCKETS) + 1))
    c = Conn("c")  # made elsewhere while two are idle, then all three lent at once
    slot = slots.reserve()
    slots.fill(slot, c)
    assert slots.stats().max_in_use == 2
    assert slots.acquire() is b
    assert slots.stats().max_in_use == 2
    assert slots.checkout() == (slots_mod.READY, a)
    assert (slots.stats().in_use, slots.stats().max_in_use) == (3, 3)
    for conn in (a, b, c):
        slots.release(conn)
    assert slots.remove(a) and slots.remove(b)
    assert (slots.stats().in_use, slots.stats().max_in_use) == (0, 3)
    slots.clear()
    assert slots.stats().max_in_use == 3
    conns = [new(slots, str(i)) for i in range(4)]
    assert slots.stats().max_in_use == 4
    for conn in conns:
        slots.release(conn)
    assert [slots.acquire() for _ in range(4)] == conns[::-1]
    assert slots.stats().max_in_use == 4


def test_clear_keeps_counters(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(4)
    a, b = new(slots, "a"), new(slots, "b")
    slots.release(a)
    assert set(map(repr, slots.clear())) == {"a", "b"}
    assert (slots.size, slots.idle_count, slots.busy_count) == (0, 0, 0)
    assert slots.acquire() is None
    assert slots.release(b) == 0
    assert (slots.stats().created, slots.stats().closed) == (2, 2)  # forgotten = closed
    assert new(slots, "c").name == "c"


def test_grows_to_capacity(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(1000)
    conns = [new(slots, str(i)) for i in range(1000)]
    assert slots.checkout() == (slots_mod.FULL, None)
    for conn in conns:
        assert slots.release(conn) == slots_mod.RELEASED
    for conn in conns[::2]:
        assert slots.remove(conn)
    assert slots.idle_connections() == conns[1::2]
    assert all(slots.release(c) == 0 for c in conns)


def test_fork_child_starts_empty(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2)
    conn = new(slots, "a")
    slots.release(conn)
    pid = os.fork()
    if pid == 0:  # child: report through the exit status
        ok = slots.forked and slots.acquire() is None and slots.release(conn) == slots_mod.FORKED
        slots.clear()
        ok = ok and not slots.forked and slots.checkout()[0] == slots_mod.NEW
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not slots.forked
    assert slots.acquire() is conn


# ---- the twins agree on any sequence of operations ------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                *("checkout", "fill", "cancel", "release", "remove", "acquire", "clear"),
                *("reserve", "wait", "reap"),
            ]
        ),
        st.integers(0, 7),
    ),
    max_size=120,
)


def _run(module: ModuleType, ops: list[tuple[str, int]], fifo: bool) -> list[Any]:
    slots = module.SlotArray(5, fifo=fifo, check_after=3600.0, max_idle=4)
    conns = [Conn(str(i)) for i in range(8)]
    reserved: list[int] = []
    out: list[Any] = []
    most = 0
    for op, arg in ops:
        try:
            if op == "checkout":
                code, item = slots.checkout()
                if code == module.NEW:
                    reserved.append(item)
                out.append((code, repr(item)))
            elif op == "fill" and reserved:
                out.append(slots.fill(reserved.pop(), conns[arg]))
            elif op == "cancel" and reserved:
                out.append(slots.cancel(reserved.pop(0)))
            elif op == "release":
                out.append(slots.release(conns[arg]))
            elif op == "remove":
                out.append(slots.remove(conns[arg]))
            elif op == "acquire":
                out.append(repr(slots.acquire()))
            elif op == "clear":
                reserved.clear()
                out.append(sorted(map(repr, slots.clear())))
            elif op == "reserve":
                slot = slots.reserve()
                if slot >= 0:
                    reserved.append(slot)
                out.append(slot)
            elif op == "wait":  # a wait of 10 ** -arg seconds (buckets 0 to 10, and 11)
                slots.wait_begin()
                out.append(slots.wait_end(10.0 ** (2 - arg * 1.5), arg % 3 == 0))
            elif op == "reap":
                out.append(list(map(repr, slots.reap())))
        except ValueError as exc:
            out.append(("ValueError", str(exc)))
        idle = list(map(repr, slots.idle_connections()))
        busy = sorted(map(repr, slots.busy_connections()))
        most = max(most, len(busy))
        out.append((idle, busy))
    stats = slots.stats()._replace(wait_time=0.0, max_wait_time=0.0)
    assert stats.max_in_use == most  # in use changes only within an operation
    out.append((stats, slots.size))
    return out


@compiled
@given(ops=OPS, fifo=st.booleans())
def test_twins_agree(ops: list[tuple[str, int]], fifo: bool) -> None:
    assert _run(_slots_c, ops, fifo) == _run(_slots_py, ops, fifo)


def test_reserve_never_takes_an_idle_slot(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2)
    a = new(slots, "a")
    slots.release(a)
    slot = slots.reserve()
    assert slot >= 0
    b = Conn("b")
    slots.fill(slot, b)
    assert slots.idle_connections() == [a] and slots.busy_connections() == [b]
    assert slots.reserve() == -1
    assert slots.stats().misses == 1  # reserve() is not a checkout


def test_renew(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(2, max_lifetime=0.01)
    conn = new(slots, "a")
    assert slots.renew(conn) is False
    time.sleep(0.02)
    assert slots.renew(conn) is True
    assert slots.renew(conn) is False  # its age restarted
    assert slots.stats().stale_closed == 1
    assert slots.stats().hits == 3  # each a connection handed over: a checkout, a hit
    other = slots_mod.SlotArray(2)
    assert other.renew(conn) is False
    assert other.stats().hits == 0  # not its connection


def test_fork_forgets_the_parents_waiters(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(1)
    conn = new(slots, "a")
    slots.wait_begin()  # a parent thread waits across the fork
    pid = os.fork()
    if pid == 0:
        slots.clear()
        fresh = new(slots, "b")
        ok = slots.waiters == 0 and slots.release(fresh) == slots_mod.RELEASED
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    slots.wait_end(0.0, False)
    assert slots.release(conn) == slots_mod.RELEASED


# ---- the socket poll and the idle gauges (issue 11, points 2 and 10) ----------------------


def test_acquire_polls_the_released_socket(slots_mod: ModuleType) -> None:
    mine, peer = socket.socketpair()
    try:
        slots = slots_mod.SlotArray(2, check_after=0.0)
        conn = new(slots, "a")
        slots.release(conn, mine.fileno())
        assert slots.acquire() is conn  # nothing pending: lent without a closer look
        slots.release(conn, mine.fileno())
        peer.sendall(b"+stale\r\n")
        assert slots.acquire() is None  # bytes pending: checkout() says CHECK
        assert slots.checkout() == (slots_mod.CHECK, conn)
        mine.recv(64)
        slots.release(conn, mine.fileno())
        peer.close()  # EOF is pending too
        assert slots.acquire() is None
        assert slots.checkout() == (slots_mod.CHECK, conn)
    finally:
        mine.close()
        peer.close()


def test_acquire_within_check_after_skips_the_poll(slots_mod: ModuleType) -> None:
    mine, peer = socket.socketpair()
    try:
        slots = slots_mod.SlotArray(2, check_after=3600.0)
        conn = new(slots, "a")
        peer.sendall(b"x")
        slots.release(conn, mine.fileno())
        assert slots.acquire() is conn  # the opt-in: no look within check_after
    finally:
        mine.close()
        peer.close()


def test_opaque_and_closed_sockets(slots_mod: ModuleType) -> None:
    slots = slots_mod.SlotArray(3, check_after=0.0)
    opaque, closed = new(slots, "o"), new(slots, "c")
    slots.release(opaque, slots_mod.OPAQUE_SOCKET)
    assert slots.acquire() is None  # cannot be polled: the caller looks
    assert slots.checkout() == (slots_mod.CHECK, opaque)
    slots.release(opaque)  # the default is OPAQUE_SOCKET
    slots.release(closed, slots_mod.NO_SOCKET)
    stats = slots.stats()
    assert (stats.idle, stats.idle_closed) == (1, 1)
    assert slots.acquire() is closed  # closed: lent as is, the caller connects it
    slots.release(closed, 7)
    slots.note_closed(closed)
    slots.note_closed(opaque)
    stats = slots.stats()
    assert (stats.idle, stats.idle_closed, stats.in_use) == (0, 2, 0)
