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
from redis.client import CaseInsensitiveDict
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import HImportRegistry

from . import _compat, fastpath
from ._command_py import EMPTY_RESPONSE, NEVER_DECODE, _himport
from ._compat import SERVER_CLOSED_CONNECTION_ERROR
from ._impl import Packer
from .asyncio.fast_io import ConnectionIO
from .asyncio.parser import NOT_ENOUGH_DATA
from .exclusive import exclusive
from .push import PushNotification

__all__ = (
    "Lane",
    "execute_command",
    "pipeline_command",
    "run_pipeline",
    "run_transaction",
)

#: A shared lane's answer to a command it never wrote: run it on a connection of its own.
DEDICATED: Any = object()
_MISSING: Any = object()
_RELEASING: set[Any] = set()  # releases finishing in tasks of their own, kept from the GC
#: Reply types a callback's result is never awaited for (the rest go to ``isawaitable``).
_PLAIN = frozenset({bytes, str, int, float, bool, list, dict, set, tuple, type(None)})


class Lane(asyncio.Protocol):
    """The replies owed on one connection, resolved in order as they arrive.

    ``waiting`` holds one entry per expected reply group: ``(future, count, deadline)``;
    a future gets its reply (``count`` 1) or the list of ``count`` replies, error replies
    included (a pipeline). A future nobody waits for any longer (its task was
    cancelled) has its reply read and dropped, so every later reply still goes where it
    belongs. ``socket_timeout`` is a deadline per entry, counted from when it was
    queued; one timer per lane looks at the oldest. A failure (timeout, a closed or
    reset connection, bytes that are not RESP) fails every entry in flight with
    redis-py's exception for it and closes the connection, as redis-py's read would.
    """

    __slots__ = (
        "conn",
        "loop",
        "original",
        "out",
        "packer",
        "parser",
        "poisoned",
        "pool",
        "reader",
        "replies",
        "state",
        "timeout",
        "timer",
        "transport",
        "unsent",
        "waiting",
    )

    OPENING, OPEN, CLOSED = 0, 1, 2

    def __init__(self, loop: Any, pool: Any = None) -> None:
        #: the pool a shared lane gives its connection back to (None: the caller does)
        self.pool = pool
        self.loop = loop
        self.waiting: deque[tuple[Any, int, float]] = deque()
        self.out: list[Any] = []  # chunks queued and not yet written (shared lanes)
        self.replies: list[Any] = []  # the replies so far of the oldest group
        self.unsent = 0  # commands in ``out``
        self.state = Lane.OPENING
        self.poisoned = False  # a reply said the connection must close once drained
        self.timer: Any = None
        self.timeout: Any = None
        self.conn: Any = None
        self.transport: Any = None
        self.original: Any = None
        self.reader: Any = None
        self.parser: Any = None
        self.packer: Any = None

    # ---- attaching ---------------------------------------------------------------------------
    def attach(self, conn: Any) -> None:
        """Take over the transport of ``conn``, which ``plain`` said a lane can read."""
        transport = conn._writer.transport
        self.conn = conn
        self.transport = transport
        self.parser = parser = conn._parser
        self.reader = parser._reader
        self.packer = conn._rp_packer
        self.timeout = conn.socket_timeout
        self.original = transport.get_protocol()
        transport.set_protocol(self)
        self.state = Lane.OPEN
        timeout = self.timeout
        if timeout and self.waiting:  # queued while the connection was checked out
            deadline = self.loop.time() + timeout
            self.waiting = deque((future, count, deadline) for future, count, _ in self.waiting)
            self.timer = self.loop.call_later(timeout, self.expire)
        if self.out:
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

    # ---- writing -----------------------------------------------------------------------------
    def expect(self, count: int) -> Any:
        """A future for the next ``count`` replies (their chunks are written by the caller
        or queued with ``queue``)."""
        future = self.loop.create_future()
        timeout = self.timeout
        if timeout:
            self.waiting.append((future, count, self.loop.time() + timeout))
            if self.timer is None:
                self.timer = self.loop.call_later(timeout, self.expire)
        else:
            self.waiting.append((future, count, 0.0))
        return future

    def queue(self, chunks: Any, count: int) -> Any:
        """Queue a packed command (shared lanes): written with whatever else is queued by
        the end of this event-loop iteration."""
        if not self.out and self.state == Lane.OPEN:
            self.loop.call_soon(self.flush)
        self.out += chunks
        self.unsent += count
        return self.expect(count)

    def flush(self) -> None:
        """Write what is queued, counting its replies in the connection's ledger."""
        if self.state != Lane.OPEN or not self.out:
            return
        self.packer.owed += self.unsent
        self.unsent = 0
        out, self.out = self.out, []
        self.transport.writelines(out)

    # ---- reading -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        reader = self.reader
        waiting = self.waiting
        reader.feed(data)
        try:
            while True:
                reply = reader.gets()
                if reply is NOT_ENOUGH_DATA:
                    break
                kind = type(reply)
                if kind is PushNotification:
                    self.push(reply)
                    continue
                if not waiting:  # a reply nobody asked for: the stream is not RESP we sent
                    raise RedisConnectionError("Connection has data")
                self.packer.replied()
                if kind is not bytes and kind is not int and kind is not str:
                    self.check(reply)
                future, count, _deadline = waiting[0]
                if count == 1:
                    waiting.popleft()
                    if not future.done():
                        if isinstance(reply, ResponseError):
                            future.set_exception(reply)
                        else:
                            future.set_result(reply)
                    continue
                replies = self.replies
                replies.append(reply)
                if len(replies) == count:  # a pipeline's replies, error replies among them
                    waiting.popleft()
                    self.replies = []
                    if not future.done():
                        future.set_result(replies)
        except Exception as error:
            self.fail(error)
            return
        if not waiting and not self.out:
            self.quiet()

    def check(self, reply: Any) -> None:
        """What redis-py's parser does with a reply that is not plain data: a demoted
        server and a connection-level error close the connection once drained."""
        if isinstance(reply, RedisConnectionError) or (
            type(reply) is list and reply and isinstance(reply[0], RedisConnectionError)
        ):
            self.poisoned = True
        elif isinstance(reply, ReadOnlyError):
            self.packer.demoted = True

    def push(self, reply: Any) -> None:
        """A push message (RESP3) between replies: redis-py's parser's handler gets it."""
        handled = self.parser.handle_push_response(reply)
        if inspect.isawaitable(handled):
            self.loop.create_task(handled)

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
        conn, self.conn = self.conn, None
        if conn is not None:
            rest = self.pool.release_nowait(conn)
            if rest is not None:  # redis-py's release event (re-authentication, say)
                task = self.loop.create_task(rest)
                _RELEASING.add(task)
                task.add_done_callback(_RELEASING.discard)

    def abandon(self) -> None:
        """A shared lane that did not open: nothing queued on it was written, so each
        command is told to run on a connection of its own."""
        self.state = Lane.CLOSED
        waiting, self.waiting = self.waiting, deque()
        self.out = []
        self.unsent = 0
        for future, _count, _deadline in waiting:
            if not future.done():
                future.set_result(DEDICATED)

    # ---- failing -----------------------------------------------------------------------------
    def expire(self) -> None:
        """The timer: the oldest entry past its deadline fails the lane."""
        self.timer = None
        waiting = self.waiting
        if not waiting:
            return
        left = waiting[0][2] - self.loop.time()
        if left > 0:
            self.timer = self.loop.call_later(left, self.expire)
            return
        host = self.conn._host_error()
        self.fail(RedisTimeoutError(f"Timeout reading from {host}"))

    def fail(self, error: BaseException) -> None:
        """Every entry in flight gets ``error`` (a copy each), and the connection closes."""
        conn = self.conn
        self.detach()
        waiting, self.waiting = self.waiting, deque()
        self.out = []
        self.replies = []
        self.unsent = 0
        if conn is not None:
            _compat.close_now(conn)
        for future, _count, _deadline in waiting:
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


