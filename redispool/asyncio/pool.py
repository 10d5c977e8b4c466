"""asyncio ``ConnectionPool`` and ``BlockingConnectionPool`` on the slot array.

The fast path (an idle connection used recently) takes no lock and never yields to the
event loop. Waiting is fair: a released connection (or a freed slot, reserved) goes
straight to the longest waiting task. Releasing never suspends before the connection is
back in the slot array, so a task cancelled at any await point cannot leak a slot, and a
connection that may hold an unread reply is closed before anyone else can see it.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Any

import redis.asyncio.connection as _aconnection
import redis.asyncio.observability.recorder as _arecorder
from redis.asyncio.connection import AbstractConnection, Connection
from redis.event import AsyncAfterConnectionReleasedEvent, AsyncReAuthConnectionListener
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from .. import _compat, handover, metrics, telemetry
from .._impl import Packer, SlotArray
from ..knobs import set_knobs
from ..listeners import UNSEEN, quiet
from ..pool import _warn_args
from ..slot_codes import DIRTY, FULL, NEW, NO_SOCKET, READY, RELEASED, RENEW
from ..views import SlotViews
from ..waiters import AsyncWaiter, WaitQueue
from .fast_io import ConnectionIO
from .parser import AsyncParser

_DEFAULT_PARSER = _compat.default_parsers()[1]
_PACK_COMMAND = AbstractConnection.pack_command  # redis-py's, before any install()
_IO_METHODS = (AbstractConnection.send_packed_command, AbstractConnection.read_response)


def _own_packer(conn: Any) -> Any:
    """A ``Packer`` for this connection alone (``_rp_packer``): it keeps its reply ledger."""
    encoder = conn.encoder
    packer = conn._rp_packer = Packer(encoder.encoding, encoder.encoding_errors)
    return packer


def pack_command(self: Any, *args: Any) -> Any:
    """``pack_command`` for redis-py's asyncio connections under ``install()``."""
    packer = getattr(self, "_rp_packer", None)
    if packer is None:
        packer = _own_packer(self)
    return packer.pack(*args)


_close = _compat.close_now  # without suspending: cancellation cannot cut it short


