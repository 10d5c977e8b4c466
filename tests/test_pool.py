"""redispool's pools against a real redis-server, with each SlotArray twin (``slot_twin``)."""

from __future__ import annotations

import importlib
import inspect
import os
import threading
import time
import warnings
from collections.abc import Iterator
from queue import Empty, Full, Queue
from typing import Any

import pytest
import redis
from helpers import Dummy, balanced, count_fused
from redis import Redis as EarlyRedis  # as rq, django-redis, Celery: before any install()
from redis.auth.token import SimpleToken
from redis.event import AfterConnectionReleasedEvent, EventDispatcher, EventListenerInterface
from redis.lock import Lock

import redispool
import redispool.asyncio
import redispool.client
from redispool import BlockingConnectionPool, ConnectionPool, Packer, Parser
from redispool.server import RedisServer

pytestmark = pytest.mark.usefixtures("slot_twin")

POOLS = [ConnectionPool, BlockingConnectionPool]


@pytest.fixture(params=POOLS, ids=lambda c: c.__name__)
def pool_class(request: pytest.FixtureRequest) -> type[ConnectionPool]:
    return request.param  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "any_pool",
    [
        ConnectionPool,
        BlockingConnectionPool,
        redispool.asyncio.ConnectionPool,
        redispool.asyncio.BlockingConnectionPool,
    ],
)
def test_pools_hold_the_selected_slot_twin(slot_twin: str, any_pool: type) -> None:
    """``slot_twin`` really reaches the sync and asyncio pools (it once patched only the
    sync pool): their array is the selected twin's class."""
    pool_class = any_pool
    selected = importlib.import_module(f"redispool._slots_{slot_twin}").SlotArray
    assert pool_class.slot_array_class is selected
    pool = pool_class(max_connections=3)
    assert type(pool._slots) is selected
    pool.max_connections = 4  # reset() builds a new array at a new capacity
    pool.reset()
    assert type(pool._slots) is selected
    assert pool.stats().max == 4


class Recorder(EventListenerInterface):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def listen(self, event: Any) -> None:
        self.events.append(event)


# ---- drop-in behaviour ------------------------------------------------------------------


def test_names_and_bases() -> None:
    assert ConnectionPool.__name__ == "ConnectionPool"
    assert BlockingConnectionPool.__name__ == "BlockingConnectionPool"
    assert issubclass(ConnectionPool, redis.ConnectionPool)
    assert issubclass(BlockingConnectionPool, ConnectionPool)


def test_commands(redis_url: str, pool_class: type, protocol: int) -> None:
    pool = pool_class.from_url(redis_url, protocol=protocol)
    r = redis.Redis(connection_pool=pool)
    r.set("pool:k", "v")
    assert r.get("pool:k") == b"v"
    assert r.hgetall("pool:none") == {}
    conn = pool.get_connection()
    assert isinstance(conn._parser, Parser)
    assert isinstance(conn._command_packer, Packer)
    assert isinstance(conn, redis.Connection)
    pool.release(conn)
    assert balanced(pool.stats())
    pool.disconnect()


def test_decode_responses(redis_url: str, pool_class: type, protocol: int) -> None:
    r = redis.Redis(
        connection_pool=pool_class.from_url(redis_url, protocol=protocol, decode_responses=True)
    )
    r.hset("pool:h", mapping={"a": "1", "ü": "2"})
    assert r.hgetall("pool:h") == {"a": "1", "ü": "2"}


def test_unix_socket(redis_server: RedisServer, pool_class: type) -> None:
    pool = pool_class.from_url(f"unix://{redis_server.unix_path}")
    r = redis.Redis(connection_pool=pool)
    assert r.ping() is True
    assert isinstance(pool.get_connection(), redis.UnixDomainSocketConnection)


def test_named_parser_is_kept(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, parser_class=redis._parsers._RESP3Parser)
    conn = pool.get_connection()
    assert type(conn._parser) is redis._parsers._RESP3Parser
    pool.release(conn)


