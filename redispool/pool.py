"""``ConnectionPool`` and ``BlockingConnectionPool``: redis-py's pools on a slot array.

Both subclass redis-py's classes' base (``redis.connection.ConnectionPool``) and keep its
``__init__``, which wires client-side caching, maintenance notifications, the HIMPORT
registry and the observability id that RedisCluster and Sentinel rely on. What changes
is the hot path: a checkout is one call into the slot array (no lock, no ``getpid``, one
non-blocking peek at the socket done in C, none for a connection used within the opt-in
``health_check_after``) and a release is another, plus the checks that keep a connection
with an unread reply from ever being lent again.
"""

from __future__ import annotations

import os
from queue import LifoQueue
from time import monotonic
from typing import Any

import redis.connection
import redis.observability.recorder as _recorder
from redis.connection import AbstractConnection, CacheProxyConnection, Connection
from redis.event import AfterConnectionReleasedEvent, ReAuthConnectionListener
from redis.exceptions import ChildDeadlockedError, MaxConnectionsError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.utils import warn_deprecated_arg_usage

from . import _compat, handover, metrics, telemetry
from ._impl import Packer, SlotArray
from .fastpath import metrics_off
from .knobs import set_knobs
from .listeners import UNSEEN as _UNSEEN
from .listeners import quiet
from .parsers import Parser
from .slot_codes import CHECK, DIRTY, FORKED, FULL, NEW, READY, RELEASED, RENEW
from .views import AllView, QueueView, SlotViews
from .waiters import Waiter, WaitQueue

_DEFAULT_PARSER = _compat.default_parsers()[0]

_SOCKET_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class _LockedSlots:
    """With client-side caching, redis-py's ``CacheProxyConnection`` reads other
    connections' invalidation messages while holding the pool lock; then every slot-array
    call takes that lock too, so no connection is checked out while it is being drained."""

    def __init__(self, slots: Any, lock: Any) -> None:
        self._slots = slots
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._slots, name)
        if not callable(attr):
            return attr
        lock = self._lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return attr(*args, **kwargs)

        return locked


