# cython: language_level=3, freethreading_compatible=True
"""Compiled twin of ``redispool._command_py``: redis-py's command path, fused.

Same functions, same steps and same results as the pure twin (whose docstrings say which
redis-py method each step stands for); here each step is a C function and the reply loop
of a pipeline runs without a Python frame per reply.
"""

import socket
from time import monotonic

import redis.client
from redis.client import CaseInsensitiveDict
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ExecAbortError, ReadOnlyError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.himport import parse_himport_set_args

from redispool import fastpath
from redispool._compat import SENTINEL, SERVER_CLOSED_CONNECTION_ERROR
from redispool.parsers import NOT_ENOUGH_DATA, Parser
from redispool.push import PushNotification

__all__ = ("run_command", "run_pipeline", "run_transaction")

cdef object NEVER_DECODE = redis.client.NEVER_DECODE
cdef object EMPTY_RESPONSE = redis.client.EMPTY_RESPONSE
cdef object _MISSING = object()
cdef tuple _RESP3 = ("3", 3)
cdef object _NOT_ENOUGH = NOT_ENOUGH_DATA
cdef object _socket_timeout = socket.timeout
cdef object _connection_ok = fastpath.connection
cdef object _pipeline_ok = fastpath.pipeline
cdef object _Pipeline = redis.client.Pipeline


cdef bint _himport(tuple args) except -1:
    name = args[0]
    if type(name) is str and len(<str>name) and (<str>name)[0] not in "Hh":
        return False
    return parse_himport_set_args(args) is not None


cdef object _read_ours(object parser, bint disable_decoding):
    if parser._stands_for.read_response is not parser._stands_for_read:
        return parser.read_response(disable_decoding)
    while True:
        reader = parser._reader
        if reader is None:
            raise RedisConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
        response = reader.gets(False) if disable_decoding else reader.gets()
        while response is _NOT_ENOUGH:
            parser.read_from_socket()
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


cdef object read(object conn, bint disable_decoding):
    host_error = conn._host_error()
    parser = conn._parser
    try:
        if type(parser) is Parser:
            response = _read_ours(parser, disable_decoding)
        elif conn.protocol in _RESP3:
            response = parser.read_response(
                disable_decoding=disable_decoding, push_request=False, timeout=SENTINEL
            )
        else:
            response = parser.read_response(disable_decoding=disable_decoding, timeout=SENTINEL)
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


cdef object _callback(object callbacks, object name):
    if type(callbacks) is CaseInsensitiveDict and type(name) is str and (<str>name).isupper():
        return (<dict>callbacks).get(name, _MISSING)
    if name in callbacks:
        return callbacks[name]
    return _MISSING


cdef object _parse(object client, object conn, object name, dict options):
    try:
        if options:
            response = read(conn, NEVER_DECODE in options)
        else:
            response = read(conn, False)
    except ResponseError:
        if options and EMPTY_RESPONSE in options:
            return options[EMPTY_RESPONSE]
        raise
    callback = _callback(client.response_callbacks, name)
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


cdef object _PARSER_READ = Parser.read_response


cdef inline bint _parser_replaced(object parser) except -1:
    return type(parser) is Parser and (
        Parser.read_response is not _PARSER_READ or "read_response" in parser.__dict__
    )


cdef object _attempt(object client, object conn, tuple args, dict options):
    if (
        not _connection_ok(type(conn))  # first: another class may lack what is read next
        or conn._sock is None
        or _parser_replaced(conn._parser)
        or (conn.health_check_interval and monotonic() > conn.next_health_check)
        or (options and "check_health" in options)
        or _himport(args)
    ):
        return client._send_command_parse_response(conn, args[0], *args, **options)
    send(conn, conn._command_packer.pack(*args))
    return _parse(client, conn, args[0], options)


def run_command(client, tuple args, dict options):
    pool = client.connection_pool
    conn = client.connection or pool.get_connection()
    cdef bint single = client._single_connection_client
    if single:
        client.single_connection_lock.acquire()
    try:
        try:
            return _attempt(client, conn, args, options)
        except Exception as error:
            return _retry(client, conn, args, options, error)
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
    pending = [first]
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


cdef object _pipeline_parse(object pipe, object conn, object name, dict options):
    result = _parse(pipe, conn, name, options)
    if name in pipe.UNWATCH_COMMANDS:
        pipe.watching = False
    elif name == "WATCH":
        pipe.watching = True
    return result


cdef bint _sendable(object pipe, object conn, list commands) except -1:
    if not _connection_ok(type(conn)) or conn._sock is None or _parser_replaced(conn._parser):
        return False
    if not _pipeline_ok(type(pipe)):
        return False
    for args, _ in commands:
        if _himport(args):
            return False
    return True


cdef list _coalesce(list chunks, Py_ssize_t cutoff):
    cdef list out = []
    cdef list run = []
    for chunk in chunks:
        if type(chunk) is bytes and len(<bytes>chunk) <= cutoff:
            run.append(chunk)
            continue
        if run:
            out.append(b"".join(run))
            run = []
        out.append(chunk)
    if run:
        out.append(b"".join(run))
    return out


cdef list _pack_all(object conn, list stack):
    pack = conn._command_packer.pack
    cdef list chunks = []
    for args in stack:
        chunks += pack(*args)
    return _coalesce(chunks, conn._buffer_cutoff)


def run_pipeline(pipe, conn, list commands, raise_on_error):
    if not _sendable(pipe, conn, commands):
        return _Pipeline._execute_pipeline(pipe, conn, commands, raise_on_error)
    conn.send_packed_command(_pack_all(conn, [args for args, _ in commands]))
    cdef list responses = []
    for args, options in commands:
        try:
            responses.append(_pipeline_parse(pipe, conn, args[0], options))
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
    cdef list errors = []
    cdef Py_ssize_t i
    try:
        _pipeline_parse(pipe, conn, "_", {})
    except ResponseError as e:
        errors.append((0, e))
    for i, command in enumerate(commands):
        if EMPTY_RESPONSE in command[1]:
            errors.append((i, command[1][EMPTY_RESPONSE]))
        else:
            try:
                _pipeline_parse(pipe, conn, "_", {})
            except ResponseError as e:
                pipe.annotate_exception(e, i + 1, command[0])
                errors.append((i, e))
    try:
        response = _pipeline_parse(pipe, conn, "_", {})
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
    callbacks = pipe.response_callbacks
    cdef list data = []
    for r, cmd in zip(response, commands):
        if not isinstance(r, Exception):
            args, options = cmd
            options.pop("keys", None)
            callback = _callback(callbacks, args[0])
            if callback is not _MISSING:
                r = callback(r, **options)
        data.append(r)
    return data