class ConnectionPool(SlotViews, _aconnection.ConnectionPool):
    """Drop-in for ``redis.asyncio.ConnectionPool`` with the sync pool's extra knobs
    (``health_check_after``, ``fifo``, ``idle_timeout``, ``max_lifetime``, ``max_idle``,
    ``min_idle``, ``name``) and ``stats()``.

    A pool serves one event loop at a time. Once that loop is closed, the next checkout
    (``asyncio.run`` called again, a new test loop) forgets the old loop's connections and
    starts afresh. Sharing one pool between event loops that run at the same time (in
    different threads) is not supported.
    """

    _knobs: dict[str, Any]  # set by set_knobs(), with the three below
    fifo: bool
    health_check_after: float
    min_idle: int
    #: The SlotArray class (the compiled twin when available); tests swap in either twin.
    slot_array_class: Any = SlotArray
    _in_maintenance = False  # the blocking pool's MOVING flag (set_in_maintenance)

    def __init__(
        self,
        connection_class: type = Connection,
        max_connections: int | None = None,
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
        self._loop: Any = None
        self._waiters = WaitQueue()
        self._slots: Any = None
        self._quiet_listeners: Any = UNSEEN
        super().__init__(
            connection_class=connection_class,
            max_connections=max_connections,
            maint_notifications_config=maint_notifications_config,
            **connection_kwargs,
        )
        self.reset()
        metrics.track(self)

    def __del__(self) -> None:
        """redis-py's metrics: the counts this pool reported are taken off, as redis-py's
        pools take theirs."""
        telemetry.dropped(self)

    # ---- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every connection without closing it; counters are kept."""
        if self._slots is None or self._slots.capacity != self.max_connections:
            self._slots = self.slot_array_class(self.max_connections, **self._knobs)
        else:
            self._slots.clear()
        self._warm_pending = self.min_idle > 0

    def can_get_connection(self) -> bool:
        return bool(self._slots.idle_count or self._slots.size < self.max_connections)

    # ---- checkout --------------------------------------------------------------------------
    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        """A connected connection; with one idle and fresh, without suspending."""
        if command_name is not None or keys or options:
            _warn_args()
        conn = None if self._in_maintenance else self._slots.acquire()
        if conn is not None:
            try:  # the names are in redispool._compat.NAMES, inlined on the hot path
                reader = conn._reader
                if (
                    reader is not None
                    and _compat.STREAM_PEEK
                    and not (reader._eof or reader._buffer)  # nothing the loop has read
                    and not self._loop.is_closed()
                    and _arecorder._async_metrics_collector is None
                ):
                    return conn
            except AttributeError:  # a connection without ``_reader``: the slow path
                pass
        return await self._checkout(conn)

    async def _checkout(self, conn: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots.forked:
            if self._loop is not None or self._slots.forked:
                self.reset()  # another loop's (or process's) sockets cannot be used here
                conn = None
            self._loop = loop
        if self._warm_pending:
            await self._warm()
        started = monotonic()
        code = READY
        if conn is None:
            if self._in_maintenance:
                await self._maintenance_done()
            code, conn = self._slots.checkout()
            if code == FULL:
                code, conn = await self._full()
            if code == NEW:
                slot = conn
                try:
                    conn = self.make_connection()
                except BaseException:
                    self._slots.cancel(slot)
                    self._wake()
                    raise
                self._slots.fill(slot, conn)
        try:
            if code == RENEW:
                await conn.disconnect()
            await self.ensure_connection(conn)
            if code == NEW:
                await telemetry.acreated(self, started)
        except BaseException:
            await self.release(conn)
            raise
        await self._record_checkout(started)
        return conn

    async def _record_checkout(self, started: float) -> None:
        """redis-py's metrics for a checkout that took the slow path."""
        if _arecorder._async_metrics_collector is not None:
            await telemetry.acounts(self)

    async def _full(self) -> tuple[int, Any]:
        """No idle connection and no room: the non-blocking pool gives up."""
        raise MaxConnectionsError("Too many connections")

    async def ensure_connection(self, connection: Any) -> None:
        """Connect, and make sure nothing is waiting to be read (a closed socket or stale
        bytes mean reconnect). asyncio's peek is a buffer check: no syscall."""
        await connection.connect()
        try:
            if await connection.can_read() and not self.maint_notifications_enabled():
                raise RedisConnectionError("Connection has data") from None
        except (RedisConnectionError, TimeoutError, OSError):
            await connection.disconnect()
            await connection.connect()
            if await connection.can_read() and not self.maint_notifications_enabled():
                raise RedisConnectionError("Connection not ready") from None

    async def _warm(self) -> None:
        """Open ``min_idle`` connections (first checkout, or after a reset)."""
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
                await conn.connect()
        finally:
            for conn in opened:
                await self.release(conn)

    def make_connection(self) -> Any:
        """A new connection (the slot array has already counted it). A redis-py
        connection class gets redispool's ``AsyncParser`` unless another parser was
        chosen (naming redis-py's ``DefaultParser`` is not a choice) and, unless its class
        packs commands its own way (or its ``__init__`` made no ``encoder``, as test doubles
        that skip redis-py's ``__init__`` do), a ``Packer`` of its own (redis-py's asyncio
        connections have no packer hook: it becomes the instance's ``pack_command``),
        whose reply ledger tells ``release`` whether the connection owes a reply; and,
        unless its class writes or reads its own way, redispool's faster write and read
        (``redispool.asyncio.fast_io``)."""
        kwargs = dict(self.connection_kwargs)
        cls = self.connection_class
        if not issubclass(cls, AbstractConnection):
            return cls(**kwargs)
        if kwargs.get("parser_class", _DEFAULT_PARSER) is _DEFAULT_PARSER:
            kwargs["parser_class"] = AsyncParser
        conn: Any = cls(**kwargs)
        if cls.pack_command in (_PACK_COMMAND, pack_command) and hasattr(conn, "encoder"):
            conn.pack_command = _own_packer(conn).pack
        if (cls.send_packed_command, cls.read_response) == _IO_METHODS:
            ConnectionIO(conn).install()
        return conn

    # ---- release ---------------------------------------------------------------------------
    async def release(self, connection: Any) -> None:
        """Return a connection. The bookkeeping happens before the first suspension, so
        cancelling the releasing task cannot lose the slot."""
        if self._in_maintenance:
            try:
                await self._maintenance_done()
            except BaseException:  # cancelled while waiting: the slot is not lost either
                self._give_back(connection)
                raise
        due = self._release_event_due(connection)
        if self._put_back(connection) and due:
            await self._after_release(connection)

    def release_nowait(self, connection: Any) -> Any:
        """``release`` for callers that cannot wait (redispool's command path and its
        lanes): None once the connection is back (or closed); where something must be
        awaited first (redis-py's release event, as a re-authentication; a maintenance
        wait), the connection stays in use and ``release``'s coroutine is returned, for
        the caller to await or run as a task."""
        if self._in_maintenance or self._release_event_due(connection):
            return self.release(connection)
        self._put_back(connection)
        return None

    def _put_back(self, connection: Any) -> bool:
        """The synchronous part of ``release``: the connection idle again, handed to a
        waiter or closed; False for a connection that is not this pool's."""
        try:  # the names are in redispool._compat.NAMES, inlined on the hot path
            fd = connection._rp_packer.lend_fd
            clean = not (fd == DIRTY or connection._should_reconnect)
            if connection._reader is None:
                fd = NO_SOCKET
        except AttributeError:  # no ledger: the slow path
            clean = False
        if clean and not self._waiters:
            flags = self._slots.release(connection, fd)
            return flags == RELEASED or self._released(connection, flags)
        return self._give_back(connection)

    def _release_event_due(self, connection: Any) -> bool:
        """Whether releasing ``connection`` dispatches redis-py's release event (or its
        re-authentication, or records metrics). A listener list not seen before is
        looked at here (and remembered when it could only re-authenticate)."""
        try:  # the names are in redispool._compat.NAMES, inlined on the hot path
            if (
                self._event_dispatcher._event_listeners_mapping.get(  # type: ignore[union-attr]
                    AsyncAfterConnectionReleasedEvent
                )
                is self._quiet_listeners
                and connection._re_auth_token is None
                and _arecorder._async_metrics_collector is None
            ):
                return False
        except AttributeError:  # without one of these names, the event every time
            return True
        listeners = _compat.release_listeners(
            self._event_dispatcher, AsyncAfterConnectionReleasedEvent
        )
        if listeners is not self._quiet_listeners:
            if not quiet(listeners, AsyncReAuthConnectionListener):
                return True
            self._quiet_listeners = listeners
        return (
            getattr(connection, "_re_auth_token", None) is not None
            or _arecorder._async_metrics_collector is not None
        )

    async def _after_release(self, connection: Any) -> None:
        """redis-py's release event, or only its re-auth (see ``redispool.listeners``)."""
        dispatcher: Any = self._event_dispatcher
        listeners = _compat.release_listeners(dispatcher, AsyncAfterConnectionReleasedEvent)
        if listeners is not self._quiet_listeners:  # register_listeners replaces the list
            if not quiet(listeners, AsyncReAuthConnectionListener):
                await dispatcher.dispatch_async(AsyncAfterConnectionReleasedEvent(connection))
            else:
                self._quiet_listeners = listeners
        if (
            listeners is self._quiet_listeners
            and listeners
            and getattr(connection, "_re_auth_token", None) is not None
        ):
            await connection.re_auth()
        if _arecorder._async_metrics_collector is not None:
            await telemetry.acounts(self)

    def _give_back(self, connection: Any) -> bool:
        """Synchronous part of ``release``: close a connection that may owe a reply, hand
        it to the first waiter or put it back. False for a connection that is not ours."""
        slots = self._slots
        ledger = _compat.async_ledger(connection)
        reconnect = connection.should_reconnect()
        if reconnect or (ledger is not None and ledger.dirty):
            if not slots.in_use(connection):
                return False
            primary = getattr(self, "is_master", True)  # a pool meant for replicas: False
            settled = handover.settle_dirty(slots, connection, ledger, reconnect, primary)
            for conn in settled.idle:
                _close(conn)
            _close(connection)
            if hasattr(connection, "reset_should_reconnect"):
                connection.reset_should_reconnect()
        if self._waiters:
            if not slots.in_use(connection):
                return False
            if self._waiters.offer((READY, connection)):
                return True  # handed over: the slot stays in use
        flags = slots.release(connection, _compat.async_fd(connection))
        return flags == RELEASED or self._released(connection, flags)

    def _released(self, connection: Any, flags: int) -> bool:
        """Act on the slot array's flags; True if the connection is ours (idle again or
        closed: the release event is due either way)."""
        released = handover.decode(self._slots, connection, flags)
        for conn in released.close:
            _close(conn)
        if released.wake:
            self._wake()
        return released.ours

    def _wake(self) -> None:
        """A slot was freed: the longest waiting task gets it, reserved (``(NEW, slot)``:
        it makes the connection) so that no newcomer can take it first."""
        if self._waiters:
            code, item = self._slots.checkout()
            if code != FULL and not self._waiters.offer((code, item)):
                self._pass_on((code, item))

    def _pass_on(self, offer: tuple[int, Any]) -> None:
        """Give back what a waiter accepted but can no longer use."""
        code, item = offer
        if code == NEW:
            self._slots.cancel(item)
            self._wake()
        else:
            self._give_back(item)

    async def _maintenance_done(self) -> None:
        """Wait until redis-py's MOVING handler, which holds the pool lock while the
        maintenance flag is set, has finished with the pool's connections."""
        async with self._lock:
            pass

    # ---- whole-pool operations ---------------------------------------------------------------
    async def disconnect(self, inuse_connections: bool = True) -> None:
        connections = self._slots.idle_connections()
        for connection in connections:
            self._slots.note_closed(connection)
        if inuse_connections:
            connections += self._slots.busy_connections()
        results = await asyncio.gather(
            *(connection.disconnect() for connection in connections), return_exceptions=True
        )
        error = next((r for r in results if isinstance(r, BaseException)), None)
        if error:
            raise error

    async def update_active_connections_for_reconnect(self) -> None:
        for conn in self._slots.busy_connections():
            conn.mark_for_reconnect()

    def set_retry(self, retry: Any) -> None:
        for conn in self._slots.idle_connections() + self._slots.busy_connections():
            conn.retry = retry

    async def re_auth_callback(self, token: Any) -> None:
        async with self._lock:
            for conn in self._slots.idle_connections():
                await conn.retry.call_with_retry(
                    lambda c=conn: c.send_command("AUTH", token.try_get("oid"), token.get_value()),
                    _compat.ignore_error_async,
                )
                await conn.retry.call_with_retry(
                    lambda c=conn: c.read_response(), _compat.ignore_error_async
                )
            for conn in self._slots.busy_connections():
                conn.set_re_auth_token(token)


class BlockingConnectionPool(ConnectionPool):
    """Drop-in for ``redis.asyncio.BlockingConnectionPool``: when every connection is in
    use, wait up to ``timeout`` seconds (None: forever), then raise
    ``ConnectionError("No connection available.")``. Waiters are served strictly in
    arrival order: a released connection is handed to the longest waiting task."""

    def __init__(
        self,
        max_connections: int = 50,
        timeout: float | None = 20,
        connection_class: type = Connection,
        queue_class: Any = asyncio.LifoQueue,  # accepted and ignored, as in redis-py
        **connection_kwargs: Any,
    ) -> None:
        super().__init__(
            connection_class=connection_class,
            max_connections=max_connections,
            **connection_kwargs,
        )
        self.timeout = timeout
        self._in_maintenance = False

    def set_in_maintenance(self, in_maintenance: bool) -> None:
        """redis-py's MOVING handler sets this while it holds the pool lock; checkouts
        and releases then wait for it to finish (one attribute check otherwise)."""
        self._in_maintenance = in_maintenance

    async def _full(self) -> tuple[int, Any]:
        slots = self._slots
        loop = asyncio.get_running_loop()
        started = monotonic()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        slots.wait_begin()
        timed_out = False
        waiter = AsyncWaiter(loop)
        self._waiters.join(waiter)
        try:
            try:
                if deadline is None:
                    code, item = await waiter.future
                else:
                    async with _compat.async_timeout(max(0.0, deadline - loop.time())):
                        code, item = await waiter.future
            except BaseException as exc:
                offered = self._waiters.leave(waiter)
                if offered is not None:
                    self._pass_on(offered[0])  # handed to us as we gave up
                if isinstance(exc, asyncio.TimeoutError):
                    timed_out = True
                    if _arecorder._async_metrics_collector is not None:
                        await telemetry.atimed_out(self)
                    raise RedisConnectionError("No connection available.") from exc
                raise
        finally:
            slots.wait_end(monotonic() - started, timed_out)
        if code == READY and slots.renew(item):  # handed over: it skipped the array's check
            code = RENEW
        return code, item

    async def _record_checkout(self, started: float) -> None:
        await super()._record_checkout(started)
        await telemetry.awaited(self, started)