def _copy(error: BaseException) -> BaseException:
    """A fresh exception like ``error``, so no two tasks share one traceback."""
    try:
        return type(error)(*error.args)
    except Exception:
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
    own: dict[str, Any] = getattr(conn, "__dict__", None) or {}
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
    stream = conn._reader
    return not (stream is None or stream._buffer or stream._eof)


# ---- one command ---------------------------------------------------------------------------


def callback_for(callbacks: Any, name: Any) -> Any:
    """``callbacks[name]`` if ``name in callbacks``, else ``_MISSING`` (the keys of a
    ``CaseInsensitiveDict`` are upper-case: an upper-case name is looked up as it is)."""
    if type(callbacks) is CaseInsensitiveDict and type(name) is str and name.isupper():
        return dict.get(callbacks, name, _MISSING)
    if name in callbacks:
        return callbacks[name]
    return _MISSING


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
    future = lane.expect(1)
    lane.transport.writelines(chunks)
    try:
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
    if client.auto_pipeline and not client.single_connection_client and _shareable(args, options):
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
    release_nowait = getattr(pool, "release_nowait", None)
    if release_nowait is None:
        await pool.release(conn)
        return
    rest = release_nowait(conn)
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
    """One command on the client's shared lane, opened (a connection checked out) by the
    first command that finds none."""
    packer = client._rp_packer
    if packer is None:
        encoder = client.connection_pool.get_encoder()
        packer = client._rp_packer = Packer(encoder.encoding, encoder.encoding_errors)
    chunks = packer.pack(*args)  # a DataError here is this command's alone
    loop = asyncio.get_running_loop()
    lane = client._rp_lane
    if lane is None or lane.state == Lane.CLOSED or lane.loop is not loop:
        lane = client._rp_lane = Lane(loop, client.connection_pool)
        future = lane.queue(chunks, 1)
        if not await _open(client, lane):
            return await _run(client, args, options)
    else:
        future = lane.queue(chunks, 1)
    try:
        reply = await future
    except ResponseError:
        if options and EMPTY_RESPONSE in options:
            return options[EMPTY_RESPONSE]
        raise
    except (RedisConnectionError, RedisTimeoutError) as error:
        first = error  # the lane failed, closing its connection: redis-py's retries decide
    else:
        if reply is DEDICATED:
            return await _run(client, args, options)
        return await _converted(client.response_callbacks, args[0], reply, options)
    try:
        return await _retry_elsewhere(client, args, options, first)
    finally:
        del first