def test_pipeline_transaction_pubsub_lock(redis_url: str, pool_class: type, protocol: int) -> None:
    pool = pool_class.from_url(redis_url, protocol=protocol)
    r = redis.Redis(connection_pool=pool)
    with r.pipeline(transaction=True) as pipe:
        pipe.set("pool:t", 1).incr("pool:t").get("pool:t")
        assert pipe.execute() == [True, 2, b"2"]
    with r.pipeline(transaction=False) as pipe:
        for i in range(100):
            pipe.set(f"pool:p{i}", i)
        assert pipe.execute() == [True] * 100
    pubsub = r.pubsub()
    pubsub.subscribe("pool:ch")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    r.publish("pool:ch", "hi")
    assert pubsub.get_message(timeout=5)["data"] == b"hi"
    pubsub.close()
    lock = Lock(r, "pool:lock", timeout=5)
    assert lock.acquire(blocking=False)
    lock.release()
    assert r.get("pool:t") == b"2"
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats)


def test_max_connections_error() -> None:
    pool = ConnectionPool(max_connections=2, connection_class=Dummy, foo="bar")
    conn = pool.get_connection()
    assert isinstance(conn, Dummy) and conn.kwargs["foo"] == "bar"
    assert "parser_class" not in conn.kwargs  # only redis-py connections get our parser
    pool.get_connection()
    with pytest.raises(redis.MaxConnectionsError, match="Too many connections"):
        pool.get_connection()


def test_blocking_pool_times_out(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=0.05)
    pool.get_connection()
    with pytest.raises(redis.ConnectionError, match=r"No connection available\.") as info:
        pool.get_connection()
    assert not isinstance(info.value, redis.MaxConnectionsError)
    stats = pool.stats()
    assert (stats.waits, stats.timeouts) == (1, 1)
    assert stats.max_wait_time >= 0.05


def test_blocking_pool_waits_for_release(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=None)
    conn = pool.get_connection()
    got: Queue[Any] = Queue()
    waiter = threading.Thread(target=lambda: got.put(pool.get_connection()))
    waiter.start()
    while pool.stats().waits == 0:
        time.sleep(0.001)
    pool.release(conn)
    waiter.join(10)
    assert got.get_nowait() is conn
    assert pool.stats().timeouts == 0


def test_max_connections_validation() -> None:
    assert ConnectionPool().max_connections == 100
    assert ConnectionPool(max_connections=0).max_connections == 100
    with pytest.raises(ValueError, match="positive integer"):
        ConnectionPool(max_connections=-1)
    with pytest.raises(ValueError, match="health_check_after"):
        ConnectionPool(health_check_after=-1)


def test_repr_and_truthiness(pool_class: type) -> None:
    pool = pool_class(host="localhost", port=6379, password="secret", db=1)
    text = repr(pool)
    assert f".{pool_class.__name__}(<redis.connection.Connection(host=localhost" in text
    assert "secret" not in text and "<REDACTED>" in text
    assert bool(pool) is True


def test_release_foreign_and_double(redis_url: str, pool_class: type) -> None:
    pool = pool_class.from_url(redis_url)
    other = pool_class.from_url(redis_url)
    mine = pool.get_connection()
    theirs = other.get_connection()
    pool.release(theirs)  # ignored: not ours
    assert theirs in other._in_use_connections and theirs._sock is not None
    pool.release(mine)
    pool.release(mine)  # ignored: already back
    assert pool._available_connections == [mine]
    assert pool.stats().idle == 1


def test_release_event_fires_once(redis_url: str) -> None:
    recorder = Recorder()
    dispatcher = EventDispatcher()
    dispatcher.register_listeners({AfterConnectionReleasedEvent: [recorder]})
    pool = ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
    conn = pool.get_connection()
    pool.release(conn)
    pool.release(conn)
    pool.release(redis.Connection())
    assert [e.connection for e in recorder.events] == [conn]


@pytest.fixture
def reauth_user(redis_url: str) -> Iterator[SimpleToken]:
    """An ACL user and a token naming it, as redis-py's token-based re-auth uses one."""
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        "rp-reauth", enabled=True, passwords=["+s3cret"], categories=["+@all"], keys=["*"]
    )
    yield SimpleToken("s3cret", -1, -1, {"oid": "rp-reauth"})
    admin.acl_deluser("rp-reauth")
    admin.close()


