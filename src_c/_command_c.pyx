# cython: language_level=3, freethreading_compatible=True, boundscheck=True
"""Compiled twin of ``redispool._command_py``: redis-py's command path, fused.

Same functions, same steps and same results as the pure twin (whose docstrings say which
redis-py method each step stands for); here each step is a C function and the reply loop
of a pipeline runs without a Python frame per reply.
"""

import socket
from time import monotonic

cimport cython
from _class_checks cimport known as _known
from _class_checks cimport overridden as _overridden

import redis.client
from redis.client import CaseInsensitiveDict
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import HImportRegistry, parse_himport_set_args

import redis.observability.providers as _providers
import redis.observability.recorder as _recorder
from redis.observability.providers import get_observability_instance

from redispool import _compat, fastpath
from redispool._compat import (
    NONBLOCKING_EXCEPTIONS,
    SENTINEL,
    SERVER_CLOSED_CONNECTION_ERROR,
)
from redispool.parsers import NOT_ENOUGH_DATA, Parser
from redispool.push import PushNotification

__all__ = ("execute_command", "pipeline_command", "run_pipeline", "run_transaction")

cdef object NEVER_DECODE = redis.client.NEVER_DECODE
cdef object EMPTY_RESPONSE = redis.client.EMPTY_RESPONSE
cdef object _MISSING = object()
cdef tuple _RESP3 = ("3", 3)
cdef object _NOT_ENOUGH = NOT_ENOUGH_DATA
cdef object _socket_timeout = socket.timeout
cdef object _ledger = _compat.ledger
cdef object _Pipeline = redis.client.Pipeline
cdef object _nonblocking = NONBLOCKING_EXCEPTIONS
cdef tuple _CLIENT_METHODS = fastpath.CLIENT_METHODS
cdef tuple _PIPELINE_METHODS = fastpath.PIPELINE_METHODS
cdef tuple _CONNECTION_METHODS = fastpath.CONNECTION_METHODS
cdef tuple _PARSER_METHODS = fastpath.PARSER_METHODS
cdef object _UNKNOWN = object()


# fastpath's answers per class, each with the class's version tag when it was given
cdef dict _connections = {}
cdef dict _addresses = {}
cdef dict _clients = {}
cdef dict _pipelines = {}
cdef dict _queues = {}
cdef dict _parsers = {}
cdef dict _retries = {}


cdef bint _plain_parser(object parser) except -1:
    """Whether the connection's parser reads as the fused path does: any class but
    redispool's ``Parser`` (read through its own ``read_response``), or a ``Parser``
    whose ``read_response`` nobody replaced."""
    if type(parser) is not Parser:
        return True
    return _known(_parsers, Parser, fastpath.parser) and not _overridden(
        parser, _PARSER_METHODS
    )


cdef bint _plain_connection(object conn) except -1:
    """A connected connection whose class and object send and read as redis-py's, with
    a parser that reads as the fused path does (the class first: a CacheProxyConnection
    has no ``_sock``)."""
    return (
        _known(_connections, type(conn), fastpath.connection)
        and not _overridden(conn, _CONNECTION_METHODS)
        and conn._sock is not None
        and _plain_parser(conn._parser)
    )


cdef bint _no_observability() except -1:
    """``fastpath.metrics_off``'s second half: redis-py's observability not initialised
    (its instance not even made, in the common case: no call)."""
    instance = getattr(_providers, "_observability_instance", _UNKNOWN)
    if instance is None:
        return True
    if instance is _UNKNOWN:
        instance = get_observability_instance()
    return instance.get_provider_manager() is None


cdef int _feed(object parser) except -1:
    """``Parser.read_from_socket()`` (default timeout), inlined."""
    sock = parser._sock
    reader = parser._reader
    if sock is None or reader is None or parser._buffer is None:
        raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
    buffer = parser._recv
    try:
        size = sock.recv_into(buffer)
    except TimeoutError:
        raise RedisTimeoutError("Timeout reading from socket") from None
    except _nonblocking as ex:
        raise RedisConnectionError(f"Error while reading from socket: {ex.args}") from None
    if size == 0:
        raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
    reader.feed(buffer, 0, size)
    return 0


