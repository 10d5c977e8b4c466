# cython: language_level=3, freethreading_compatible=True, boundscheck=True
"""Compiled twin of ``redispool._acommand_py``: redis.asyncio's command path, fused, and
auto-pipelining.

Same classes, functions, steps and results as the pure twin (whose docstrings say which
redis-py method each step stands for). Here ``Lane`` is a C class whose reply loop runs
without a Python frame per reply, the checks of ``redispool.fastpath`` are remembered
per class until it changes, and a command that takes the common path (a lane of its
own, or the shared one) runs in one coroutine instead of three.
"""

import inspect
from asyncio import CancelledError, get_running_loop
from asyncio import ensure_future as _ensure_future
from collections import deque
from time import monotonic

cimport cython
from _class_checks cimport known as _known
from _class_checks cimport overridden as _overridden

import redis.asyncio.client
import redis.observability.providers as _providers
import redis.observability.recorder as _recorder
import redis.asyncio.observability.recorder as _arecorder
from redis.client import CaseInsensitiveDict
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import HImportRegistry
from redis.observability.providers import get_observability_instance

from redispool import _compat, fastpath
from redispool._command_py import EMPTY_RESPONSE, NEVER_DECODE, _himport
from redispool._compat import SERVER_CLOSED_CONNECTION_ERROR
from redispool._impl import Packer
from redispool.asyncio.fast_io import ConnectionIO
from redispool.asyncio.parser import NOT_ENOUGH_DATA
from redispool import exclusive as _exclusive_module
from redispool.exclusive import exclusive
from redispool.push import PushNotification

__all__ = (
    "Lane",
    "Unretried",
    "execute_command",
    "pipeline_command",
    "run_pipeline",
    "run_transaction",
)

#: A shared lane's answer to a command it never wrote: run it on a connection of its own.
DEDICATED = object()
cdef object _DEDICATED = DEDICATED
cdef object _MISSING = object()
cdef object _UNKNOWN = object()
cdef object _NOT_ENOUGH = NOT_ENOUGH_DATA
cdef object _NEVER_DECODE = NEVER_DECODE
cdef object _EMPTY_RESPONSE = EMPTY_RESPONSE
cdef set _RELEASING = set()  # releases finishing in tasks of their own, kept from the GC
cdef frozenset _PLAIN = frozenset(
    {bytes, str, int, float, bool, list, dict, set, tuple, type(None)}
)
cdef object _RedisClient = redis.asyncio.client.Redis
cdef object _RedisPipeline = redis.asyncio.client.Pipeline
cdef object _isawaitable = inspect.isawaitable
cdef tuple _LEDGER_TYPES = _compat.LEDGER_TYPES
cdef object _close_now = _compat.close_now
cdef tuple _CLIENT_METHODS = fastpath.CLIENT_METHODS[1:]
cdef tuple _PIPELINE_METHODS = fastpath.PIPELINE_METHODS
cdef tuple _PARSER_METHODS = fastpath.PARSER_METHODS
cdef tuple _CONNECTION_METHODS = (*fastpath.ASYNC_CONNECTION_METHODS, "pack_command")
cdef tuple _RETRY_METHODS = ("call_with_retry",)
cdef tuple _QUEUE_METHODS = ("pipeline_execute_command",)
# fastpath's checks, looked up once
cdef object _aconnection = fastpath.aconnection
cdef object _aretry = fastpath.aretry
cdef object _aparser = fastpath.aparser
cdef object _aclient = fastpath.aclient
cdef object _apool = fastpath.apool
cdef object _aqueue = fastpath.aqueue
cdef object _apipeline = fastpath.apipeline
cdef tuple _POOL_METHODS = ("release", "release_nowait", "_put_back")

cdef enum:  # Lane.OPENING, Lane.OPEN, Lane.CLOSED
    S_OPENING = 0
    S_OPEN = 1
    S_CLOSED = 2


# fastpath's answers per class, each with the class's version tag when it was given
cdef dict _connections = {}
cdef dict _clients = {}
cdef dict _pipelines = {}
cdef dict _queues = {}
cdef dict _parsers = {}
cdef dict _retries = {}
cdef dict _pools = {}