def test_release_reauthenticates_then_sees_new_listeners(
    redis_url: str, reauth_user: SimpleToken
) -> None:
    dispatcher = EventDispatcher()  # redis-py's default: only the re-auth listener
    pool = ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
    pool.release(pool.get_connection())  # the listener list is now known to be quiet
    conn = pool.get_connection()
    conn.set_re_auth_token(reauth_user)
    pool.release(conn)  # re-authenticates, as redis-py's listener would
    assert pool.get_connection() is conn
    conn.send_command("ACL", "WHOAMI")
    assert conn.read_response() == b"rp-reauth"
    recorder = Recorder()
    dispatcher.register_listeners({AfterConnectionReleasedEvent: [recorder]})
    pool.release(conn)  # the new listener is not skipped
    assert [e.connection for e in recorder.events] == [conn]
    pool.disconnect()


def test_get_connection_args_are_deprecated(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url)
    with pytest.warns(DeprecationWarning):
        conn = pool.get_connection("GET")
    pool.release(conn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pool.release(pool.get_connection())


def test_helpers(redis_url: str, pool_class: type) -> None:
    pool = pool_class.from_url(redis_url, protocol=3, decode_responses=True)
    assert pool.get_protocol() == 3
    assert pool.get_encoder().decode_responses is True
    conn = pool.get_connection()
    assert pool.owns_connection(conn)
    retry = redis.retry.Retry(redis.backoff.NoBackoff(), 1)
    pool.set_retry(retry)
    assert conn.retry is retry and pool.connection_kwargs["retry"] is retry
    (idle, _), (used, _) = pool.get_connection_count()
    assert (idle, used) == (0, 1)
    assert pool._get_in_use_connections() == {conn}
    pool.disconnect(inuse_connections=False)
    assert conn._sock is not None
    pool.disconnect()
    assert conn._sock is None
    pool.release(conn)
    with pool as entered:
        assert entered is pool
        conn = pool.get_connection()
        assert conn._sock is not None
    assert conn._sock is None


def test_reset_forgets_connections(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url)
    conn = pool.get_connection()
    pool.release(conn)
    pool.reset()
    assert pool._created_connections == 0
    assert pool.get_connection() is not conn
    assert conn._sock is not None  # not closed: reset() only forgets (fork semantics)
    conn.disconnect()


# ---- replies never leak from one caller to the next ---------------------------------------


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_sent_but_unread_is_not_reused(
    redis_url: str, pool_class: type, protocol: int, delay: float
) -> None:
    pool = pool_class.from_url(redis_url, protocol=protocol)
    r = redis.Redis(connection_pool=pool)
    r.set("pool:leak", "mine")
    conn = pool.get_connection()
    conn.send_command("PING")
    pool.release(conn)
    time.sleep(delay)
    assert r.get("pool:leak") == b"mine"
    assert pool.stats().dirty_closed == 1


def test_read_timeout_without_disconnect_is_not_reused(redis_url: str, protocol: int) -> None:
    pool = ConnectionPool.from_url(redis_url, protocol=protocol)
    r = redis.Redis(connection_pool=pool)
    r.set("pool:leak2", "mine")
    conn = pool.get_connection()
    conn.send_command("BLPOP", "pool:nothing", 0.2)
    with pytest.raises(redis.TimeoutError):
        conn.read_response(timeout=0.01, disconnect_on_error=False)
    pool.release(conn)
    time.sleep(0.3)  # the BLPOP reply has arrived by now
    assert r.get("pool:leak2") == b"mine"


def test_interrupted_read_is_not_reused(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ConnectionPool.from_url(redis_url)
    r = redis.Redis(connection_pool=pool)
    r.set("pool:leak3", "mine")
    conn = pool.get_connection()
    conn.send_command("GET", "pool:leak3")

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(conn._parser, "read_response", interrupted)
    with pytest.raises(KeyboardInterrupt):
        conn.read_response()
    monkeypatch.undo()
    pool.release(conn)
    assert r.get("pool:leak3") == b"mine"


def test_partly_read_pipeline_is_not_reused(redis_url: str, protocol: int) -> None:
    pool = ConnectionPool.from_url(redis_url, protocol=protocol)
    r = redis.Redis(connection_pool=pool)
    conn = pool.get_connection()
    conn.send_packed_command(conn.pack_commands([("SET", "pool:a", "1"), ("GET", "pool:a")]))
    assert conn.read_response() in (b"OK", True)
    pool.release(conn)
    assert r.get("pool:a") == b"1"
    assert pool.stats().dirty_closed == 1


def test_error_replies_are_counted_as_read(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url)
    r = redis.Redis(connection_pool=pool)
    r.set("pool:str", "x")
    with pytest.raises(redis.ResponseError):
        r.lpush("pool:str", 1)
    with r.pipeline() as pipe:
        pipe.lpush("pool:str", 1).get("pool:str")
        results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError) and results[1] == b"x"
    assert pool.stats().dirty_closed == 0


def test_subscribed_connection_is_not_reused(redis_url: str, protocol: int) -> None:
    pool = ConnectionPool.from_url(redis_url, protocol=protocol)
    r = redis.Redis(connection_pool=pool)
    conn = pool.get_connection()
    conn.send_command("SUBSCRIBE", "pool:a", "pool:b")
    conn.read_response(push_request=True)
    pool.release(conn)  # the second confirmation is still unread
    assert r.ping() is True
    assert r.echo("x") == b"x"


# ---- health ------------------------------------------------------------------------------


def test_killed_connection_is_reconnected(redis_url: str, pool_class: type) -> None:
    pool = pool_class.from_url(redis_url, health_check_after=0)
    r = redis.Redis(connection_pool=pool, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
    assert r.ping()
    first = r.client_id()
    redis.Redis.from_url(redis_url).client_kill_filter(_id=first)
    time.sleep(0.05)
    assert r.client_id() != first  # peeked at checkout, reconnected: no error


def test_stale_after_server_restart(pool_class: type) -> None:
    with RedisServer() as server:
        pool = pool_class.from_url(server.url, health_check_after=0)
        r = redis.Redis(connection_pool=pool)
        r.set("k", "v")
        server.restart()
        assert r.get("k") is None  # fresh server, and no error for the dead socket


def test_idle_timeout_and_max_lifetime(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, idle_timeout=0.02)
    r = redis.Redis(connection_pool=pool)
    first = r.client_id()
    time.sleep(0.05)
    assert r.client_id() != first
    assert pool.stats().stale_closed == 1
    pool = ConnectionPool.from_url(redis_url, max_lifetime=0.02)
    conn = pool.get_connection()
    time.sleep(0.05)
    pool.release(conn)
    assert conn._sock is None and pool.stats().idle == 0


def test_max_idle_and_min_idle(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, max_idle=1)
    a, b = pool.get_connection(), pool.get_connection()
    pool.release(a)
    pool.release(b)
    assert b._sock is None and pool._available_connections == [a]
    pool = ConnectionPool.from_url(redis_url, min_idle=3)
    conn = pool.get_connection()
    stats = pool.stats()
    assert (stats.idle, stats.in_use, stats.created) == (2, 1, 3)
    assert all(c._sock is not None for c in pool._available_connections)
    pool.release(conn)


def test_fifo(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, fifo=True)
    a, b = pool.get_connection(), pool.get_connection()
    pool.release(a)
    pool.release(b)
    assert pool.get_connection() is a
    blocking = BlockingConnectionPool.from_url(redis_url, queue_class=Queue)
    assert blocking.fifo is True


# ---- threads, faults, fork -----------------------------------------------------------------


def _hammer(
    r: redis.Redis, worker: int, rounds: int, errors: list[Any], restarts: bool = False
) -> None:
    for i in range(rounds):
        key = f"pool:w{worker}:{i % 7}"
        try:
            r.set(key, f"{worker}:{i}")
            value = r.get(key)
        except (redis.ConnectionError, redis.TimeoutError):
            continue  # the allowed failures
        except Exception as exc:
            errors.append(exc)
            return
        if value is None and restarts:
            continue  # set before a restart, read after it: the data is gone
        if value != f"{worker}:{i}".encode():
            errors.append((key, value))


@pytest.fixture
def threads() -> Iterator[list[threading.Thread]]:
    started: list[threading.Thread] = []
    yield started
    for thread in started:
        thread.join(60)


def test_threads_share_a_small_pool(redis_url: str, threads: list[threading.Thread]) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=4, timeout=None)
    r = redis.Redis(connection_pool=pool)
    errors: list[Any] = []
    threads += [threading.Thread(target=_hammer, args=(r, w, 300, errors)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stats = pool.stats()
    assert errors == []
    assert stats.in_use == 0 and stats.created <= 4 and balanced(stats)
    assert len(set(pool._available_connections)) == stats.idle


def test_kills_under_load(redis_url: str, threads: list[threading.Thread]) -> None:
    pool = ConnectionPool.from_url(redis_url, max_connections=32)
    r = redis.Redis(connection_pool=pool)
    admin = redis.Redis.from_url(redis_url)
    errors: list[Any] = []
    threads += [threading.Thread(target=_hammer, args=(r, w, 400, errors)) for w in range(8)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        for client in admin.client_list():
            if client["name"] == "" and client["cmd"] in ("get", "set"):
                admin.client_kill_filter(_id=client["id"])
                break
        time.sleep(0.01)
    stats = pool.stats()
    assert errors == []
    assert stats.in_use == 0 and balanced(stats)
    assert r.ping()


@pytest.mark.parametrize("pool_class", POOLS, ids=lambda c: c.__name__)
def test_never_lent_twice(threads: list[threading.Thread], pool_class: type) -> None:
    """Each thread marks a connection as its own from checkout to release, and yields to
    the others while holding it: a connection lent to a second thread meanwhile is seen
    (verified against a slot array broken to lend a connection twice)."""
    pool = pool_class(max_connections=3, connection_class=Dummy, timeout=None)
    owner: dict[int, int] = {}  # id(conn) -> thread number, for as long as it is held
    guard = threading.Lock()
    errors: list[str] = []
    lent = [0] * 8

    def borrow(me: int) -> None:
        while lent[me] < 2000:
            try:
                conn = pool.get_connection()
            except redis.MaxConnectionsError:  # all three held (not the blocking pool)
                time.sleep(0)
                continue
            with guard:
                holder = owner.setdefault(id(conn), me)
            if holder != me:
                errors.append(f"lent to {me} while {holder} held it")
            lent[me] += 1
            time.sleep(0)  # hold it across a thread switch
            with guard:
                holder = owner.pop(id(conn), None)
            if holder != me:
                errors.append(f"{me} releases a connection marked {holder}")
            pool.release(conn)

    threads += [threading.Thread(target=borrow, args=(me,)) for me in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stats = pool.stats()
    assert errors == []
    assert lent == [2000] * 8 and owner == {}
    assert stats.in_use == 0 and stats.created <= 3 and balanced(stats)


def test_restart_under_load(threads: list[threading.Thread]) -> None:
    with RedisServer() as server:
        pool = BlockingConnectionPool.from_url(server.url, max_connections=4, timeout=None)
        r = redis.Redis(connection_pool=pool)
        errors: list[Any] = []
        threads += [
            threading.Thread(target=_hammer, args=(r, w, 300, errors, True)) for w in range(8)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.1)
        server.restart()
        for thread in threads:
            thread.join(60)
        stats = pool.stats()
        assert errors == []
        assert stats.in_use == 0 and balanced(stats)
        assert r.set("after", "1") and r.get("after") == b"1"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_gets_new_connections(redis_url: str, pool_class: type) -> None:
    pool = pool_class.from_url(redis_url)
    r = redis.Redis(connection_pool=pool)
    parent_id = r.client_id()
    parent_conn = pool._available_connections[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child_id = r.client_id()
            ok = child_id != parent_id and parent_conn not in pool._available_connections
            os.write(write, b"1" if ok and r.ping() else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert r.client_id() == parent_id  # the parent's socket survived the child
    assert pool.pid == os.getpid()


def test_release_of_parent_connection_in_child(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url)
    conn = pool.get_connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            pool.release(conn)  # ignored: the child's pool starts empty
            ok = pool._created_connections == 0 and pool.pid == os.getpid()
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    pool.release(conn)
    assert redis.Redis(connection_pool=pool).ping()


# ---- install() -------------------------------------------------------------------------------


def test_install_and_uninstall(redis_url: str) -> None:
    originals = (redis.ConnectionPool, redis.client.ConnectionPool)
    redispool.install()
    try:
        r = redis.Redis.from_url(redis_url)
        assert type(r.connection_pool) is ConnectionPool
        assert isinstance(redis.Redis(port=1).connection_pool, ConnectionPool)
        assert redis.BlockingConnectionPool is BlockingConnectionPool
        conn = redis.Connection()
        assert isinstance(conn._parser, Parser)
        assert r.ping()
    finally:
        redispool.uninstall()
    assert (redis.ConnectionPool, redis.client.ConnectionPool) == originals
    assert not isinstance(redis.Connection()._parser, Parser)


class UserRedis(redis.Redis):
    """A user's subclass: install() never makes it anything else."""


@pytest.fixture
def fused(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often ``redispool.Redis`` took its fused path, per entry point."""
    return count_fused(monkeypatch)


def test_install_makes_redis_py_clients_redispool_clients(
    redis_server: RedisServer, fused: dict[str, int]
) -> None:
    url, host, port = redis_server.url, redis_server.host, redis_server.port
    redispool.install()
    try:
        clients = [
            EarlyRedis(host, port),
            redis.Redis(host=host, port=port),
            redis.StrictRedis(host=host, port=port, decode_responses=True),
            redis.from_url(url),
            redis.Redis.from_url(url, single_connection_client=True),
            EarlyRedis.from_url(url),
            EarlyRedis.from_pool(redis.ConnectionPool.from_url(url)),
            EarlyRedis(host, port).client(),
        ]
        for r in clients:
            assert type(r) is redispool.Redis
            assert isinstance(r, redis.Redis) and isinstance(r, EarlyRedis)
            assert type(r.connection_pool) is ConnectionPool
            assert r.set("install:k", "v") and r.get("install:k") in (b"v", "v")
            pipe = r.pipeline()
            assert type(pipe) is redispool.Pipeline
            assert pipe.set("install:p", 1).incr("install:p").execute() == [True, 2]
            with r.pipeline(transaction=False) as pipe:
                assert pipe.get("install:p").execute() in ([b"2"], ["2"])
            r.close()
        assert fused["execute_command"] == 2 * len(clients)
        assert fused["run_transaction"] == len(clients)
        assert fused["run_pipeline"] == len(clients)
        assert type(redis.Redis(host, port, 0)) is redispool.Redis  # positional arguments
    finally:
        redispool.uninstall()
    r = EarlyRedis(host, port)
    assert type(r) is redis.client.Redis and type(r.pipeline()) is redis.client.Pipeline
    assert type(redis.from_url(url)) is redis.client.Redis
    assert r.get("install:k") == b"v" and fused["execute_command"] == 2 * len(clients)
    r.close()


def test_install_leaves_subclasses_alone(redis_server: RedisServer) -> None:
    """Only what asks for ``redis.Redis`` itself changes: a user's subclass, redis-py's
    ``Pipeline`` (a subclass of ``Redis``) and ``redispool.Redis`` stay what they are,
    and after ``uninstall()`` each of them is still made with positional arguments
    (deleting the ``__new__`` install() sets would break that: CPython issue 105888)."""
    host, port = redis_server.host, redis_server.port
    for _ in range(2):  # installed, then uninstalled (and installed again on the way)
        redispool.install()
        redispool.install()  # idempotent
        for cls in (redis.Redis, UserRedis):  # inspect reads the __new__ first
            assert list(inspect.signature(cls).parameters)[:3] == ["host", "port", "db"]
        user = UserRedis(host, port)
        assert type(user) is UserRedis and type(user.pipeline()) is redis.client.Pipeline
        assert type(UserRedis.from_url(redis_server.url)) is UserRedis
        assert type(redispool.Redis(host, port)) is redispool.Redis
        stock = redis.client.Pipeline(user.connection_pool, user.response_callbacks, True, None)
        assert type(stock) is redis.client.Pipeline
        assert user.set("install:user", 1) and stock.get("install:user").execute() == [b"1"]
        redispool.uninstall()
        for cls in (redis.Redis, UserRedis, redispool.Redis):
            r = cls(host, port, 0)
            assert type(r) is cls and r.ping()
            pipe = redis.client.Pipeline(r.connection_pool, r.response_callbacks, False, None)
            assert pipe.ping().execute() == [True]
            r.close()


def test_private_views_write_through(pool_class: type) -> None:
    """redis-py's tests add connections to the private containers by hand."""
    pool = pool_class(max_connections=3, connection_class=Dummy)
    idle, busy = Dummy(), Dummy()
    pool._available_connections.append(idle)
    pool._in_use_connections.add(busy)
    (idle_count, _), (used_count, _) = pool.get_connection_count()
    assert (idle_count, used_count) == (1, 1)
    assert pool.get_connection() is idle
    pool.release(busy)
    assert busy in pool._available_connections
    pool._available_connections.append(Dummy())
    with pytest.raises(redis.MaxConnectionsError):
        pool._available_connections.append(Dummy())


def test_private_views_extend_and_update(pool_class: type) -> None:
    """redis-py's maintenance tests fill them with ``extend`` and ``update``."""
    pool = pool_class(max_connections=4, connection_class=Dummy)
    idle, busy = [Dummy(), Dummy()], [Dummy(), Dummy()]
    pool._available_connections.extend(idle)
    pool._in_use_connections.update(busy)
    assert set(pool._available_connections) == set(idle)
    assert set(pool._in_use_connections) == set(busy)


def test_blocking_pool_queue_view(redis_server: RedisServer) -> None:
    """redis-py's blocking pool keeps ``pool``, a LifoQueue of idle connections and
    ``None`` placeholders (room for one more), and its tests read it and fill it by hand:
    here a live view of the slot array."""
    pool = BlockingConnectionPool.from_url(redis_server.url, max_connections=3, timeout=0.05)
    assert (pool.pool.maxsize, pool.pool.qsize(), pool.pool.full()) == (3, 3, True)
    assert list(pool.pool.queue) == [None, None, None]
    a, b = pool.get_connection(), pool.get_connection()
    pool.release(a)
    assert list(pool.pool.queue) == [None, a]  # the next one to be taken last
    assert pool.pool.get_nowait() is a  # lent out, as a checkout would
    assert a in pool._in_use_connections
    assert pool.pool.get_nowait() is None  # the last free slot, for a connection made here
    assert pool.pool.empty() and list(pool.pool.queue) == []
    with pytest.raises(Empty):
        pool.pool.get_nowait()
    with pytest.raises(redis.ConnectionError, match=r"No connection available\."):
        pool.get_connection()
    mine = redis.Connection(host=redis_server.host, port=redis_server.port)
    pool.pool.put_nowait(mine)  # into the slot the None left
    assert list(pool.pool.queue) == [mine] and set(pool._connections) == {mine, a, b}
    assert redis.Redis(connection_pool=pool).ping()  # on ``mine``, the only idle one
    pool.pool.put_nowait(a)
    pool.release(b)
    assert pool.pool.full() and set(pool.pool.queue) == {mine, a, b}
    with pytest.raises(Full):
        pool.pool.put_nowait(None)
    with pytest.raises(Full):
        pool.pool.put_nowait(redis.Connection(host=redis_server.host, port=redis_server.port))
    assert balanced(pool.stats())
    pool.disconnect()


def test_blocking_pool_queue_view_counts_like_redis_py() -> None:
    """redis-py's ``get_connection_count`` test: connections added to ``_connections``
    (lent out, as they are not queued), every ``None`` taken, the connections queued."""
    pool = BlockingConnectionPool(max_connections=10, connection_class=Dummy, timeout=0.01)
    one, two = Dummy(), Dummy()
    pool._connections.append(one)
    pool._connections.append(two)
    assert pool._get_in_use_connections() == {one, two}
    taken = 0
    while not pool.pool.empty():
        assert pool.pool.get_nowait() is None
        taken += 1
    assert taken == 8
    pool.pool.put_nowait(one)
    pool.pool.put_nowait(two)
    (idle, _), (used, _) = pool.get_connection_count()
    assert (idle, used) == (2, 0)
    pool.pool.put_nowait(None)  # a slot given back
    assert pool.pool.qsize() == 3
    assert [pool.get_connection(), pool.get_connection()] == [two, one]
    assert pool.get_connection() not in (one, two)  # a new one, in the slot given back
    with pytest.raises(redis.ConnectionError):
        pool.get_connection()  # the other seven Nones are still out, as in redis-py


def test_blocking_pool_queue_view_get_waits(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1)
    conn = pool.get_connection()
    with pytest.raises(Empty):
        pool.pool.get(timeout=0.05)
    threading.Timer(0.05, pool.release, [conn]).start()
    assert pool.pool.get(timeout=10) is conn
    pool.pool.put(conn)
    fifo = BlockingConnectionPool.from_url(redis_url, max_connections=3, queue_class=Queue)
    first, second = fifo.get_connection(), fifo.get_connection()
    fifo.release(first)
    fifo.release(second)
    assert list(fifo.pool.queue) == [first, second, None]  # the next one to be taken first
    assert fifo.pool.get_nowait() is first
    pool.disconnect()
    fifo.disconnect()


def test_client_side_caching_locks_the_slot_array() -> None:
    """redis-py drains invalidations of idle connections under the pool lock; with a
    cache, checkouts take that lock too (no server needed to see the wiring)."""
    from redis.cache import CacheConfig

    pool = ConnectionPool(protocol=3, cache_config=CacheConfig())
    assert pool.cache is not None
    assert type(pool._slots).__name__ == "_LockedSlots"
    assert pool.stats().max == pool.max_connections
    assert type(ConnectionPool()._slots).__name__ == "SlotArray"


def test_mixed_case_subscribe_is_not_reused(redis_url: str) -> None:
    """Found in review: ``Subscribe`` (any spelling) owes an unknown number of replies."""
    pool = ConnectionPool.from_url(redis_url, protocol=2)
    r = redis.Redis(connection_pool=pool)
    r.set("pool:mixed", "v")
    r.execute_command("Subscribe", "a", "b")  # reads one confirmation of two
    assert r.get("pool:mixed") == b"v"  # not the second confirmation


def test_adopting_a_held_connection_is_a_no_op() -> None:
    pool = ConnectionPool(max_connections=2, connection_class=Dummy)
    conn = pool.get_connection()
    pool._in_use_connections.add(conn)  # already there: as with a set, nothing changes
    stats = pool.stats()
    assert (stats.in_use, stats.idle, pool._created_connections) == (1, 0, 1)
    pool.get_connection()  # the second slot is still free


def test_install_runs_a_mixins_new(redis_server: RedisServer) -> None:
    """A subclass mixing in a class with its own ``__new__`` after ``redis.Redis`` still
    gets it (with the arguments), installed and after ``uninstall()``."""

    class Tagged:
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            made = super().__new__(cls)
            made.tag = kwargs.get("port")
            return made

    class Mixed(redis.Redis, Tagged):
        pass

    redispool.install()
    try:
        assert Mixed(port=redis_server.port).tag == redis_server.port
        assert type(redis.Redis(port=redis_server.port)) is redispool.Redis
    finally:
        redispool.uninstall()
    assert Mixed(port=redis_server.port).tag == redis_server.port