cdef bint _himport(tuple args) except -1:
    name = args[0]
    if type(name) is str and len(<str>name) and (<str>name)[0] not in "Hh":
        return False
    return parse_himport_set_args(args) is not None


cdef object _gets(object parser, bint disable_decoding):
    """``Parser.read_response`` (default timeout) of a Parser whose stand-in's
    ``read_response`` is redis-py's own."""
    while True:
        reader = parser._reader
        if reader is None:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        response = reader.gets(False) if disable_decoding else reader.gets()
        while response is _NOT_ENOUGH:
            _feed(parser)
            response = reader.gets(False) if disable_decoding else reader.gets()
        kind = type(response)
        ledger = parser._ledger
        if kind is bytes or kind is int or kind is str:
            if ledger is not None:
                ledger.replied()
            return response
        if isinstance(response, RedisConnectionError):
            raise response
        if kind is PushNotification:
            response = parser.handle_push_response(response)
            continue
        if ledger is not None:
            ledger.replied()
            if isinstance(response, ReadOnlyError):
                ledger.demoted = True
        if kind is list and response and isinstance(response[0], RedisConnectionError):
            raise response[0]
        return response


@cython.final
@cython.freelist(4)
cdef class _Replies:
    """Reads and parses replies off one connection as ``read_response`` and
    ``parse_response`` do, with what stays the same between the replies of a pipeline
    looked up once."""

    cdef object conn, parser, callbacks
    cdef bint ours, plain_callbacks, plain_address
    cdef object host, port, address
    cdef object upper  # the last command name found upper-case (a pipeline repeats it)

    def __cinit__(self, conn, callbacks):
        self.conn = conn
        parser = self.parser = conn._parser
        self.ours = (
            type(parser) is Parser
            and parser._stands_for.read_response is parser._stands_for_read
        )
        self.callbacks = callbacks
        self.plain_callbacks = type(callbacks) is CaseInsensitiveDict
        self.plain_address = _known(_addresses, type(conn), fastpath.address)
        self.host = self.port = _MISSING

    cdef object host_error(self):
        """``conn._host_error()``, as redis-py takes it before every read (for redis-py's
        own ``Connection._host_error``, formatted here, and again only when the host or
        port changed)."""
        conn = self.conn
        if not self.plain_address:
            return conn._host_error()
        host = conn._host
        port = conn.port
        if host is not self.host or port is not self.port:
            self.host = host
            self.port = port
            self.address = f"{host}:{port}"  # Connection._host_error's, host as _host
        return self.address

    cdef object read(self, bint disable_decoding, object host_error):
        """``AbstractConnection.read_response(disable_decoding)``."""
        conn = self.conn
        parser = self.parser
        try:
            if self.ours:
                response = _gets(parser, disable_decoding)
            elif conn.protocol in _RESP3:
                response = parser.read_response(
                    disable_decoding=disable_decoding, push_request=False, timeout=SENTINEL
                )
            else:
                response = parser.read_response(
                    disable_decoding=disable_decoding, timeout=SENTINEL
                )
        except _socket_timeout:
            conn.disconnect()
            raise RedisTimeoutError(f"Timeout reading from {host_error}")
        except OSError as e:
            conn.disconnect()
            raise RedisConnectionError(f"Error while reading from {host_error} : {e.args}")
        except BaseException:
            conn.disconnect()
            raise
        interval = conn.health_check_interval
        if interval:
            conn.next_health_check = monotonic() + interval
        if isinstance(response, ResponseError):
            try:
                raise response
            finally:
                del response
        return response

    cdef object callback(self, object name):
        """``callbacks[name]`` if ``name in callbacks``, else ``_MISSING`` (the keys of a
        ``CaseInsensitiveDict`` are upper-case: an upper-case name is looked up as it is)."""
        callbacks = self.callbacks
        if self.plain_callbacks and (
            name is self.upper or (type(name) is str and (<str>name).isupper())
        ):
            self.upper = name
            return (<dict>callbacks).get(name, _MISSING)
        if name in callbacks:
            return callbacks[name]
        return _MISSING

    cdef object parse(self, object name, dict options, object host_error):
        """``Redis.parse_response``."""
        try:
            if options:
                response = self.read(NEVER_DECODE in options, host_error)
            else:
                response = self.read(False, host_error)
        except ResponseError:
            if options and EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        callback = self.callback(name)
        if callback is _MISSING:
            return response
        if options:
            options = {
                key: value
                for key, value in options.items()
                if key != "keys" and key != NEVER_DECODE and key != EMPTY_RESPONSE
            }
            return callback(response, **options)
        return callback(response)