cdef bint _metrics_off() except -1:
    """``fastpath.async_metrics_off``, its common case without a call."""
    if _arecorder._async_metrics_collector is not None:
        return False
    if _recorder._metrics_collector is not None:
        return False
    instance = getattr(_providers, "_observability_instance", _UNKNOWN)
    if instance is None:
        return True
    if instance is _UNKNOWN:
        instance = get_observability_instance()
    return instance.get_provider_manager() is None


@cython.final
cdef class Lane:
    """The replies owed on one connection, resolved in order as they arrive (see the
    pure twin's ``Lane``)."""

    cdef public object conn, held, loop, original, packer, parser, pending, pool
    cdef public object reader, replies, retry, timer, transport, waiting
    cdef public int state
    cdef public bint poisoned
    cdef public double progress

    OPENING = 0
    OPEN = 1
    CLOSED = 2

    def __init__(self, loop, pool=None):
        self.pool = pool
        self.loop = loop
        self.waiting = deque()
        self.pending = []
        self.replies = []
        self.state = S_OPENING
        self.poisoned = False
        self.progress = 0.0

    # ---- attaching ---------------------------------------------------------------------------
    def attach(self, conn):
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
        self.state = S_OPEN
        if self.pending:
            self.flush()

    cpdef detach(self):
        """Give the transport back to redis-py's stream protocol."""
        transport = self.transport
        if transport is not None and transport.get_protocol() is self:
            transport.set_protocol(self.original)
        timer = self.timer
        if timer is not None:
            timer.cancel()
            self.timer = None

    cpdef bint accepting(self) except -1:
        """Whether a shared lane takes more commands (see the pure twin)."""
        if self.state == S_OPENING:
            return True
        return (
            self.state == S_OPEN
            and not self.poisoned
            and not self.packer.demoted
            and not self.conn._should_reconnect
        )

    # ---- writing -----------------------------------------------------------------------------
    cpdef object expect(self, Py_ssize_t count):
        """A future for the next reply (``count`` 0) or list of ``count`` replies."""
        future = self.loop.create_future()
        self.waiting.append((future, count, self.progress))  # attached just now
        self.arm()
        return future

    cpdef arm(self):
        """Start the timer, if there is a timeout and none runs."""
        if self.timer is None:
            timeout = self.conn.socket_timeout
            if timeout:
                self.timer = self.loop.call_later(timeout, self.expire)

    cpdef object queue(self, object chunks, Py_ssize_t count):
        """Queue a packed command on a shared lane (see the pure twin)."""
        loop = self.loop
        if not self.pending and self.state == S_OPEN:
            loop.call_soon(self.flush)
        future = loop.create_future()
        (<list>self.pending).append((future, chunks, count))
        return future

    def flush(self):
        """Write what is queued (but what nobody waits for any longer)."""
        cdef list pending
        cdef list out
        cdef tuple entry
        cdef Py_ssize_t owed = 0
        if self.state != S_OPEN or not self.pending:
            return
        pending = self.pending
        self.pending = []
        waiting = self.waiting
        out = []
        now = self.loop.time()
        for entry in pending:
            future = entry[0]
            if future.done():  # cancelled before it was written: never sent
                continue
            out.extend(entry[1])
            waiting.append((future, entry[2], now))
            owed += <Py_ssize_t>entry[2] or 1
        if out:
            self.packer.owed += owed
            self.transport.writelines(out)
            self.arm()
        elif not waiting and self.held is None:
            self.quiet()

    # ---- reading -----------------------------------------------------------------------------
    def data_received(self, data):
        self.reader.feed(data)
        self.progress = self.loop.time()
        if self.held is None:
            self.parse()

    cpdef parse(self):
        """Resolve every complete reply the Reader holds."""
        cdef list replies
        cdef tuple entry
        cdef Py_ssize_t count
        reader = self.reader
        waiting = self.waiting
        try:
            while True:
                try:
                    reply = reader.gets()
                except UnicodeError as decoding:  # the reply is read: it fails its caller
                    reply = decoding
                if reply is _NOT_ENOUGH:
                    break
                kind = type(reply)
                if kind is PushNotification:
                    if self.push(reply):
                        return
                    continue
                if not waiting:
                    raise RedisConnectionError("Connection has data")
                self.packer.replied()
                error = None
                if kind is not bytes and kind is not int and kind is not str:
                    error = self.check(reply)
                entry = <tuple>waiting[0]
                future = entry[0]
                count = entry[1]
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
                if len(replies) == count:
                    waiting.popleft()
                    self.replies = []
                    if not future.done():
                        future.set_result(replies)
        except Exception as error:
            self.fail(error)
            return
        if not waiting and not self.pending:
            self.quiet()

    cdef object check(self, reply):
        """What redis-py raises for a reply that is not plain data (see the pure twin)."""
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

    cdef bint push(self, reply) except -1:
        """A push message goes to redis-py's parser's handler; True when it is awaited."""
        handled = self.parser.handle_push_response(reply)
        if not _isawaitable(handled):
            return False
        task = _ensure_future(handled, loop=self.loop)
        self.held = task
        task.add_done_callback(self.pushed)
        return True

    def pushed(self, task):
        """A push handler finished (see the pure twin)."""
        self.held = None
        if self.state != S_OPEN or self.transport.get_protocol() is not self:
            return
        if task.cancelled():
            self.fail(CancelledError())
            return
        error = task.exception()
        if error is not None:
            self.fail(error)
            return
        self.parse()

    cpdef quiet(self):
        """Nothing owed: the transport goes back; a shared lane gives its connection back."""
        conn = self.conn
        self.detach()
        interval = conn.health_check_interval
        if interval:
            conn.next_health_check = self.loop.time() + interval
        if self.poisoned:
            _close_now(conn)
        if self.pool is not None:
            self.close()

    cpdef close(self):
        """A shared lane stops taking commands and gives its connection back."""
        if self.state == S_CLOSED:
            return
        self.state = S_CLOSED
        conn = self.conn
        self.conn = self.transport = self.original = self.reader = self.parser = None
        if conn is not None:
            rest = self.pool.release_nowait(conn)
            if rest is not None:  # redis-py's release event (re-authentication, say)
                task = self.loop.create_task(rest)
                _RELEASING.add(task)
                task.add_done_callback(_RELEASING.discard)

    cpdef abandon(self, error=None):
        """A shared lane that did not open (see the pure twin)."""
        self.state = S_CLOSED
        pending = self.pending
        self.pending = []
        for entry in pending:
            future = (<tuple>entry)[0]
            if not future.done():
                future.set_result(_DEDICATED if error is None else Unretried(_copy(error)))

    # ---- failing -----------------------------------------------------------------------------
    def expire(self):
        """The timer: past the deadline of the oldest entry, the lane fails."""
        self.timer = None
        waiting = self.waiting
        timeout = self.conn.socket_timeout if self.conn is not None else None
        if not waiting or not timeout:
            return
        left = max(<double>(<tuple>waiting[0])[2], self.progress) + timeout - self.loop.time()
        if left > 0:
            self.timer = self.loop.call_later(left, self.expire)
            return
        host = self.conn._host_error()
        self.fail(RedisTimeoutError(f"Timeout reading from {host}"))

    cpdef fail(self, error):
        """Every entry, written or not, gets ``error`` (a copy each); the connection closes."""
        conn = self.conn
        self.detach()
        waiting = self.waiting
        self.waiting = deque()
        pending = self.pending
        self.pending = []
        self.replies = []
        if conn is not None:
            _close_now(conn)
        for entry in waiting:
            future = (<tuple>entry)[0]
            if not future.done():
                future.set_exception(_copy(error))
        for entry in pending:
            future = (<tuple>entry)[0]
            if not future.done():
                future.set_exception(_copy(error))
        if self.pool is not None:
            self.close()

    def connection_made(self, transport):
        pass

    def connection_lost(self, exc):
        original = self.original
        if exc is None:
            error = RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        else:
            host = self.conn._host_error()
            error = RedisConnectionError(f"Error while reading from {host} : {exc.args}")
        self.fail(error)
        original.connection_lost(exc)

    def eof_received(self):
        self.fail(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
        return None

    def pause_writing(self):
        self.original.pause_writing()

    def resume_writing(self):
        self.original.resume_writing()


@cython.final
cdef class Unretried:
    """A command's outcome raised before redis-py's ``Retry`` policy runs (see the pure
    twin)."""

    cdef public object error

    def __init__(self, error):
        self.error = error


cdef object _copy(object error):
    """A fresh exception like ``error``, so no two tasks share one traceback."""
    try:
        return type(error)(*error.args)
    except Exception:
        return error


cdef bint _own_io(object conn, str name, object value, object packer) except -1:
    """Whether ``conn``'s own ``name`` is redispool's (``fast_io``, the pool's Packer)."""
    owner = getattr(value, "__self__", None)
    if name == "pack_command":
        return owner is not None and owner is packer
    return type(owner) is ConnectionIO


cdef bint _plain(object conn) except -1:
    """``plain``, with the class checks remembered per class."""
    if not _known(_connections, type(conn), _aconnection):
        return False
    cdef dict own
    found = getattr(conn, "__dict__", None)
    if type(found) is not dict:
        return False
    own = <dict>found
    packer = own.get("_rp_packer")
    if not isinstance(packer, _LEDGER_TYPES):
        return False
    for name in _CONNECTION_METHODS:
        value = own.get(name)
        if value is not None and not _own_io(conn, name, value, packer):
            return False
    retry = conn.retry
    if not _known(_retries, type(retry), _aretry) or _overridden(retry, _RETRY_METHODS):
        return False
    writer = conn._writer
    if writer is None or writer.transport.is_closing():
        return False
    parser = conn._parser
    if (
        not _known(_parsers, type(parser), _aparser)
        or _overridden(parser, _PARSER_METHODS)
        or parser._stands_for.read_response is not parser._stands_for_read
    ):
        return False
    reader = parser._reader
    if reader is None or reader.has_data():
        return False
    if getattr(conn, "_re_auth_token", None) is not None:  # re-authenticates on release
        return False
    stream = conn._reader
    return not (stream is None or stream._buffer or stream._eof or stream._waiter is not None)


cdef bint _pool_releases(object pool) except -1:
    """Whether ``pool`` releases as redispool's asyncio pool (see the pure twin)."""
    return _known(_pools, type(pool), _apool) and not _overridden(pool, _POOL_METHODS)


def plain(conn):
    """Whether a lane may read ``conn`` (see the pure twin's ``plain``)."""
    return _plain(conn)


# ---- one command ---------------------------------------------------------------------------


cdef object _callback_for(object callbacks, object name):
    """``callbacks[name]`` if ``name in callbacks``, else ``_MISSING``."""
    if type(callbacks) is CaseInsensitiveDict and type(name) is str and (<str>name).isupper():
        return dict.get(callbacks, name, _MISSING)
    if name in callbacks:
        return callbacks[name]
    return _MISSING


def callback_for(callbacks, name):
    """``callbacks[name]`` if ``name in callbacks`` (see the pure twin)."""
    return _callback_for(callbacks, name)


cdef object _convert(object callbacks, object name, object reply, dict options):
    """A callback's result for ``reply`` (maybe awaitable: the caller awaits it)."""
    callback = _callback_for(callbacks, name)
    if callback is _MISSING:
        return reply
    if options:
        kept = {
            key: value
            for key, value in options.items()
            if key != "keys" and key != _NEVER_DECODE and key != _EMPTY_RESPONSE
        }
        return callback(reply, **kept)
    return callback(reply)


async def _converted(callbacks, name, reply, dict options):
    value = _convert(callbacks, name, reply, options)
    if type(value) not in _PLAIN and _isawaitable(value):
        value = await value
    return value


cdef dict _exclusive_known = _exclusive_module._known


cdef bint _exclusive(tuple args) except -1:
    """``exclusive(args)``, its answer for a name seen before without a call."""
    name = args[0]
    if type(name) is str:
        known = _exclusive_known.get(name)
        if known is not None:
            return known
    return exclusive(args)


cdef bint _no_himport(tuple args) except -1:
    """``not _himport(args)``, a name that cannot be HIMPORT's without a call."""
    name = args[0]
    if type(name) is str and (<str>name)[:1] not in "Hh":
        return True
    return not _himport(args)


cdef bint _health_due(object conn) except -1:
    """Whether redis-py would PING ``conn`` before its next command (its path does)."""
    interval = conn.health_check_interval
    return bool(interval and get_running_loop().time() > conn.next_health_check)


cdef bint _direct(object conn, tuple args, dict options) except -1:
    """Whether one try of ``args`` on ``conn`` goes through a lane."""
    if options and (_NEVER_DECODE in options or "check_health" in options):
        return False
    return not (_exclusive(args) or not _no_himport(args) or not _plain(conn) or _health_due(conn))


cdef int _abort(Lane lane) except -1:
    """A command's task stopped waiting (cancelled): its reply is never read, nor is
    the connection, which closes."""
    if lane.state == S_OPEN and lane.waiting:
        lane.fail(RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR))
    return 0


