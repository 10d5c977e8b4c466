# cython: language_level=3, freethreading_compatible=True
"""Compiled twin of ``redispool._slots_py``: the pool's slot array.

Same API and results as the pure twin. State lives in C arrays (connection pointers,
slot states, socket descriptors, timestamps), the idle slots in a ring buffer and the
connection -> slot map in an open-addressing table keyed by object address, so ``acquire``
and ``release`` never call back into Python: under the GIL each method is atomic without a
lock. On free-threaded CPython every method runs in a critical section on the array. The
arrays grow by doubling up to ``capacity``, so a large ``max_connections`` costs nothing up
front. The references that keep the connections alive are held in a list the garbage
collector sees (the C pointers borrow from it), so a pool caught in a reference cycle is
collected like any Python object.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject

from _slot_codes cimport (
    C_CHECK,
    C_CLOSE,
    C_DIRTY,
    C_FORKED,
    C_FULL,
    C_NEW,
    C_NO_SOCKET,
    C_OPAQUE_SOCKET,
    C_READY,
    C_REAP,
    C_RELEASED,
    C_RENEW,
    C_WAITERS,
)

from redispool import stats as _stats
from redispool.stats import PoolStats

cdef extern from "_slots.h":
    double rp_monotonic() nogil
    unsigned long rp_fork_generation()
    int rp_install_fork_hook()
    int rp_socket_pending(int fd) nogil

cdef extern from *:
    """
    /* Store item at list[i] (in range); the old item's reference is dropped last. */
    static void rp_list_put(PyObject *list, Py_ssize_t i, PyObject *item) {
        PyObject *old = PyList_GET_ITEM(list, i);
        Py_INCREF(item);
        PyList_SET_ITEM(list, i, item);
        Py_XDECREF(old);
    }
    """
    void rp_list_put(list lst, Py_ssize_t i, object item)

if rp_install_fork_hook() != 0:
    raise ImportError("redispool._slots_c: pthread_atfork failed")

# redispool.slot_codes, as this module's attributes (tests/test_slots.py compares them)
READY = C_READY
CHECK = C_CHECK
RENEW = C_RENEW
NEW = C_NEW
FULL = C_FULL
RELEASED = C_RELEASED
CLOSE = C_CLOSE
WAITERS = C_WAITERS
REAP = C_REAP
FORKED = C_FORKED
NO_SOCKET = C_NO_SOCKET
OPAQUE_SOCKET = C_OPAQUE_SOCKET
DIRTY = C_DIRTY

# the wait-time histogram's bounds (redispool.stats.WAIT_BUCKETS, read once here)
cdef enum:
    MAX_BUCKETS = 32

cdef double _wait_bounds[MAX_BUCKETS]
cdef Py_ssize_t _n_bounds = len(_stats.WAIT_BUCKETS)
if _n_bounds >= MAX_BUCKETS:
    raise ImportError(f"redispool._slots_c: at most {MAX_BUCKETS - 1} WAIT_BUCKETS")
for _i, _bound in enumerate(_stats.WAIT_BUCKETS):
    _wait_bounds[_i] = _bound
del _i, _bound

cdef enum:
    S_EMPTY = 0
    S_RESERVED = 1
    S_IDLE = 2
    S_BUSY = 3


cdef inline size_t _hash(PyObject *p) noexcept nogil:
    cdef size_t h = <size_t>p
    return (h >> 4) ^ (h >> 17)


@cython.final
cdef class SlotArray:
    """Up to ``capacity`` connections; the bookkeeping behind ``ConnectionPool``."""

    cdef list owned  # the references; conns[i] borrows owned[i]
    cdef PyObject **conns
    cdef int *fds
    cdef unsigned char *state
    cdef double *created_at
    cdef double *last_used
    cdef Py_ssize_t *empty
    cdef Py_ssize_t n_empty
    cdef Py_ssize_t *ring
    cdef Py_ssize_t ring_mask, head, n_idle
    cdef PyObject **hkeys
    cdef Py_ssize_t *hvals
    cdef Py_ssize_t hmask
    cdef Py_ssize_t alloc, cap, occupied, max_idle, min_idle, n_waiters
    # In use = live - n_idle, so the hot path keeps no count of its own. The high-water
    # mark of in use: max(max_busy, live - low), where ``low`` is the fewest idle
    # connections since ``live`` last changed (a slow path, which folds it into max_busy).
    cdef Py_ssize_t live, low, max_busy
    cdef bint is_fifo, ages  # ages: idle_timeout or max_lifetime is set
    cdef double check_after, idle_timeout, max_lifetime
    cdef unsigned long generation
    cdef unsigned long long hits, misses, waits, timeouts
    cdef unsigned long long created, closed, stale_closed, dirty_closed
    cdef double wait_time, max_wait_time
    cdef unsigned long long wait_buckets[MAX_BUCKETS]

    def __init__(
        self,
        Py_ssize_t capacity,
        *,
        bint fifo=False,
        double check_after=1.0,
        double idle_timeout=0.0,
        double max_lifetime=0.0,
        Py_ssize_t max_idle=0,
        Py_ssize_t min_idle=0,
    ):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if self.conns != NULL:
            raise TypeError("SlotArray is already initialised")
        self.cap = capacity
        self.is_fifo = fifo
        self.check_after = check_after
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.ages = idle_timeout > 0 or max_lifetime > 0
        self.max_idle = max_idle if max_idle > 0 else capacity
        self.min_idle = min_idle if min_idle > 0 else 0
        self.generation = rp_fork_generation()
        self.owned = []
        self._grow()

    def __dealloc__(self):
        PyMem_Free(self.conns)
        PyMem_Free(self.fds)
        PyMem_Free(self.state)
        PyMem_Free(self.created_at)
        PyMem_Free(self.last_used)
        PyMem_Free(self.empty)
        PyMem_Free(self.ring)
        PyMem_Free(self.hkeys)
        PyMem_Free(self.hvals)

    # ---- configuration and gauges -------------------------------------------------
    @property
    def capacity(self):
        return self.cap

    @property
    def fifo(self):
        return self.is_fifo

    @property
    def forked(self):
        """True in a child process until the array is cleared."""
        return self.generation != rp_fork_generation()

    @property
    def size(self):
        """Occupied slots: idle, in use, and reserved for a connection being made."""
        return self.occupied

    @property
    def idle_count(self):
        return self.n_idle

    @property
    def busy_count(self):
        return self.live - self.n_idle

    @property
    def waiters(self):
        return self.n_waiters

    # ---- hot path -----------------------------------------------------------------
    @cython.critical_section
    def acquire(self):
        """The next idle connection if its socket has nothing pending (one non-blocking
        peek; none for a connection used within ``check_after``), else None (use
        ``checkout``). A connection released with ``NO_SOCKET`` is handed out as it is:
        the caller connects it."""
        cdef Py_ssize_t slot
        cdef double now, age
        if self.n_idle == 0 or self.generation != rp_fork_generation():
            return None
        if self.is_fifo:
            slot = self.ring[self.head]
        else:
            slot = self.ring[(self.head + self.n_idle - 1) & self.ring_mask]
        now = rp_monotonic()
        age = now - self.last_used[slot]
        if self.ages and (
            (self.max_lifetime > 0 and now - self.created_at[slot] >= self.max_lifetime)
            or (self.idle_timeout > 0 and age >= self.idle_timeout)
        ):
            return None  # checkout() renews it
        if age >= self.check_after and self._suspect(slot):
            return None
        if self.is_fifo:
            self.head = (self.head + 1) & self.ring_mask
        self.n_idle -= 1
        if self.n_idle < self.low:
            self.low = self.n_idle
        self.state[slot] = S_BUSY
        self.hits += 1
        return <object>self.conns[slot]

    @cython.critical_section
    def release(self, conn, int fd=C_OPAQUE_SOCKET):
        """Return a checked-out connection; the result is a set of RELEASED/CLOSE/... flags.
        ``fd`` is its open socket's descriptor, ``NO_SOCKET`` if it is closed, or
        ``OPAQUE_SOCKET`` if it is open but cannot be polled."""
        cdef Py_ssize_t slot
        cdef double now
        cdef int flags
        if self.generation != rp_fork_generation():
            return C_FORKED
        slot = self._find(<PyObject *>conn)
        if slot < 0 or self.state[slot] != S_BUSY:
            return 0
        now = rp_monotonic()
        if self.n_idle >= self.max_idle or (
            self.max_lifetime > 0 and now - self.created_at[slot] >= self.max_lifetime
        ):
            self._drop(slot)
            self.stale_closed += 1
            flags = C_CLOSE
        else:
            self.state[slot] = S_IDLE
            self.last_used[slot] = now
            self.fds[slot] = fd
            self.ring[(self.head + self.n_idle) & self.ring_mask] = slot
            self.n_idle += 1
            flags = C_RELEASED
        if self.n_waiters:
            flags |= C_WAITERS
        if self._reap_due(now):
            flags |= C_REAP
        return flags

    # ---- slow path ----------------------------------------------------------------
    @cython.critical_section
    def checkout(self):
        """``(code, connection)`` for READY/CHECK/RENEW, ``(NEW, slot)``, ``(FULL, None)``."""
        cdef Py_ssize_t slot
        cdef double now, age
        cdef int code
        if self.n_idle:
            if self.is_fifo:
                slot = self.ring[self.head]
                self.head = (self.head + 1) & self.ring_mask
            else:
                slot = self.ring[(self.head + self.n_idle - 1) & self.ring_mask]
            self.n_idle -= 1
            if self.n_idle < self.low:
                self.low = self.n_idle
            self.state[slot] = S_BUSY
            self.hits += 1
            now = rp_monotonic()
            age = now - self.last_used[slot]
            if (self.max_lifetime > 0 and now - self.created_at[slot] >= self.max_lifetime) or (
                self.idle_timeout > 0 and age >= self.idle_timeout
            ):
                code = C_RENEW
                self.created_at[slot] = now
                self.stale_closed += 1
            else:
                code = C_CHECK if age >= self.check_after and self._suspect(slot) else C_READY
            return code, <object>self.conns[slot]
        if self.occupied >= self.cap:
            return C_FULL, None
        self.misses += 1
        return C_NEW, self._reserve()

    @cython.critical_section
    def reserve(self):
        """Reserve an empty slot for a connection made elsewhere (``fill`` it next);
        -1 when the array is full. Unlike ``checkout`` it never takes an idle one."""
        if self.occupied >= self.cap:
            return -1
        return self._reserve()

    @cython.critical_section
    def in_use(self, conn):
        """Whether ``conn`` is checked out from this array."""
        cdef Py_ssize_t slot = self._find(<PyObject *>conn)
        return slot >= 0 and self.state[slot] == S_BUSY

    @cython.critical_section
    def renew(self, conn):
        """For a connection handed from one user to the next without going idle: that
        checkout counts as a hit, and the answer is True (and its age restarts) if it is
        past ``max_lifetime`` and must be reconnected."""
        cdef Py_ssize_t slot = self._find(<PyObject *>conn)
        cdef double now
        if slot < 0:
            return False
        self.hits += 1
        if self.max_lifetime <= 0:
            return False
        now = rp_monotonic()
        if now - self.created_at[slot] < self.max_lifetime:
            return False
        self.created_at[slot] = now
        self.stale_closed += 1
        return True

    @cython.critical_section
    def fill(self, Py_ssize_t slot, conn):
        """Put a newly made connection into the slot ``checkout`` reserved; it is in use."""
        cdef double now
        if slot < 0 or slot >= self.alloc or self.state[slot] != S_RESERVED:
            raise ValueError(f"slot {slot} is not reserved")
        if self._find(<PyObject *>conn) >= 0:
            raise ValueError("connection is already in the array")
        now = rp_monotonic()
        rp_list_put(self.owned, slot, conn)
        self.conns[slot] = <PyObject *>conn
        self.state[slot] = S_BUSY
        self.created_at[slot] = now
        self.last_used[slot] = now
        self._insert(<PyObject *>conn, slot)
        self._live_changes(1)
        self.created += 1

    @cython.critical_section
    def cancel(self, Py_ssize_t slot):
        """Give back a reserved slot whose connection could not be made."""
        if slot < 0 or slot >= self.alloc or self.state[slot] != S_RESERVED:
            raise ValueError(f"slot {slot} is not reserved")
        self.state[slot] = S_EMPTY
        self.empty[self.n_empty] = slot
        self.n_empty += 1
        self.occupied -= 1

    @cython.critical_section
    def remove(self, conn):
        """Take a connection (idle or in use) out of the array, freeing its slot."""
        cdef Py_ssize_t slot = self._find(<PyObject *>conn)
        cdef Py_ssize_t i = 0, pos
        if slot < 0:
            return False
        if self.state[slot] == S_IDLE:
            while self.ring[(self.head + i) & self.ring_mask] != slot:
                i += 1
            for pos in range(i, self.n_idle - 1):
                self.ring[(self.head + pos) & self.ring_mask] = self.ring[
                    (self.head + pos + 1) & self.ring_mask
                ]
            self.n_idle -= 1
        self._drop(slot)
        return True

    @cython.critical_section
    def reap(self):
        """Remove idle connections past ``idle_timeout`` (keeping ``min_idle``) or past
        ``max_lifetime``, coldest first; the caller disconnects them."""
        cdef list out = []
        cdef double now = rp_monotonic()
        cdef Py_ssize_t slot
        while self.n_idle and self._reap_due(now):
            slot = self.ring[self.head]
            self.head = (self.head + 1) & self.ring_mask
            self.n_idle -= 1
            out.append(<object>self.conns[slot])
            self._drop(slot)
            self.stale_closed += 1
        return out

    @cython.critical_section
    def idle_connections(self):
        """Idle connections, coldest first."""
        cdef Py_ssize_t i
        return [
            <object>self.conns[self.ring[(self.head + i) & self.ring_mask]]
            for i in range(self.n_idle)
        ]

    @cython.critical_section
    def busy_connections(self):
        cdef Py_ssize_t i
        return [<object>self.conns[i] for i in range(self.alloc) if self.state[i] == S_BUSY]

    @cython.critical_section
    def note_closed(self, conn):
        """An idle connection's socket was closed outside ``release`` (``disconnect()``)."""
        cdef Py_ssize_t slot = self._find(<PyObject *>conn)
        if slot >= 0 and self.state[slot] == S_IDLE:
            self.fds[slot] = C_NO_SOCKET

    @cython.critical_section
    def clear(self):
        """Forget every connection (``reset()``, or after a fork); counters are kept, and
        the forgotten ones count as closed. Returns them; the caller decides their fate."""
        cdef list out = []
        cdef Py_ssize_t i
        for i in range(self.alloc):
            if self.state[i] == S_IDLE or self.state[i] == S_BUSY:
                out.append(<object>self.conns[i])
        for i in range(self.alloc):
            self.conns[i] = NULL
            self.state[i] = S_EMPTY
            self.empty[i] = self.alloc - 1 - i
        for i in range(self.hmask + 1):
            self.hkeys[i] = NULL
        self.n_empty = self.alloc
        self.head = self.n_idle = 0
        self.occupied = 0
        self._live_changes(-self.live)  # n_idle is 0: low restarts at 0
        self.owned[:] = [None] * self.alloc
        self.closed += len(out)  # forgotten: gone from the pool, for the stats' balance
        if self.generation != rp_fork_generation():  # the parent's waiters are not here
            self.n_waiters = 0
        self.generation = rp_fork_generation()
        return out

    # ---- waiting and counters -----------------------------------------------------
    @cython.critical_section
    def wait_begin(self):
        """Announce a waiter; from now on ``release`` returns the WAITERS flag."""
        self.n_waiters += 1
        self.waits += 1

    @cython.critical_section
    def wait_end(self, double waited, bint timed_out):
        cdef Py_ssize_t i = 0
        self.n_waiters -= 1
        self.wait_time += waited
        while i < _n_bounds and waited > _wait_bounds[i]:  # the bucket: the first bound >=
            i += 1
        self.wait_buckets[i] += 1
        if waited > self.max_wait_time:
            self.max_wait_time = waited
        if timed_out:
            self.timeouts += 1

    @cython.critical_section
    def note_dirty(self):
        """Count a disconnect of a connection released with a reply possibly unread."""
        self.dirty_closed += 1

    @cython.critical_section
    def stats(self):
        cdef Py_ssize_t i, closed_idle = 0
        for i in range(self.n_idle):
            if self.fds[self.ring[(self.head + i) & self.ring_mask]] == C_NO_SOCKET:
                closed_idle += 1
        return PoolStats(
            hits=self.hits,
            misses=self.misses,
            waits=self.waits,
            wait_time=self.wait_time,
            max_wait_time=self.max_wait_time,
            timeouts=self.timeouts,
            created=self.created,
            closed=self.closed,
            stale_closed=self.stale_closed,
            dirty_closed=self.dirty_closed,
            idle=self.n_idle - closed_idle,
            idle_closed=closed_idle,
            in_use=self.live - self.n_idle,
            max=self.cap,
            max_in_use=max(self.max_busy, self.live - self.low),
            wait_buckets=tuple([self.wait_buckets[i] for i in range(_n_bounds + 1)]),
        )

    # ---- internals (called inside the critical section) ----------------------------
    cdef Py_ssize_t _reserve(self) except -1:
        cdef Py_ssize_t slot
        if self.n_empty == 0:
            self._grow()
        self.n_empty -= 1
        slot = self.empty[self.n_empty]
        self.state[slot] = S_RESERVED
        self.occupied += 1
        return slot

    cdef void _drop(self, Py_ssize_t slot) noexcept:
        """Free a slot. The caller holds its own reference to the connection, so dropping
        the array's never runs a destructor in the middle of an update."""
        self._delete(self.conns[slot])
        self.conns[slot] = NULL
        self.state[slot] = S_EMPTY
        self.empty[self.n_empty] = slot
        self.n_empty += 1
        self.occupied -= 1
        self.closed += 1
        self._live_changes(-1)
        rp_list_put(self.owned, slot, None)

    cdef void _live_changes(self, Py_ssize_t by) noexcept:
        """A connection joins (1) or leaves (-1) the array: fold the in-use high-water
        mark so far into ``max_busy`` and start counting ``low`` afresh. A caller that
        takes an idle connection away decrements ``n_idle`` before, without touching
        ``low``: that connection was not lent."""
        if self.live - self.low > self.max_busy:
            self.max_busy = self.live - self.low
        self.live += by
        self.low = self.n_idle

    cdef bint _suspect(self, Py_ssize_t slot) noexcept:
        """Whether an idle connection needs a closer look before it is lent: its socket
        has something pending (one peek, no Python) or cannot be polled."""
        cdef int fd = self.fds[slot]
        if fd == C_NO_SOCKET:
            return False  # closed: the caller connects it anyway
        return fd < 0 or rp_socket_pending(fd)

    cdef bint _reap_due(self, double now) noexcept:
        cdef Py_ssize_t cold
        if self.n_idle == 0:
            return False
        cold = self.ring[self.head]
        if self.max_lifetime > 0 and now - self.created_at[cold] >= self.max_lifetime:
            return True
        return (
            self.idle_timeout > 0
            and self.n_idle > self.min_idle
            and now - self.last_used[cold] >= self.idle_timeout
        )

    cdef Py_ssize_t _find(self, PyObject *conn) noexcept:
        cdef Py_ssize_t i = <Py_ssize_t>(_hash(conn) & <size_t>self.hmask)
        while self.hkeys[i] != NULL:
            if self.hkeys[i] == conn:
                return self.hvals[i]
            i = (i + 1) & self.hmask
        return -1

    cdef void _insert(self, PyObject *conn, Py_ssize_t slot) noexcept:
        cdef Py_ssize_t i = <Py_ssize_t>(_hash(conn) & <size_t>self.hmask)
        while self.hkeys[i] != NULL:
            i = (i + 1) & self.hmask
        self.hkeys[i] = conn
        self.hvals[i] = slot

    cdef void _delete(self, PyObject *conn) noexcept:
        """Linear-probing delete with backward shift: no tombstones, probes stay short."""
        cdef Py_ssize_t mask = self.hmask
        cdef Py_ssize_t i = <Py_ssize_t>(_hash(conn) & <size_t>mask)
        cdef Py_ssize_t j, k
        while self.hkeys[i] != conn:
            if self.hkeys[i] == NULL:
                return
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            if self.hkeys[j] == NULL:
                break
            k = <Py_ssize_t>(_hash(self.hkeys[j]) & <size_t>mask)
            if (i < k <= j) if i <= j else (i < k or k <= j):
                continue
            self.hkeys[i] = self.hkeys[j]
            self.hvals[i] = self.hvals[j]
            i = j
        self.hkeys[i] = NULL

    cdef int _grow(self) except -1:
        """Double the slot arrays (at most to ``capacity``); the ring and the table are
        rebuilt at power-of-two sizes with room to spare."""
        cdef Py_ssize_t old = self.alloc
        cdef Py_ssize_t new = old * 2 if old else 8
        cdef Py_ssize_t ring_size = 1, table_size = 1, i
        cdef Py_ssize_t *ring
        cdef PyObject **hkeys
        cdef Py_ssize_t *hvals
        cdef void *p
        if new > self.cap:
            new = self.cap
        if new <= old:
            raise RuntimeError("slot array is full")
        while ring_size < new:
            ring_size <<= 1
        while table_size < 2 * new:
            table_size <<= 1
        ring = <Py_ssize_t *>PyMem_Malloc(ring_size * sizeof(Py_ssize_t))
        hkeys = <PyObject **>PyMem_Malloc(table_size * sizeof(PyObject *))
        hvals = <Py_ssize_t *>PyMem_Malloc(table_size * sizeof(Py_ssize_t))
        if ring == NULL or hkeys == NULL or hvals == NULL:
            PyMem_Free(ring)
            PyMem_Free(hkeys)
            PyMem_Free(hvals)
            raise MemoryError()
        # each array keeps its old contents if a later one cannot grow (alloc unchanged)
        p = PyMem_Realloc(self.conns, new * sizeof(PyObject *))
        if p != NULL:
            self.conns = <PyObject **>p
            p = PyMem_Realloc(self.state, new * sizeof(unsigned char))
        if p != NULL:
            self.state = <unsigned char *>p
            p = PyMem_Realloc(self.created_at, new * sizeof(double))
        if p != NULL:
            self.created_at = <double *>p
            p = PyMem_Realloc(self.last_used, new * sizeof(double))
        if p != NULL:
            self.last_used = <double *>p
            p = PyMem_Realloc(self.fds, new * sizeof(int))
        if p != NULL:
            self.fds = <int *>p
            p = PyMem_Realloc(self.empty, new * sizeof(Py_ssize_t))
        if p == NULL:
            PyMem_Free(ring)
            PyMem_Free(hkeys)
            PyMem_Free(hvals)
            raise MemoryError()
        self.empty = <Py_ssize_t *>p
        self.owned.extend([None] * (new - old))
        # new empty slots, lowest index on top of the stack
        for i in range(new - 1, old - 1, -1):
            self.conns[i] = NULL
            self.state[i] = S_EMPTY
            self.created_at[i] = 0.0
            self.last_used[i] = 0.0
            self.fds[i] = C_NO_SOCKET
            self.empty[self.n_empty] = i
            self.n_empty += 1
        for i in range(self.n_idle):
            ring[i] = self.ring[(self.head + i) & self.ring_mask]
        PyMem_Free(self.ring)
        self.ring = ring
        self.ring_mask = ring_size - 1
        self.head = 0
        for i in range(table_size):
            hkeys[i] = NULL
        PyMem_Free(self.hkeys)
        PyMem_Free(self.hvals)
        self.hkeys = hkeys
        self.hvals = hvals
        self.hmask = table_size - 1
        self.alloc = new
        for i in range(old):
            if self.conns[i] != NULL:
                self._insert(self.conns[i], i)
        return 0