cdef int send(object conn, object chunks) except -1:
    sock = conn._sock
    try:
        for chunk in chunks:
            sock.sendall(chunk)
    except _socket_timeout:
        conn.disconnect()
        raise RedisTimeoutError("Timeout writing to socket")
    except OSError as e:
        conn.disconnect()
        if len(e.args) == 1:
            errno, errmsg = "UNKNOWN", e.args[0]
        else:
            errno, errmsg = e.args[0], e.args[1]
        raise RedisConnectionError(f"Error {errno} while writing to socket. {errmsg}.")
    except BaseException:
        conn.disconnect()
        raise
    return 0


cdef object _attempt(object client, object conn, tuple args, dict options):
    if (
        not _plain_connection(conn)
        or (conn.health_check_interval and monotonic() > conn.next_health_check)
        or (options and "check_health" in options)
        or _himport(args)
    ):
        return client._send_command_parse_response(conn, args[0], *args, **options)
    send(conn, conn._command_packer.pack(*args))
    replies = _Replies(conn, client.response_callbacks)
    return replies.parse(args[0], options, replies.host_error())


def execute_command(client, *args, **options):
    """``Redis.execute_command``: the fused path while redis-py's metrics are off and the
    client's class parses as redis-py's does, else redis-py's own."""
    if (
        _recorder._metrics_collector is None
        and _no_observability()
        and _known(_clients, type(client), fastpath.client)
        and not _overridden(client, _CLIENT_METHODS)
    ):
        return _run(client, args, options)
    # looked up now, as super() would: instrumentation may have wrapped it since import
    return redis.client.Redis.execute_command(client, *args, **options)


cdef object _run(object client, tuple args, dict options):
    if not args:  # redis-py's IndexError for no command, before a checkout
        raise IndexError("tuple index out of range")
    pool = client.connection_pool
    conn = client.connection or pool.get_connection()
    cdef bint single = client._single_connection_client
    if single:
        client.single_connection_lock.acquire()
    try:
        retry = conn.retry
        if not _known(_retries, type(retry), fastpath.retry) or _overridden(
            retry, ("call_with_retry",)
        ):  # another policy: it runs every try, the first too
            return _retry(client, conn, args, options, None)
        try:
            return _attempt(client, conn, args, options)
        except Exception as error:  # redis-py's policy decides, from its first step on
            first = error
        try:  # outside the except: a later try's error is not chained to the first
            return _retry(client, conn, args, options, first)
        finally:
            del first
    finally:
        try:
            if conn and conn.should_reconnect():
                client._close_connection(conn)
                conn.connect()
        finally:
            if single:
                client.single_connection_lock.release()
            if not client.connection:
                pool.release(conn)


cdef object _retry(object client, object conn, tuple args, dict options, object first):
    pending = [] if first is None else [first]
    start = monotonic()
    name = args[0]

    def attempt():
        if pending:
            raise pending.pop()
        return _attempt(client, conn, args, options)

    def failure_callback(error, failure_count):
        if redis.client.is_debug_log_enabled():
            redis.client.add_debug_log_for_operation_failure(conn)
        client._close_connection(conn, error, failure_count, start, name)

    try:
        return conn.retry.call_with_retry(attempt, failure_callback, with_failure_count=True)
    finally:
        del pending[:]


# ---- pipelines ----------------------------------------------------------------------------


cdef object _pipeline_parse(
    object pipe, _Replies replies, object name, dict options, object unwatch
):
    """``Pipeline.parse_response``: ``Redis.parse_response`` and the WATCH flags."""
    result = replies.parse(name, options, replies.host_error())
    if name in unwatch:
        pipe.watching = False
    elif name == "WATCH":
        pipe.watching = True
    return result