async def _attempt(client, conn, tuple args, dict options):
    """``Redis._send_command_parse_response`` for one try on ``conn``."""
    if not _direct(conn, args, options):
        return await client._send_command_parse_response(conn, args[0], *args, **options)
    chunks = conn._rp_packer.pack(*args)
    cdef Lane lane = Lane(get_running_loop())
    lane.attach(conn)
    future = lane.expect(0)
    try:
        lane.transport.writelines(chunks)
        reply = await future
    except ResponseError:
        if options and _EMPTY_RESPONSE in options:
            return options[_EMPTY_RESPONSE]
        raise
    except BaseException:
        _abort(lane)
        raise
    value = _convert(client.response_callbacks, args[0], reply, options)
    if type(value) not in _PLAIN and _isawaitable(value):
        value = await value
    return value


cdef bint _fused(object client) except -1:
    """Whether ``client``'s commands may take this path (else redis-py's own)."""
    return (
        _metrics_off()
        and _known(_clients, type(client), _aclient)
        and not _overridden(client, _CLIENT_METHODS)
    )


cdef bint _stock_retry(object retry) except -1:
    return _known(_retries, type(retry), _aretry) and not _overridden(
        retry, _RETRY_METHODS
    )


async def execute_command(client, *args, **options):
    """``Redis.execute_command`` (see the pure twin); the common path in this coroutine."""
    cdef Lane lane
    if not _fused(client):
        return await _RedisClient.execute_command(client, *args, **options)
    args[0]  # redis-py's IndexError for no command, before a checkout
    if (
        client.auto_pipeline
        and client.connection is None
        and not client.single_connection_client
        and _shareable(args, options)
    ):
        return await _shared(client, args, options)
    if client.single_connection_client or client.connection is not None:
        return await _run(client, args, options)
    pool = client.connection_pool
    conn = await pool.get_connection()
    try:
        if not _stock_retry(conn.retry) or not _direct(conn, args, options):
            return await _tries(client, conn, args, options)
        try:  # _attempt, inlined
            chunks = conn._rp_packer.pack(*args)
            lane = Lane(get_running_loop())
            lane.attach(conn)
            future = lane.expect(0)
            try:
                lane.transport.writelines(chunks)
                reply = await future
            except ResponseError:
                if options and _EMPTY_RESPONSE in options:
                    return options[_EMPTY_RESPONSE]
                raise
            except BaseException:
                _abort(lane)
                raise
            value = _convert(client.response_callbacks, args[0], reply, options)
            if type(value) not in _PLAIN and _isawaitable(value):
                value = await value
            return value
        except Exception as error:  # redis-py's policy decides, from its first step on
            first = error
        try:  # outside the except: a later try's error is not chained to the first
            return await _retry(client, conn, args, options, first, False)
        finally:
            del first
    finally:
        if _pool_releases(pool):
            rest = pool.release_nowait(conn)
            if rest is not None:
                await rest
        else:
            await pool.release(conn)