class ConnectionPool(SlotViews, redis.connection.ConnectionPool):
    """Drop-in for ``redis.ConnectionPool``; same constructor, ``from_url`` and errors.

    Extra keyword arguments (all optional):

    - ``health_check_after`` (0 s): every checkout peeks at the connection's socket (in
      C, without blocking) and reconnects one the server has closed, as redis-py checks every
      checkout. A positive value skips the peek for connections used within that many
      seconds: an opt-in that trades a possible ``ConnectionError`` after a server-side
      close for one syscall per checkout.
    - ``fifo`` (False): hand out the least recently used idle connection instead of the
      warmest one, spreading load over all connections.
    - ``idle_timeout``, ``max_lifetime`` (seconds, None = never): close connections idle
      that long, or older than that.
    - ``max_idle`` (None = ``max_connections``): idle connections kept open; releases
      beyond it close the connection.
    - ``min_idle`` (0): connections opened on the first checkout and never closed by
      ``idle_timeout``.
    - ``name`` (None): the pool's ``pool`` label in ``redispool.metrics`` (Prometheus);
      without it, redis-py's name for the pool (``host:port_id``). Taken by the pool, not
      passed to its connections.

    Unless ``parser_class``/``command_packer`` are given, connections use redispool's
    compiled ``Parser`` and ``Packer``.
    """

    _knobs: dict[str, Any]  # set by set_knobs(), with the three below
    fifo: bool
    health_check_after: float
    min_idle: int
    #: The SlotArray class (the compiled twin when available); tests swap in either twin.
    slot_array_class: Any = SlotArray
    _in_maintenance = False  # the blocking pool's MOVING flag (set_in_maintenance)
    _records_wait = False  # redis-py's wait_time: recorded by the blocking pool only

    def __init__(
        self,
        connection_class: type = Connection,
        max_connections: int | None = None,
        cache_factory: Any = None,
        maint_notifications_config: Any = None,
        *,
        health_check_after: float = 0.0,
        fifo: bool = False,
        idle_timeout: float | None = None,
        max_lifetime: float | None = None,
        max_idle: int | None = None,
        min_idle: int = 0,
        name: str | None = None,
        **connection_kwargs: Any,
    ) -> None:
        set_knobs(
            self,
            health_check_after=health_check_after,
            fifo=fifo,
            idle_timeout=idle_timeout,
            max_lifetime=max_lifetime,
            max_idle=max_idle,
            min_idle=min_idle,
            name=name,
        )
        self._rp_reported = telemetry.Reported()
        super().__init__(
            connection_class=connection_class,
            max_connections=max_connections,
            cache_factory=cache_factory,
            maint_notifications_config=maint_notifications_config,
            **connection_kwargs,
        )
        metrics.track(self)

    # ---- state ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every connection without closing it (redis-py's semantics: after a fork
        the parent's sockets must stay untouched). Counters in ``stats()`` are kept."""
        slots = getattr(self, "_slots", None)
        if isinstance(slots, _LockedSlots):
            slots = slots._slots
        if slots is None or slots.capacity != self.max_connections:
            slots = self.slot_array_class(self.max_connections, **self._knobs)
        else:
            slots.clear()
        self._slots = slots if self.cache is None else _LockedSlots(slots, self._lock)
        self._warm_pending = self.min_idle > 0
        self._custom_owns = type(self).owns_connection is not ConnectionPool.owns_connection
        self._quiet_listeners: Any = _UNSEEN
        self.pid = os.getpid()
        if _recorder._metrics_collector is not None and self._rp_reported.any:
            telemetry.counts(self)  # the forgotten connections leave the counts

    @property
    def _created_connections(self) -> int:  # type: ignore[override]
        return int(self._slots.size)

    def __del__(self) -> None:
        """redis-py's metrics (the counts this pool reported are taken off, as redis-py's
        pools take theirs), then the idle connections are closed: under RESP3 each one
        and redis-py's maintenance handlers refer to each other, a cycle that would keep a
        dropped pool's sockets open until a collector pass (redis-py closes them then).
        Connections lent out are their users' to close."""
        telemetry.dropped(self)
        try:
            for conn in self._slots.idle_connections():
                conn.disconnect()
        except Exception:
            pass

    # ---- checkout -----------------------------------------------------------------------
    def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        """Get a connection from the pool."""
        if command_name is not None or keys or options:
            _warn_args()
        conn = self._slots.acquire()
        if conn is not None:
            try:
                if conn._sock is not None and _recorder._metrics_collector is None:
                    return conn
            except AttributeError:  # connection classes without ``_sock``: connect()
                pass
            return self._prepare(conn, READY, 0.0, self._wait_clock())
        return self._checkout()

    def _wait_clock(self) -> float:
        """When a checkout began, for redis-py's wait_time (0: not recorded)."""
        if self._records_wait and not metrics_off():
            return monotonic()
        return 0.0

    def _checkout(self) -> Any:
        began = self._wait_clock()
        self._checkpid()
        if self._warm_pending:
            self._warm()
        code, item = self._slots.checkout()
        if code == FULL:
            code, item = self._full()
        if code != NEW:
            return self._prepare(item, code, 0.0, began)
        started = monotonic()
        try:
            conn = self.make_connection()
        except BaseException:
            self._slots.cancel(item)
            self._notify()
            raise
        self._slots.fill(item, conn)
        return self._prepare(conn, NEW, started, began)

    def _full(self) -> tuple[int, Any]:
        """No idle connection and no room: the non-blocking pool gives up."""
        raise MaxConnectionsError("Too many connections")

    def _prepare(self, conn: Any, code: int, started: float, began: float) -> Any:
        """Connect, and for a connection idle a while, peek at it first; on any failure
        the connection goes back to the pool (disconnected) and the error propagates.
        ``started``: when making the connection began; ``began``: when the checkout did
        (each 0 when not timed)."""
        try:
            if code == RENEW:
                conn.disconnect()
            conn.connect()
            if code == CHECK:
                try:
                    if conn.can_read() and self._data_is_reply():
                        raise RedisConnectionError("Connection has data")
                except _SOCKET_ERRORS:
                    conn.disconnect()
                    conn.connect()
                    if conn.can_read() and self._data_is_reply():
                        raise RedisConnectionError("Connection not ready") from None
        except BaseException:
            self.release(conn)
            raise
        if _recorder._metrics_collector is not None:
            telemetry.checked_out(self, started, began)
        return conn

    def _data_is_reply(self) -> bool:
        """Unread bytes on an idle connection are a stale reply, unless push messages
        (client-side caching invalidations, maintenance notices) may be waiting."""
        return self.cache is None and not self.maint_notifications_enabled()

    def _warm(self) -> None:
        """Open ``min_idle`` connections (first checkout, or after a reset or fork)."""
        self._warm_pending = False
        opened: list[Any] = []
        try:
            while self._slots.idle_count + len(opened) < self.min_idle:
                code, item = self._slots.checkout()
                if code == FULL:
                    break
                if code != NEW:
                    opened.append(item)
                    continue
                try:
                    conn = self.make_connection()
                except BaseException:
                    self._slots.cancel(item)
                    raise
                self._slots.fill(item, conn)
                opened.append(conn)
                conn.connect()
        finally:
            for conn in opened:
                self.release(conn)

    def make_connection(self) -> Any:
        """Create a new connection (the slot array has already counted it). A redis-py
        connection class gets redispool's ``Parser`` unless another parser was chosen
        (naming redis-py's ``DefaultParser`` is not a choice), and its own ``Packer``,
        whose reply ledger tells ``release`` whether the connection owes a reply."""
        kwargs = dict(self.connection_kwargs)
        if issubclass(self.connection_class, AbstractConnection):
            if kwargs.get("parser_class", _DEFAULT_PARSER) is _DEFAULT_PARSER:
                kwargs["parser_class"] = Parser
            packer = kwargs.get("command_packer")
            if packer is None or _compat.ledger(packer) is not None:  # one ledger each
                kwargs["command_packer"] = Packer(
                    encoding=kwargs.get("encoding", "utf-8"),
                    errors=kwargs.get("encoding_errors", "strict"),
                )
        conn = self.connection_class(**kwargs)
        if self.cache is not None:
            conn = CacheProxyConnection(conn, self.cache, self._lock)  # type: ignore[abstract]
        if not metrics_off():  # as redis-py's pools, this may make redis-py's collector
            telemetry.created(self)
        return conn

    # ---- release ------------------------------------------------------------------------
    def release(self, connection: Any) -> None:
        """Return a connection. A connection that may still hold an unread reply, or that
        is marked for reconnect, is disconnected first. Foreign and repeated releases
        are ignored, as in redis-py. In maintenance (the blocking pool's MOVING) the whole
        release waits for redis-py's handler, as redis-py's does: whether to reconnect is
        decided after the handler has moved the connection (and marked it)."""
        if self._in_maintenance:
            with self._lock:
                self._release_checked(connection)
            return
        try:  # the names are in redispool._compat.NAMES, inlined on the hot path
            fd = connection._command_packer.lend_fd
            if fd == DIRTY or connection._should_reconnect or self._custom_owns:
                self._release_checked(connection)
                return
        except AttributeError:  # not a redispool Packer: no ledger, a socket peek only
            self._release_checked(connection)
            return
        flags = self._slots.release(connection, fd)
        if flags != RELEASED:
            self._released(connection, flags)
            return
        try:  # without one of these names, redis-py's release event every time
            skip = (
                self._event_dispatcher._event_listeners_mapping.get(AfterConnectionReleasedEvent)  # type: ignore[union-attr]
                is self._quiet_listeners
                and connection._re_auth_token is None
                and _recorder._metrics_collector is None
            )
        except AttributeError:
            skip = False
        if not skip:
            self._after_release(connection)

    def _release_checked(self, connection: Any) -> None:
        """The slow release: ownership by ``owns_connection`` (Sentinel overrides it), and a
        disconnect before the connection becomes visible to other threads."""
        self._checkpid()
        if not self._slots.in_use(connection):
            return
        if self._custom_owns and not self.owns_connection(connection):
            connection.disconnect()
            if self._slots.remove(connection):
                self._notify()
            if _recorder._metrics_collector is not None:
                telemetry.counts(self)
            return
        settled = handover.settle_dirty(
            self._slots,
            connection,
            _compat.sync_ledger(connection),
            connection.should_reconnect(),
            getattr(self, "is_master", True),  # a Sentinel pool of replicas: False
        )
        for conn in settled.idle:
            conn.disconnect()
        if settled.close:
            connection.disconnect()
        flags = self._slots.release(connection, _compat.sync_fd(connection))
        if flags != RELEASED:
            self._released(connection, flags)
        else:
            self._after_release(connection)

    def _released(self, connection: Any, flags: int) -> None:
        if flags & FORKED:
            self._checkpid()
            return
        released = handover.decode(self._slots, connection, flags)
        for conn in released.close:
            conn.disconnect()
        if released.wake:
            self._notify()
        if released.ours:  # idle again or closed: the event is due
            self._after_release(connection)

    def _after_release(self, connection: Any) -> None:
        """redis-py's release event. Its default listener only re-authenticates a
        connection that holds a new token, so while the dispatcher has no other release
        listener (``_quiet_listeners`` is the list last seen so, which ``release`` checks
        inline) that check is made here, without building and dispatching an event."""
        dispatcher: Any = self._event_dispatcher
        listeners = _compat.release_listeners(dispatcher, AfterConnectionReleasedEvent)
        if listeners is not self._quiet_listeners:  # register_listeners replaces the list
            if not quiet(listeners, ReAuthConnectionListener):
                dispatcher.dispatch(AfterConnectionReleasedEvent(connection))
            else:
                self._quiet_listeners = listeners
        if (
            listeners is self._quiet_listeners
            and listeners
            and getattr(connection, "_re_auth_token", None) is not None
        ):
            connection.re_auth()
        if _recorder._metrics_collector is not None:
            telemetry.counts(self)

    def _notify(self) -> None:
        """Wake a waiter (blocking pool only)."""

    # ---- whole-pool operations -----------------------------------------------------------
    def _checkpid(self) -> None:
        """After a fork (seen as a changed fork generation, not a getpid() call) the child
        starts with an empty pool; the parent's connections are never touched."""
        if self._slots.forked:
            if not self._fork_lock.acquire(timeout=5):
                raise ChildDeadlockedError
            try:
                if self._slots.forked:
                    self.reset()
            finally:
                self._fork_lock.release()

    def disconnect(self, inuse_connections: bool = True) -> None:
        """Disconnect idle connections, and in-use ones too unless told otherwise."""
        self._checkpid()
        idle = self._slots.idle_connections()
        for connection in idle:
            connection.disconnect()
            self._slots.note_closed(connection)
        if inuse_connections:
            for connection in self._slots.busy_connections():
                connection.disconnect()

    def set_retry(self, retry: Any) -> None:
        self.connection_kwargs.update({"retry": retry})
        for conn in self._slots.idle_connections() + self._slots.busy_connections():
            conn.retry = retry

    def re_auth_callback(self, token: Any) -> None:
        with self._lock:
            for conn in self._slots.idle_connections():
                conn.retry.call_with_retry(
                    lambda c=conn: c.send_command("AUTH", token.try_get("oid"), token.get_value()),
                    _compat.ignore_error,
                )
                conn.retry.call_with_retry(lambda c=conn: c.read_response(), _compat.ignore_error)
            for conn in self._slots.busy_connections():
                conn.set_re_auth_token(token)