def pipeline_command(pipe, *args, **kwargs):
    """``Pipeline.execute_command``: run now while WATCHing, else queue (``command_stack``
    appended to inline while ``pipeline_execute_command`` is redis-py's own and nothing
    wraps redis-py's ``execute_command``)."""
    if not _known(_queues, type(pipe), fastpath.queue) or _overridden(
        pipe, ("pipeline_execute_command",)
    ):
        return redis.client.Pipeline.execute_command(pipe, *args, **kwargs)  # as it is now
    if (pipe.watching or args[0] == "WATCH") and not pipe.explicit_transaction:
        return pipe.immediate_execute_command(*args, **kwargs)
    pipe.command_stack.append((args, kwargs))
    return pipe


cdef bint _sendable(object pipe, object conn, list commands) except -1:
    if (
        not _plain_connection(conn)
        or not _known(_pipelines, type(pipe), fastpath.pipeline)
        or _overridden(pipe, _PIPELINE_METHODS)
    ):
        return False
    registry = getattr(conn, "himport_registry", None)
    if (
        isinstance(registry, HImportRegistry)
        and conn._himport_reconciled_revision != registry.revision
    ):
        return False  # redis-py sends the DISCARDs it owes first
    for args, _ in commands:
        if _himport(args):
            return False
    return True


cdef object _pack_all(object conn, list stack):
    """``conn.pack_commands(stack)``: in one call into redispool's Packer."""
    packer = _ledger(conn._command_packer)
    if packer is None:
        return conn.pack_commands(stack)
    return packer.pack_commands(stack)


def run_pipeline(pipe, conn, list commands, raise_on_error):
    if not _sendable(pipe, conn, commands):
        return _Pipeline._execute_pipeline(pipe, conn, commands, raise_on_error)
    conn.send_packed_command(_pack_all(conn, [args for args, _ in commands]))
    cdef _Replies replies = _Replies(conn, pipe.response_callbacks)
    unwatch = pipe.UNWATCH_COMMANDS
    cdef list responses = []
    for args, options in commands:
        try:
            responses.append(_pipeline_parse(pipe, replies, args[0], options, unwatch))
        except ResponseError as e:
            responses.append(e)
    if raise_on_error:
        pipe.raise_first_error(commands, responses)
    return responses


def run_transaction(pipe, conn, list commands, raise_on_error):
    if not _sendable(pipe, conn, commands):
        return _Pipeline._execute_transaction(pipe, conn, commands, raise_on_error)
    cdef list stack = [("MULTI",)]
    stack += [args for args, options in commands if EMPTY_RESPONSE not in options]
    stack.append(("EXEC",))
    conn.send_packed_command(_pack_all(conn, stack))
    cdef _Replies replies = _Replies(conn, pipe.response_callbacks)
    unwatch = pipe.UNWATCH_COMMANDS
    cdef list errors = []
    cdef Py_ssize_t i
    try:
        _pipeline_parse(pipe, replies, "_", {}, unwatch)
    except ResponseError as e:
        errors.append((0, e))
    for i, command in enumerate(commands):
        if EMPTY_RESPONSE in command[1]:
            errors.append((i, command[1][EMPTY_RESPONSE]))
        else:
            try:
                _pipeline_parse(pipe, replies, "_", {}, unwatch)
            except ResponseError as e:
                pipe.annotate_exception(e, i + 1, command[0])
                errors.append((i, e))
    try:
        response = _pipeline_parse(pipe, replies, "_", {}, unwatch)
    except ExecAbortError:
        if errors:
            raise errors[0][1]
        raise
    pipe.watching = False
    if response is None:
        raise WatchError("Watched variable changed.")
    for i, e in errors:
        response.insert(i, e)
    if len(response) != len(commands):
        pipe.connection.disconnect()
        raise ResponseError("Wrong number of response items from pipeline execution")
    if raise_on_error:
        pipe.raise_first_error(commands, response)
    cdef list data = []
    for r, cmd in zip(response, commands):
        if not isinstance(r, Exception):
            args, options = cmd
            options.pop("keys", None)
            callback = replies.callback(args[0])
            if callback is not _MISSING:
                r = callback(r, **options)
        data.append(r)
    return data