async def _tries(client, conn, tuple args, dict options):
    """Every try of a command on ``conn``, the first outside the policy when it is
    redis-py's own ``Retry``."""
    if not _stock_retry(conn.retry):
        return await _retry(client, conn, args, options, None, False)  # every try
    try:
        return await _attempt(client, conn, args, options)
    except Exception as error:
        first = error
    try:
        return await _retry(client, conn, args, options, first, False)
    finally:
        del first


async def _run(client, tuple args, dict options):
    """``Redis.execute_command``, metrics off."""
    single = client.single_connection_client
    if single:
        await client.initialize()
    pool = client.connection_pool
    conn = client.connection or await pool.get_connection()
    if single:
        await client._single_conn_lock.acquire()
    try:
        return await _tries(client, conn, args, options)
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


async def _release(pool, conn):
    """``await pool.release(conn)``, without a coroutine where redispool's pool can."""
    if not _pool_releases(pool):
        await pool.release(conn)
        return
    rest = pool.release_nowait(conn)
    if rest is not None:
        await rest


async def _retry(client, conn, tuple args, dict options, first, bint elsewhere):
    """``conn.retry.call_with_retry`` as ``Redis.execute_command`` calls it (see the
    pure twin's ``_retry``)."""
    pending = [] if first is None else [first]
    start = monotonic()
    name = args[0]

    async def attempt():
        if pending:
            raise pending.pop()
        return await _attempt(client, conn, args, options)

    async def failure_callback(error, failure_count):
        if elsewhere and failure_count == 1:
            return
        await client._close_connection(conn, error, failure_count, start, name)

    try:
        return await conn.retry.call_with_retry(attempt, failure_callback, with_failure_count=True)
    finally:
        del pending[:]