async def _open(client: Any, lane: Lane) -> bool:
    """Check a connection out for ``lane``; False (every command queued on it told to
    run on a connection of its own) where it cannot be read by a lane."""
    pool = lane.pool
    try:
        conn = await pool.get_connection()
    except BaseException:
        lane.abandon()
        raise
    if getattr(pool, "release_nowait", None) is None or not plain(conn) or _health_due(conn):
        lane.abandon()
        await pool.release(conn)
        return False
    lane.attach(conn)
    return True


async def _retry_elsewhere(
    client: Any, args: tuple[Any, ...], options: dict[str, Any], first: Exception
) -> Any:
    """A command whose shared lane failed: redis-py's ``Retry`` policy decides, trying
    again (if at all) on a connection of its own, as if ``first`` had been its first try."""
    pool = client.connection_pool
    conn = await pool.get_connection()
    try:
        return await _retry(client, conn, args, options, first, True)
    finally:
        await _release(pool, conn)


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
    lane.transport.writelines(chunks)
    try:
        replies: list[Any] = await future
    except BaseException:  # cancelled: the replies are never read, so nor is the connection
        if lane.state == Lane.OPEN and lane.waiting:
            lane.fail(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        raise
    return replies


def _raise_connection_error(replies: list[Any]) -> None:
    """A reply redis-py's parser raises (a connection-level error): raised here too, as
    redis-py's read raises it, its connection closed."""
    for reply in replies:
        if isinstance(reply, RedisConnectionError):
            raise reply
        if type(reply) is list and reply and isinstance(reply[0], RedisConnectionError):
            raise reply[0]


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
        if isinstance(reply, RedisConnectionError) or (
            type(reply) is list and reply and isinstance(reply[0], RedisConnectionError)
        ):
            _raise_connection_error([reply])
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
    _raise_connection_error(replies)
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
