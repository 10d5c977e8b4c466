"""Pure-Python twin of ``redispool._acommand_c``: redis.asyncio's command path, fused,
and auto-pipelining.

A command's reply is read by a ``Lane``: an asyncio protocol that takes its connection's
transport over (``transport.set_protocol``, asyncio's public API) while replies are owed,
parses what arrives in ``data_received`` with the connection's own Reader and resolves
each command's future in the order the commands were written; once nothing is owed it
hands the transport back to redis-py's stream protocol. No read coroutine, no stream
buffer, no timeout context per command: a command costs its own coroutine and one future.

Without auto-pipelining (``execute_command``) a command checks a connection out, goes
through a lane of its own and gives the connection back, as ``Redis.execute_command``
does, with redis-py's exceptions, disconnects and ``Retry`` policy. With it (a client
made with ``auto_pipeline=True``), the client keeps one shared lane: commands issued while
others are in flight are queued on it and written together once per event-loop
iteration, so a burst of N commands costs one write and a few reads. Commands that
change or hold their connection (``exclusive``) never share one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from time import monotonic
from typing import Any

from redis.asyncio.client import Pipeline as RedisPipeline
from redis.asyncio.client import Redis as RedisClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import HImportRegistry

from . import _compat, fastpath
from ._command_py import _MISSING, EMPTY_RESPONSE, NEVER_DECODE, _himport, callback_for
from ._compat import SERVER_CLOSED_CONNECTION_ERROR
from ._impl import Packer
from .asyncio.fast_io import ConnectionIO
from .asyncio.parser import NOT_ENOUGH_DATA
from .exclusive import exclusive
from .push import PushNotification

__all__ = (
    "Lane",
    "Unretried",
    "execute_command",
    "pipeline_command",
    "run_pipeline",
    "run_transaction",
)

#: A shared lane's answer to a command it never wrote: run it on a connection of its own.
DEDICATED: Any = object()
_POOL_METHODS = ("release", "release_nowait", "_put_back")
_RELEASING: set[Any] = set()  # releases finishing in tasks of their own, kept from the GC
#: Reply types a callback's result is never awaited for (the rest go to ``isawaitable``).
_PLAIN = frozenset({bytes, str, int, float, bool, list, dict, set, tuple, type(None)})


class Lane(asyncio.Protocol):
    """The replies owed on one connection, resolved in order as they arrive.

    ``waiting`` holds one entry per written command or pipeline: ``(future, count,
    written)``; a future gets its reply (``count`` 0: a command) or the list of ``count``
    replies, error replies included (a pipeline). A shared lane keeps what it has not written yet
    in ``pending``; a command whose task is cancelled before the write is never written.
    A future nobody waits for any longer has its reply read and dropped, so every later
    reply still goes where it belongs. ``socket_timeout`` (read afresh each time, as a
    maintenance notification may relax it) bounds the wait for the oldest entry's reply,
    counted from when it was written or from the last bytes received, whichever is later.
    A failure (timeout, a closed or reset connection, bytes that are not RESP) fails
    every entry with redis-py's exception for it and closes the connection, as redis-py's
    read would. A push message whose handler must be awaited holds the replies after it
    back until the handler is done, as redis-py's parser awaits it before reading on.
    """

    __slots__ = (
        "conn",
        "held",
        "loop",
        "original",
        "packer",
        "parser",
        "pending",
        "poisoned",
        "pool",
        "progress",
        "reader",
        "replies",
        "retry",
        "state",
        "timer",
        "transport",
        "waiting",
    )

    OPENING, OPEN, CLOSED = 0, 1, 2

    def __init__(self, loop: Any, pool: Any = None) -> None:
        #: the pool a shared lane gives its connection back to (None: the caller does)
        self.pool = pool
        self.loop = loop
        self.waiting: deque[tuple[Any, int, float]] = deque()
        #: a shared lane's commands not written yet: (future, chunks, count)
        self.pending: list[tuple[Any, Any, int]] = []
        self.replies: list[Any] = []  # the replies so far of the oldest group
        self.state = Lane.OPENING
        self.poisoned = False  # a reply said the connection must close once drained
        self.progress = 0.0  # loop time of the last bytes received
        self.held: Any = None  # the task of a push handler the next replies wait for
        self.timer: Any = None
        self.conn: Any = None
        self.transport: Any = None
        self.original: Any = None
        self.reader: Any = None
        self.parser: Any = None
        self.packer: Any = None
        self.retry: Any = None

    # ---- attaching ---------------------------------------------------------------------------
    def attach(self, conn: Any) -> None:
        """Take over the transport of ``conn``, which ``plain`` said a lane can read."""
        transport = conn._writer.transport
        self.conn = conn
        self.transport = transport
        self.parser = parser = conn._parser
        self.reader = parser._reader
        self.packer = conn._rp_packer
        self.retry = conn.retry
        self.progress = self.loop.time()
        self.original = transport.get_protocol()
        transport.set_protocol(self)
        self.state = Lane.OPEN
        if self.pending:
            self.flush()

    def detach(self) -> None:
        """Give the transport back to redis-py's stream protocol."""
        transport = self.transport
        if transport is not None and transport.get_protocol() is self:
            transport.set_protocol(self.original)
        timer = self.timer
        if timer is not None:
            timer.cancel()
            self.timer = None

    def accepting(self) -> bool:
        """Whether a shared lane takes more commands: not closed, and its connection not
        one that must close once drained (a connection-level error reply, a demoted
        server, a reconnect asked for, as by a maintenance notification)."""
        state = self.state
        if state == Lane.OPENING:
            return True
        return (
            state == Lane.OPEN
            and not self.poisoned
            and not self.packer.demoted
            and not self.conn._should_reconnect
        )

    # ---- writing -----------------------------------------------------------------------------
    def expect(self, count: int) -> Any:
        """A future for the next reply (``count`` 0) or list of ``count`` replies (the
        caller writes their commands now)."""
        future = self.loop.create_future()
        self.waiting.append((future, count, self.progress))  # attached just now
        self.arm()
        return future

    def arm(self) -> None:
        """Start the timer, if there is a timeout and none runs."""
        if self.timer is None:
            timeout = self.conn.socket_timeout
            if timeout:
                self.timer = self.loop.call_later(timeout, self.expire)

    def queue(self, chunks: Any, count: int) -> Any:
        """Queue a packed command on a shared lane: written with whatever else is queued
        by the end of this event-loop iteration."""
        loop = self.loop
        if not self.pending and self.state == Lane.OPEN:
            loop.call_soon(self.flush)
        future = loop.create_future()
        self.pending.append((future, chunks, count))
        return future

    def flush(self) -> None:
        """Write what is queued (but what nobody waits for any longer), counting its
        replies in the connection's ledger."""
        if self.state != Lane.OPEN or not self.pending:
            return
        pending, self.pending = self.pending, []
        waiting = self.waiting
        out: list[Any] = []
        owed = 0
        now = self.loop.time()
        for future, chunks, count in pending:
            if future.done():  # cancelled before it was written: never sent
                continue
            out += chunks
            waiting.append((future, count, now))
            owed += count or 1
        if out:
            self.packer.owed += owed
            self.transport.writelines(out)
            self.arm()
        elif not waiting and self.held is None:
            self.quiet()

    # ---- reading -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        self.progress = self.loop.time()
        if self.held is None:
            self.parse()

    def parse(self) -> None:
        """Resolve every complete reply the Reader holds."""
        reader = self.reader
        waiting = self.waiting
        try:
            while True:
                try:
                    reply = reader.gets()
                except UnicodeError as decoding:  # the reply is read: it fails its caller
                    reply = decoding
                if reply is NOT_ENOUGH_DATA:
                    break
                kind = type(reply)
                if kind is PushNotification:
                    if self.push(reply):
                        return  # the replies after it wait for its handler
                    continue
                if not waiting:  # a reply nobody asked for: the stream is not RESP we sent
                    raise RedisConnectionError("Connection has data")
                self.packer.replied()
                error = None
                if kind is not bytes and kind is not int and kind is not str:
                    error = self.check(reply)
                future, count, _written = waiting[0]
                if count == 0:
                    waiting.popleft()
                    if not future.done():
                        if error is None:
                            future.set_result(reply)
                        else:
                            future.set_exception(error)
                    continue
                replies = self.replies
                replies.append(reply if error is None or error is reply else error)
                if len(replies) == count:  # a pipeline's replies, error replies among them
                    waiting.popleft()
                    self.replies = []
                    if not future.done():
                        future.set_result(replies)
        except Exception as error:  # redis-py's read disconnects on any error
            self.fail(error)
            return
        if not waiting and not self.pending:
            self.quiet()

    def check(self, reply: Any) -> Any:
        """What redis-py's parser and ``read_response`` raise for a reply that is not
        plain data (None: nothing). A demoted server's or a connection-level error
        closes the connection once drained, as redis-py's read would close it."""
        if isinstance(reply, ReadOnlyError):
            self.packer.demoted = True
            return reply
        if isinstance(reply, ResponseError):
            return reply
        if isinstance(reply, (RedisConnectionError, UnicodeError)):  # redis-py disconnects
            self.poisoned = True
            return reply
        if type(reply) is list and reply and isinstance(reply[0], RedisConnectionError):
            self.poisoned = True
            return reply[0]
        return None

    def push(self, reply: Any) -> bool:
        """A push message (RESP3) between replies goes to redis-py's parser's handler;
        True when the handler is to be awaited first (``held``)."""
        handled = self.parser.handle_push_response(reply)
        if not inspect.isawaitable(handled):
            return False
        task = asyncio.ensure_future(handled, loop=self.loop)
        self.held = task
        task.add_done_callback(self.pushed)
        return True

    def pushed(self, task: Any) -> None:
        """A push handler finished: the replies after its message are read on, or its
        error fails the lane (redis-py's read raises it)."""
        self.held = None
        if self.state != Lane.OPEN or self.transport.get_protocol() is not self:
            return
        if task.cancelled():
            self.fail(asyncio.CancelledError())
            return
        error = task.exception()
        if error is not None:
            self.fail(error)
            return
        self.parse()

    def quiet(self) -> None:
        """Nothing owed: the transport goes back; a shared lane gives its connection back."""
        conn = self.conn
        self.detach()
        interval = conn.health_check_interval
        if interval:
            conn.next_health_check = self.loop.time() + interval
        if self.poisoned:
            _compat.close_now(conn)
        if self.pool is not None:
            self.close()

    def close(self) -> None:
        """A shared lane stops taking commands and gives its connection back."""
        if self.state == Lane.CLOSED:
            return
        self.state = Lane.CLOSED
        conn = self.conn
        self.conn = self.transport = self.original = self.reader = self.parser = None
        if conn is not None:
            rest = self.pool.release_nowait(conn)
            if rest is not None:  # redis-py's release event (re-authentication, say)
                task = self.loop.create_task(rest)
                _RELEASING.add(task)
                task.add_done_callback(_RELEASING.discard)

    def abandon(self, error: Exception | None = None) -> None:
        """A shared lane that did not open: nothing queued on it was written. Each
        command gets ``error`` (the checkout's, as each would have had its own checkout
        fail), or without one is told to run on a connection of its own."""
        self.state = Lane.CLOSED
        pending, self.pending = self.pending, []
        for future, _chunks, _count in pending:
            if not future.done():
                future.set_result(DEDICATED if error is None else Unretried(_copy(error)))

    # ---- failing -----------------------------------------------------------------------------
    def expire(self) -> None:
        """The timer: past the deadline of the oldest entry, the lane fails."""
        self.timer = None
        waiting = self.waiting
        timeout = self.conn.socket_timeout if self.conn is not None else None
        if not waiting or not timeout:
            return
        left = max(waiting[0][2], self.progress) + timeout - self.loop.time()
        if left > 0:
            self.timer = self.loop.call_later(left, self.expire)
            return
        host = self.conn._host_error()
        self.fail(RedisTimeoutError(f"Timeout reading from {host}"))

    def fail(self, error: BaseException) -> None:
        """Every entry, written or not, gets ``error`` (a copy each), and the connection
        closes."""
        conn = self.conn
        self.detach()
        waiting, self.waiting = self.waiting, deque()
        pending, self.pending = self.pending, []
        self.replies = []
        if conn is not None:
            _compat.close_now(conn)
        for future, _count, _written in waiting:
            if not future.done():
                future.set_exception(_copy(error))
        for future, _chunks, _count in pending:
            if not future.done():
                future.set_exception(_copy(error))
        if self.pool is not None:
            self.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        original = self.original
        if exc is None:
            error: BaseException = RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        else:
            host = self.conn._host_error()
            error = RedisConnectionError(f"Error while reading from {host} : {exc.args}")
        self.fail(error)
        original.connection_lost(exc)

    def eof_received(self) -> bool | None:
        self.fail(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        return None

    def pause_writing(self) -> None:
        self.original.pause_writing()

    def resume_writing(self) -> None:
        self.original.resume_writing()


class Unretried:
    """A command's outcome that redis-py raises before its ``Retry`` policy runs (a
    checkout that failed): raised as it is."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _copy(error: BaseException) -> BaseException:
    """A fresh exception like ``error``, so no two tasks share one traceback."""
    try:
        return type(error)(*error.args)
    except Exception:  # a class whose constructor takes other arguments
        return error


def _own_io(conn: Any, name: str, value: Any) -> bool:
    """Whether ``conn``'s own ``name`` is redispool's (``fast_io``'s write and read, the
    pool's ``Packer``), which this path does the same as."""
    owner = getattr(value, "__self__", None)
    if name == "pack_command":
        return owner is not None and owner is getattr(conn, "_rp_packer", None)
    return type(owner) is ConnectionIO


def plain(conn: Any) -> bool:
    """Whether a lane may read ``conn``: a connected redis-py connection whose class and
    object write and read as redis-py's, with redispool's parser and reply ledger, a
    stock ``Retry`` and nothing left to read."""
    if not fastpath.aconnection(type(conn)):
        return False
    own = getattr(conn, "__dict__", None)
    if type(own) is not dict:
        return False
    for name in (*fastpath.ASYNC_CONNECTION_METHODS, "pack_command"):
        value = own.get(name)
        if value is not None and not _own_io(conn, name, value):
            return False
    if _compat.ledger(own.get("_rp_packer")) is None:
        return False
    retry = conn.retry
    if not fastpath.aretry(type(retry)) or fastpath.overridden(retry, ("call_with_retry",)):
        return False
    writer = conn._writer
    if writer is None or writer.transport.is_closing():
        return False
    parser = conn._parser
    if (
        not fastpath.aparser(type(parser))
        or fastpath.overridden(parser, fastpath.PARSER_METHODS)
        or parser._stands_for.read_response is not parser._stands_for_read
        or parser._reader is None
        or parser._reader.has_data()
    ):
        return False
    if getattr(conn, "_re_auth_token", None) is not None:  # re-authenticates on release
        return False
    stream = conn._reader
    return not (stream is None or stream._buffer or stream._eof or stream._waiter is not None)


def _pool_releases(pool: Any) -> bool:
    """Whether ``pool`` is redispool's asyncio pool, releasing as it does: a lane may
    hand it a connection without a coroutine."""
    return fastpath.apool(type(pool)) and not fastpath.overridden(pool, _POOL_METHODS)


# ---- one command ---------------------------------------------------------------------------


async def _converted(callbacks: Any, name: Any, reply: Any, options: dict[str, Any]) -> Any:
    """What ``parse_response`` makes of ``reply``: its callback's result, awaited if it
    is awaitable."""
    callback = callback_for(callbacks, name)
    if callback is _MISSING:
        return reply
    if options:
        options = {
            key: value
            for key, value in options.items()
            if key != "keys" and key != NEVER_DECODE and key != EMPTY_RESPONSE
        }
        value = callback(reply, **options)
    else:
        value = callback(reply)
    if type(value) not in _PLAIN and inspect.isawaitable(value):
        value = await value
    return value


def _health_due(conn: Any) -> bool:
    """Whether redis-py would PING ``conn`` before its next command (its path does)."""
    interval = conn.health_check_interval
    return bool(interval and asyncio.get_running_loop().time() > conn.next_health_check)


def _direct(conn: Any, args: tuple[Any, ...], options: dict[str, Any]) -> bool:
    """Whether one try of ``args`` on ``conn`` goes through a lane (else redis-py's
    ``_send_command_parse_response``)."""
    if options and (NEVER_DECODE in options or "check_health" in options):
        return False
    return not (exclusive(args) or _himport(args) or not plain(conn) or _health_due(conn))


async def _attempt(client: Any, conn: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``Redis._send_command_parse_response`` for one try on ``conn``."""
    if not _direct(conn, args, options):
        return await client._send_command_parse_response(conn, args[0], *args, **options)
    chunks = conn._rp_packer.pack(*args)
    lane = Lane(asyncio.get_running_loop())
    lane.attach(conn)
    future = lane.expect(0)
    try:
        lane.transport.writelines(chunks)
        reply = await future
    except ResponseError:
        if options and EMPTY_RESPONSE in options:
            return options[EMPTY_RESPONSE]
        raise
    except BaseException:  # cancelled: the reply is never read, so nor is the connection
        if lane.state == Lane.OPEN and lane.waiting:
            lane.fail(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        raise
    return await _converted(client.response_callbacks, args[0], reply, options)


def _fused(client: Any) -> bool:
    """Whether ``client``'s commands may take this path (else redis-py's own)."""
    return (
        fastpath.async_metrics_off()
        and fastpath.aclient(type(client))
        and not fastpath.overridden(client, fastpath.CLIENT_METHODS[1:])
    )


async def execute_command(client: Any, *args: Any, **options: Any) -> Any:
    """``Redis.execute_command``: on a shared lane with auto-pipelining on (see
    ``shared``), else checkout, one try through a lane, release; redis-py's own while
    its metrics are on or the client's class parses as redis-py's does not."""
    if not _fused(client):
        return await RedisClient.execute_command(client, *args, **options)
    args[0]  # redis-py's IndexError for no command, before a checkout
    if (
        client.auto_pipeline
        and client.connection is None
        and not client.single_connection_client
        and _shareable(args, options)
    ):
        return await _shared(client, args, options)
    return await _run(client, args, options)


async def _run(client: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``Redis.execute_command``, metrics off."""
    single = client.single_connection_client
    if single:
        await client.initialize()
    pool = client.connection_pool
    conn = client.connection or await pool.get_connection()
    if single:
        await client._single_conn_lock.acquire()
    try:
        retry = conn.retry
        if not fastpath.aretry(type(retry)) or fastpath.overridden(retry, ("call_with_retry",)):
            return await _retry(client, conn, args, options, None, False)  # every try
        try:
            return await _attempt(client, conn, args, options)
        except Exception as error:  # redis-py's policy decides, from its first step on
            first = error
        try:  # outside the except: a later try's error is not chained to the first
            return await _retry(client, conn, args, options, first, False)
        finally:
            del first
    finally:
        try:
            if single and conn and conn.should_reconnect():
                await client._close_connection(conn)
                await conn.connect()
        finally:
            if single:
                client._single_conn_lock.release()
            if not client.connection:
                await _release(pool, conn)


async def _release(pool: Any, conn: Any) -> None:
    """``await pool.release(conn)``, without a coroutine where redispool's pool can."""
    if not _pool_releases(pool):
        await pool.release(conn)
        return
    rest = pool.release_nowait(conn)
    if rest is not None:
        await rest


async def _retry(
    client: Any,
    conn: Any,
    args: tuple[Any, ...],
    options: dict[str, Any],
    first: Exception | None,
    elsewhere: bool,
) -> Any:
    """``conn.retry.call_with_retry`` as ``Redis.execute_command`` calls it, with
    redis-py's failure callback; the policy is first handed a try that raises ``first``
    (None: every try runs under it). ``elsewhere``: ``first`` failed on a shared lane's
    connection, which is closed and gone, so its failure closes nothing here."""
    pending = [] if first is None else [first]
    start = monotonic()
    name = args[0]

    async def attempt() -> Any:
        if pending:
            raise pending.pop()
        return await _attempt(client, conn, args, options)

    async def failure_callback(error: Exception, failure_count: int) -> None:
        if elsewhere and failure_count == 1:
            return
        await client._close_connection(conn, error, failure_count, start, name)

    try:
        return await conn.retry.call_with_retry(attempt, failure_callback, with_failure_count=True)
    finally:
        del pending[:]


# ---- auto-pipelining -----------------------------------------------------------------------


def _shareable(args: tuple[Any, ...], options: dict[str, Any]) -> bool:
    """Whether a command may share a connection with other callers' commands."""
    if options and NEVER_DECODE in options:
        return False
    return not exclusive(args)


async def _shared(client: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """One command on the client's shared lane; a try that failed goes to redis-py's
    ``Retry`` policy (``_retry_shared``)."""
    try:
        value = await _lane_try(client, args, options)
    except Exception as error:  # the policy decides, from the first try on
        first = error
    else:
        if value is DEDICATED:
            return await _run(client, args, options)
        if type(value) is Unretried:
            raise value.error
        return value
    try:  # outside the except: a later try's error is not chained to the first
        return await _retry_shared(client, args, options, first)
    finally:
        del first


async def _lane_try(client: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """One try of a command on the client's shared lane (a new one, its connection
    checked out, where there is none that takes commands): the reply as
    ``parse_response`` makes it, ``DEDICATED`` where no lane could take it, or the
    checkout's error as ``Unretried`` (in both, the command was not written)."""
    packer = client._rp_packer
    if packer is None:
        encoder = client.connection_pool.get_encoder()
        packer = client._rp_packer = Packer(encoder.encoding, encoder.encoding_errors)
    chunks = packer.pack(*args)  # a DataError here is this command's alone
    loop = asyncio.get_running_loop()
    lane = client._rp_lane
    if lane is None or lane.loop is not loop or not lane.accepting():
        lane = client._rp_lane = Lane(loop, client.connection_pool)
        future = lane.queue(chunks, 0)
        opened = await _open(lane)
        if opened is not None:
            return opened
    else:
        future = lane.queue(chunks, 0)
    try:
        reply = await future
    except ResponseError:
        if options and EMPTY_RESPONSE in options:
            return options[EMPTY_RESPONSE]
        raise
    if reply is DEDICATED or type(reply) is Unretried:
        return reply
    return await _converted(client.response_callbacks, args[0], reply, options)


async def _open(lane: Lane) -> Any:
    """Check a connection out for ``lane`` and attach it (None). Where the checkout
    fails, every command queued gets its error (``Unretried``); where a lane cannot read
    the connection (or redis-py's path must do what a lane cannot: a due health check),
    ``DEDICATED``: each runs on a connection of its own."""
    pool = lane.pool
    try:
        conn = await pool.get_connection()
    except Exception as error:
        lane.abandon(error)
        return Unretried(error)
    except BaseException:  # cancelled: the commands queued behind are not
        lane.abandon()
        raise
    if not _pool_releases(pool) or not plain(conn) or _health_due(conn):
        lane.abandon()
        await pool.release(conn)
        return DEDICATED
    lane.attach(conn)
    return None


async def _retry_shared(
    client: Any, args: tuple[Any, ...], options: dict[str, Any], first: Exception
) -> Any:
    """A command whose try on the shared lane raised ``first``: the connections'
    ``Retry`` policy decides as in ``Redis.execute_command``, each further try going to
    the shared lane again (a failed lane closed its connection and is replaced, so the
    failed commands of a burst go out together again, on one new connection)."""
    retry = client.get_retry()
    if retry is None:
        raise first
    pending = [first]

    async def attempt() -> Any:
        if pending:
            raise pending.pop()
        value = await _lane_try(client, args, options)
        if value is DEDICATED:
            return await _run(client, args, options)
        if type(value) is Unretried:
            raise value.error
        return value

    async def failure_callback(error: Exception, failure_count: int) -> None:
        """redis-py's closes the connection: a failed lane has closed its own."""

    try:
        return await retry.call_with_retry(attempt, failure_callback, with_failure_count=True)
    finally:
        del pending[:]


# ---- pipelines ----------------------------------------------------------------------------


def pipeline_command(pipe: Any, *args: Any, **kwargs: Any) -> Any:
    """``Pipeline.execute_command``: run now while WATCHing, else queue (``command_stack``
    appended to inline while ``pipeline_execute_command`` is redis-py's own and nothing
    wraps redis-py's ``execute_command``)."""
    if not fastpath.aqueue(type(pipe)) or fastpath.overridden(pipe, ("pipeline_execute_command",)):
        return RedisPipeline.execute_command(pipe, *args, **kwargs)
    if (pipe.watching or args[0] == "WATCH") and not pipe.explicit_transaction:
        return pipe.immediate_execute_command(*args, **kwargs)
    pipe.command_stack.append((args, kwargs))
    return pipe


def _sendable(pipe: Any, conn: Any, commands: list[Any]) -> bool:
    """Whether a stack goes through a lane: a plain connection and pipeline class, no
    HIMPORT (its fieldsets are prepared first, its DISCARDs sent before any pipeline) and
    no command that asks for undecoded replies."""
    if (
        not fastpath.async_metrics_off()
        or not fastpath.apipeline(type(pipe))
        or fastpath.overridden(pipe, fastpath.PIPELINE_METHODS)
        or not plain(conn)
        or _health_due(conn)
    ):
        return False
    registry = getattr(conn, "himport_registry", None)
    if (
        isinstance(registry, HImportRegistry)
        and conn._himport_reconciled_revision != registry.revision
    ):
        return False
    return not any(NEVER_DECODE in options or _himport(args) for args, options in commands)


async def _replies(conn: Any, stack: list[Any]) -> list[Any]:
    """Write ``stack`` in one buffer and read all its replies (error replies among them)."""
    chunks = conn._rp_packer.pack_commands(stack)
    lane = Lane(asyncio.get_running_loop())
    lane.attach(conn)
    future = lane.expect(len(stack))
    try:
        lane.transport.writelines(chunks)
        replies: list[Any] = await future
    except BaseException:  # cancelled: the replies are never read, so nor is the connection
        if lane.state == Lane.OPEN and lane.waiting:
            lane.fail(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        raise
    return replies


def _raise_unread(replies: list[Any]) -> None:
    """What redis-py's read raises instead of returning (a connection-level error reply,
    a reply that could not be decoded; the lane put the exception in the reply's place):
    raised here too, its connection closed once drained."""
    for reply in replies:
        if isinstance(reply, (RedisConnectionError, UnicodeError)):
            raise reply


async def run_pipeline(
    pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool
) -> list[Any]:
    """``Pipeline._execute_pipeline``."""
    if not _sendable(pipe, conn, commands):
        done: list[Any] = await RedisPipeline._execute_pipeline(
            pipe, conn, commands, raise_on_error
        )
        return done
    replies = await _replies(conn, [args for args, _ in commands])
    unwatch = pipe.UNWATCH_COMMANDS
    callbacks = pipe.response_callbacks
    responses: list[Any] = []
    for (args, options), reply in zip(commands, replies, strict=True):
        if isinstance(reply, ResponseError):
            responses.append(
                options[EMPTY_RESPONSE] if options and EMPTY_RESPONSE in options else reply
            )
            continue
        if isinstance(reply, (RedisConnectionError, UnicodeError)):
            raise reply
        name = args[0]
        try:
            responses.append(await _converted(callbacks, name, reply, options))
        except ResponseError as e:
            responses.append(e)
            continue
        if name in unwatch:
            pipe.watching = False
        elif name == "WATCH":
            pipe.watching = True
    if raise_on_error:
        pipe.raise_first_error(commands, responses)
    return responses


async def run_transaction(
    pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool
) -> list[Any]:
    """``Pipeline._execute_transaction``."""
    if not _sendable(pipe, conn, commands):
        done: list[Any] = await RedisPipeline._execute_transaction(
            pipe, conn, commands, raise_on_error
        )
        return done
    stack: list[Any] = [("MULTI",)]
    stack += [args for args, options in commands if EMPTY_RESPONSE not in options]
    stack.append(("EXEC",))
    replies = await _replies(conn, stack)
    _raise_unread(replies)
    errors: list[Any] = []
    if isinstance(replies[0], ResponseError):
        errors.append((0, replies[0]))
    at = 1
    for i, command in enumerate(commands):
        if EMPTY_RESPONSE in command[1]:
            errors.append((i, command[1][EMPTY_RESPONSE]))
            continue
        reply = replies[at]
        at += 1
        if isinstance(reply, ResponseError):
            pipe.annotate_exception(reply, i + 1, command[0])
            errors.append((i, reply))
    response = replies[at]
    if isinstance(response, ExecAbortError):
        if errors:
            raise errors[0][1] from response
        raise response
    if isinstance(response, ResponseError):
        raise response
    pipe.watching = False
    if response is None:
        raise WatchError("Watched variable changed.") from None
    for i, e in errors:
        response.insert(i, e)
    if len(response) != len(commands):
        if pipe.connection:
            await pipe.connection.disconnect()
        raise ResponseError("Wrong number of response items from pipeline execution") from None
    if raise_on_error:
        pipe.raise_first_error(commands, response)
    callbacks = pipe.response_callbacks
    data = []
    for r, cmd in zip(response, commands, strict=False):
        if not isinstance(r, Exception):
            args, options = cmd
            options.pop("keys", None)
            name = args[0]
            if name in callbacks:
                r = callbacks[name](r, **options)
                if inspect.isawaitable(r):
                    r = await r
        data.append(r)
    return data