# ---- auto-pipelining -----------------------------------------------------------------------


cdef bint _shareable(tuple args, dict options) except -1:
    """Whether a command may share a connection with other callers' commands."""
    if options and _NEVER_DECODE in options:
        return False
    return not _exclusive(args)


async def _shared(client, tuple args, dict options):
    """One command on the client's shared lane (see the pure twin's ``_shared``)."""
    try:
        value = await _lane_try(client, args, options)
    except Exception as error:
        first = error
    else:
        if value is _DEDICATED:
            return await _run(client, args, options)
        if type(value) is Unretried:
            raise (<Unretried>value).error
        return value
    try:
        return await _retry_shared(client, args, options, first)
    finally:
        del first


async def _lane_try(client, tuple args, dict options):
    """One try on the client's shared lane (see the pure twin's ``_lane_try``)."""
    cdef Lane lane
    packer = client._rp_packer
    if packer is None:
        encoder = client.connection_pool.get_encoder()
        packer = client._rp_packer = Packer(encoder.encoding, encoder.encoding_errors)
    chunks = packer.pack(*args)
    loop = get_running_loop()
    found = client._rp_lane
    if found is None or (<Lane>found).loop is not loop or not (<Lane>found).accepting():
        lane = Lane(loop, client.connection_pool)
        client._rp_lane = lane
        future = lane.queue(chunks, 0)
        opened = await _open(lane)
        if opened is not None:
            return opened
    else:
        lane = <Lane>found
        future = lane.queue(chunks, 0)
    try:
        reply = await future
    except ResponseError:
        if options and _EMPTY_RESPONSE in options:
            return options[_EMPTY_RESPONSE]
        raise
    if reply is _DEDICATED or type(reply) is Unretried:
        return reply
    value = _convert(client.response_callbacks, args[0], reply, options)
    if type(value) not in _PLAIN and _isawaitable(value):
        value = await value
    return value