class BlockingConnectionPool(ConnectionPool):
    """Drop-in for ``redis.BlockingConnectionPool``: when every connection is in use,
    wait up to ``timeout`` seconds (None: forever) for one, then raise
    ``ConnectionError("No connection available.")``. Waiters are woken in arrival order
    (a checkout that finds a free connection takes it, waiters or not, as in redis-py).
    ``queue_class=queue.Queue`` selects FIFO reuse (``LifoQueue``, the default, LIFO)."""

    _records_wait = True

    def __init__(
        self,
        max_connections: int = 50,
        timeout: float | None = 20,
        connection_class: type = Connection,
        queue_class: type = LifoQueue,
        **connection_kwargs: Any,
    ) -> None:
        self.queue_class = queue_class
        self.timeout = timeout
        self._in_maintenance = False
        self._locked = False
        if "fifo" not in connection_kwargs and not issubclass(queue_class, LifoQueue):
            connection_kwargs["fifo"] = True
        super().__init__(
            connection_class=connection_class,
            max_connections=max_connections,
            **connection_kwargs,
        )

    def reset(self) -> None:
        # A new queue: after a fork the parent's waiters are not in this process. Without
        # a fork, threads still waiting on the old queue are woken to retry on this one.
        slots = getattr(self, "_slots", None)
        old = getattr(self, "_queue", None)
        self._queue = WaitQueue()
        self._taken: list[int] = []  # slots reserved by ``pool.get()`` (a ``None`` taken)
        if self._in_maintenance:
            with self._lock:
                super().reset()
            self.set_in_maintenance(True)
        else:
            super().reset()
        if old is not None and slots is not None and not slots.forked:
            old.offer_all(None)

    @property
    def _connections(self) -> list[Any]:
        """Every connection the pool holds (redis-py's blocking pool keeps this list)."""
        return AllView(self._slots, self._slots.idle_connections() + self._slots.busy_connections())

    @property
    def pool(self) -> QueueView:
        """redis-py's queue of idle connections and ``None`` placeholders, as a live view
        of the slot array (``redispool.views.QueueView``)."""
        return QueueView(self)

    def _get_free_connections(self) -> set[Any]:
        return set(self._slots.idle_connections())

    def _full(self) -> tuple[int, Any]:
        return self._wait(self.timeout)

    def _wait(self, timeout: float | None) -> tuple[int, Any]:
        """Wait up to ``timeout`` seconds (None: forever) for a connection or a free slot,
        first in first served (a checkout; ``pool.get()``). An exception at any point leaves
        no waiter behind and passes on a wake-up this thread received and cannot use."""
        slots = self._slots
        started = monotonic()
        deadline = None if timeout is None else started + timeout
        timed_out = False
        owed = False  # a wake-up received and not yet spent on a checkout
        waiter: Waiter | None = None
        slots.wait_begin()
        try:
            while True:
                waiter = Waiter()
                queue = self._queue
                queue.join(waiter, first=owed)  # before the check: no release goes unseen
                code, item = self._slots.checkout()
                owed = False
                if code != FULL:
                    return code, item
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    timed_out = True
                    raise RedisConnectionError("No connection available.")
                owed = waiter.wait(remaining) is not None or queue.leave(waiter) is not None
        finally:
            if waiter is not None and self._queue.leave(waiter) is not None:
                owed = True
            if owed:
                self._notify()
            slots.wait_end(monotonic() - started, timed_out)
            if timed_out and _recorder._metrics_collector is not None:
                telemetry.timed_out(self)

    def _notify(self) -> None:
        """Wake the longest waiting thread (it retries its checkout)."""
        if self._slots.waiters:
            self._queue.offer(None)

    def make_connection(self) -> Any:
        if self._in_maintenance:
            with self._lock:
                return super().make_connection()
        return super().make_connection()

    def disconnect(self, inuse_connections: bool = True) -> None:
        if self._in_maintenance:
            with self._lock:
                super().disconnect(inuse_connections)
        else:
            super().disconnect(inuse_connections)

    def set_in_maintenance(self, in_maintenance: bool) -> None:
        """While redis-py's maintenance handler moves connections to another node
        (MOVING), it holds the pool lock with this flag set: every slot-array call
        (checkout, release, connection bookkeeping) then takes that lock too, so none
        slips between the handler's passes over idle and in-use connections. Outside
        maintenance the slot array is called without a lock, as always."""
        self._in_maintenance = in_maintenance
        slots = self._slots
        if isinstance(slots, _LockedSlots):
            slots = slots._slots
        if in_maintenance or self.cache is not None:
            self._slots = _LockedSlots(slots, self._lock)
        else:
            self._slots = slots


def _warn_args() -> None:
    warn_deprecated_arg_usage(
        ["command_name", "keys", "options"],
        "get_connection",
        "Use get_connection() without args instead",
        "5.3.0",
        stacklevel=4,
    )