async def _open(Lane lane):
    """Check a connection out for ``lane`` (see the pure twin's ``_open``)."""
    pool = lane.pool
    try:
        conn = await pool.get_connection()
    except Exception as error:
        lane.abandon(error)
        return Unretried(error)
    except BaseException:
        lane.abandon()
        raise
    if not _pool_releases(pool) or not _plain(conn) or _health_due(conn):
        lane.abandon()
        await pool.release(conn)
        return _DEDICATED
    lane.attach(conn)
    return None


async def _retry_shared(client, tuple args, dict options, first):
    """A command whose try on the shared lane failed (see the pure twin)."""
    retry = client.get_retry()
    if retry is None:
        raise first
    pending = [first]

    async def attempt():
        if pending:
            raise pending.pop()
        value = await _lane_try(client, args, options)
        if value is _DEDICATED:
            return await _run(client, args, options)
        if type(value) is Unretried:
            raise (<Unretried>value).error
        return value

    async def failure_callback(error, failure_count):
        return None

    try:
        return await retry.call_with_retry(attempt, failure_callback, with_failure_count=True)
    finally:
        del pending[:]


# ---- pipelines ----------------------------------------------------------------------------


def pipeline_command(pipe, *args, **kwargs):
    """``Pipeline.execute_command`` (see the pure twin)."""
    if not _known(_queues, type(pipe), _aqueue) or _overridden(pipe, _QUEUE_METHODS):
        return _RedisPipeline.execute_command(pipe, *args, **kwargs)
    if (pipe.watching or args[0] == "WATCH") and not pipe.explicit_transaction:
        return pipe.immediate_execute_command(*args, **kwargs)
    pipe.command_stack.append((args, kwargs))
    return pipe


cdef bint _sendable(object pipe, object conn, list commands) except -1:
    """Whether a stack goes through a lane (see the pure twin's ``_sendable``)."""
    if (
        not _metrics_off()
        or not _known(_pipelines, type(pipe), _apipeline)
        or _overridden(pipe, _PIPELINE_METHODS)
        or not _plain(conn)
        or _health_due(conn)
    ):
        return False
    registry = getattr(conn, "himport_registry", None)
    if (
        isinstance(registry, HImportRegistry)
        and conn._himport_reconciled_revision != registry.revision
    ):
        return False
    for command in commands:
        if _NEVER_DECODE in (<tuple>command)[1] or _himport((<tuple>command)[0]):
            return False
    return True


async def _replies(conn, list stack):
    """Write ``stack`` in one buffer and read all its replies."""
    chunks = conn._rp_packer.pack_commands(stack)
    cdef Lane lane = Lane(get_running_loop())
    lane.attach(conn)
    future = lane.expect(len(stack))
    try:
        lane.transport.writelines(chunks)
        return await future
    except BaseException:
        _abort(lane)
        raise


cdef bint _unread(object reply) except -1:
    """What redis-py's read raises instead of returning (see the pure twin's
    ``_raise_unread``)."""
    return isinstance(reply, (RedisConnectionError, UnicodeError))


async def run_pipeline(pipe, conn, list commands, raise_on_error):
    """``Pipeline._execute_pipeline``."""
    if not _sendable(pipe, conn, commands):
        return await _RedisPipeline._execute_pipeline(pipe, conn, commands, raise_on_error)
    replies = await _replies(conn, [(<tuple>command)[0] for command in commands])
    unwatch = pipe.UNWATCH_COMMANDS
    callbacks = pipe.response_callbacks
    cdef list responses = []
    cdef Py_ssize_t i
    for i in range(len(commands)):
        args, options = <tuple>commands[i]
        reply = replies[i]
        if isinstance(reply, ResponseError):
            responses.append(
                options[_EMPTY_RESPONSE] if options and _EMPTY_RESPONSE in options else reply
            )
            continue
        if _unread(reply):
            raise reply
        name = args[0]
        try:
            value = _convert(callbacks, name, reply, options)
            if type(value) not in _PLAIN and _isawaitable(value):
                value = await value
        except ResponseError as e:
            responses.append(e)
            continue
        responses.append(value)
        if name in unwatch:
            pipe.watching = False
        elif name == "WATCH":
            pipe.watching = True
    if raise_on_error:
        pipe.raise_first_error(commands, responses)
    return responses


async def run_transaction(pipe, conn, list commands, raise_on_error):
    """``Pipeline._execute_transaction``."""
    if not _sendable(pipe, conn, commands):
        return await _RedisPipeline._execute_transaction(pipe, conn, commands, raise_on_error)
    cdef list stack = [("MULTI",)]
    stack += [args for args, options in commands if _EMPTY_RESPONSE not in options]
    stack.append(("EXEC",))
    replies = await _replies(conn, stack)
    for reply in replies:
        if _unread(reply):
            raise reply
    cdef list errors = []
    if isinstance(replies[0], ResponseError):
        errors.append((0, replies[0]))
    cdef Py_ssize_t at = 1
    for i, command in enumerate(commands):
        if _EMPTY_RESPONSE in command[1]:
            errors.append((i, command[1][_EMPTY_RESPONSE]))
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
    for r, cmd in zip(response, commands):
        if not isinstance(r, Exception):
            args, options = cmd
            options.pop("keys", None)
            name = args[0]
            if name in callbacks:
                r = callbacks[name](r, **options)
                if _isawaitable(r):
                    r = await r
        data.append(r)
    return data
