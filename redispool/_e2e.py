"""End-to-end workloads on a real server for ``python -m redispool bench`` and the
benchmark suite: each one run through redispool, redis-py (with hiredis, and with its
pure-Python parser), valkey-glide when it is installed (the alternative one would pick
instead of redis-py: a Rust core doing the I/O on its own threads) and a raw-socket floor
that sends pre-packed bytes and only counts reply bytes, which shows how close to the
physical limit each client gets. The floor's sockets make the clients' handshake first
(``HELLO 3`` under RESP3, credentials, database), so they read the same reply bytes.

A workload makes, for one client kind, a ``run(n)`` callable doing ``n`` operations and a
``close()``. Results are checked once before timing, so every client does the same work,
and an asyncio workload's tasks each run one command first, so every client has its
connections open before timing, as the floor has its sockets.
The client kinds are ``KINDS``: a new one (a client class of redispool's own, say) is one
``ClientKind`` line there, and shows in every table and benchmark; a kind without a sync
pool (``pool=None``) runs only the asyncio workloads, one without an asyncio pool only the
sync ones.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis

from . import asyncio as rp_asyncio
from ._compat import _AsyncRESP3Parser, _RESP3Parser
from ._impl import Reader, pack_command
from .client import Redis
from .pool import ConnectionPool

VALUE = b"v" * 100
BIG = b"b" * (1 << 20)
HASH = {f"field{i:03d}".encode(): f"value{i:03d}".encode() for i in range(100)}
LIST = [f"item{i:04d}".encode() for i in range(1000)]


@dataclass(frozen=True)
class ClientKind:
    """One client kind: the pools it runs on, and the client classes over them."""

    name: str
    pool: Callable[..., Any] | None  # (url, **pool kwargs) -> a sync pool; None: no sync rows
    #: (url, **pool kwargs) -> an asyncio pool; None: no asyncio rows
    async_pool: Callable[..., Any] | None
    client_class: Callable[..., Any] = redis.Redis  # called with connection_pool=
    async_client_class: Callable[..., Any] = aredis.Redis
    description: str = ""  # for the plot's legend
    #: whether it runs here (its library is installed); a kind that does not has no rows
    available: Callable[[], bool] = lambda: True
    #: a client that is not redis-py's makes its own runners: (workload, url) -> Runner,
    #: checking the answer first (the pools and the client classes are then unused), for
    #: every sync workload
    runner: Callable[[Workload, str], Runner] | None = None
    asyncio: bool = False  # whether ``runner`` does the asyncio workloads

    @property
    def has_sync(self) -> bool:
        return self.runner is not None or self.pool is not None

    @property
    def has_asyncio(self) -> bool:
        return self.asyncio if self.runner is not None else self.async_pool is not None


#: client kinds in table order; a new kind is one line here
KINDS: dict[str, ClientKind] = {
    kind.name: kind
    for kind in (
        # the fused command path: redispool.Redis, redispool.asyncio.Redis
        ClientKind(
            "redispool.Redis",
            ConnectionPool.from_url,
            rp_asyncio.ConnectionPool.from_url,
            Redis,
            rp_asyncio.Redis,
            description="fused command path",
        ),
        # redispool.asyncio.Redis(auto_pipeline=True): asyncio only
        ClientKind(
            "redispool.Redis auto_pipeline",
            None,
            rp_asyncio.ConnectionPool.from_url,
            async_client_class=functools.partial(rp_asyncio.Redis, auto_pipeline=True),
            description="asyncio: concurrent commands share a connection",
        ),
        # redis-py's client on redispool's pool, parser and packer
        ClientKind(
            "redispool",
            ConnectionPool.from_url,
            rp_asyncio.ConnectionPool.from_url,
            description="redis.Redis on redispool's pool, parser, packer",
        ),
        # hiredis's parser when hiredis is installed (redis-py's default)
        ClientKind(
            "redis-py+hiredis",
            redis.ConnectionPool.from_url,
            aredis.ConnectionPool.from_url,
            available=lambda: hiredis_available(),
        ),
        ClientKind(
            "redis-py",
            functools.partial(redis.ConnectionPool.from_url, parser_class=_RESP3Parser),
            functools.partial(aredis.ConnectionPool.from_url, parser_class=_AsyncRESP3Parser),
        ),
        # valkey-glide when installed: its sync client (glide_sync), its asyncio one (glide)
        ClientKind(
            "valkey-glide",
            None,  # glide has its own connections
            None,
            description="valkey-glide's own clients (Rust core)",
            available=lambda: glide_available(),
            runner=lambda workload, url: _glide(workload, url),
            asyncio=True,
        ),
    )
}
#: the raw socket: pre-packed bytes out, reply bytes counted in, no client at all
FLOOR = "raw socket"
CLIENTS = (*KINDS, FLOOR)
#: what ratios are taken against (never a kind that may be absent but redis-py+hiredis,
#: replaced by redis-py without hiredis)
REFERENCE = "redis-py+hiredis"

Runner = tuple[Callable[[int], None], Callable[[], None]]


def hiredis_available() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


def glide_available() -> bool:
    """valkey-glide's asyncio client (``glide``) and its sync one (``glide_sync``, the
    ``valkey-glide-sync`` package) both import."""
    try:
        import glide  # noqa: F401
        import glide_sync  # noqa: F401
    except ImportError:
        return False
    return True


def raise_open_files_limit() -> int | None:
    """Raise this process's soft limit on open files to its hard limit, so an asyncio
    workload can open a connection per task for every client at once (children started
    afterwards, the embedded server, inherit it); the soft limit now, None where there is
    none (not Unix)."""
    try:
        import resource
    except ImportError:  # pragma: no cover
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):  # macOS caps it lower than its hard limit says
            return soft
        return want
    return soft


def max_clients(url: str) -> int | None:
    """The server's ``maxclients`` (None where ``CONFIG GET`` is not allowed)."""
    r = redis.Redis.from_url(url)
    try:
        value = r.config_get("maxclients").get("maxclients")
    except redis.ResponseError:
        return None
    finally:
        r.close()
    return int(value) if value is not None else None


def connections(workload: Workload, kinds: Iterable[str]) -> int:
    """About how many connections (open files, server clients) running ``workload``
    through ``kinds`` holds at once: at most one per task for each kind (the floor and
    the pools' clients do open that many, all open through the interleaved rounds), and
    some to spare."""
    return workload.tasks * len([kind for kind in kinds if workload.runs_on(kind)]) + 256


def seed(url: str) -> None:
    """The keys every workload reads."""
    r = redis.Redis.from_url(url)
    pipe: Any
    with r.pipeline(transaction=False) as pipe:
        pipe.set("bench:k", VALUE)
        pipe.set("bench:big", BIG)
        pipe.delete("bench:h", "bench:l")
        pipe.hset("bench:h", mapping=HASH)
        pipe.rpush("bench:l", *LIST)
        pipe.execute()
    r.close()


def _reply_size(url: str, command: bytes) -> int:
    """Bytes of the reply to ``command``: the raw floor reads exactly that many."""
    with _raw_socket(url) as sock:
        sock.sendall(command)
        reader, size = Reader(), 0
        while True:
            chunk = sock.recv(1 << 20)
            size += len(chunk)
            reader.feed(chunk)
            if reader.gets() is not False:
                return size


def _handshake(url: str) -> list[bytes]:
    """The commands that put a raw socket where the clients' connections are: the same
    protocol (``HELLO 3`` when they speak RESP3, so the floor reads the same reply bytes),
    credentials and database."""
    kw, resp3 = _connection(url)
    password, username = kw.get("password"), kw.get("username")
    commands = []
    if resp3:
        auth = ("AUTH", username or "default", password) if password else ()
        commands.append(pack_command(("HELLO", 3, *auth)))
    elif password:
        commands.append(pack_command(("AUTH", *([username] if username else []), password)))
    if kw.get("db", 0):
        commands.append(pack_command(("SELECT", kw["db"])))
    return commands


def _connection(url: str) -> tuple[dict[str, Any], bool]:
    """redis-py's connection kwargs for ``url``, and whether its clients speak RESP3
    (redis-py's default protocol unless the URL says)."""
    pool = redis.ConnectionPool.from_url(url)
    kw = pool.connection_kwargs
    return kw, pool.connection_class(**kw).protocol in (3, "3")


def _address(url: str) -> tuple[str, int]:
    kw = redis.ConnectionPool.from_url(url).connection_kwargs
    return kw.get("host", "localhost"), kw.get("port", 6379)


def _raw_socket(url: str) -> socket.socket:
    sock = socket.create_connection(_address(url))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for command in _handshake(url):
        sock.sendall(command)
        reader = Reader()
        while (reply := reader.gets()) is False:
            reader.feed(sock.recv(1 << 16))
        if isinstance(reply, Exception):
            raise reply
    return sock


def _raw_loop(sock: socket.socket, command: bytes, size: int) -> Callable[[int], None]:
    buf = bytearray(max(size, 1 << 16))
    view = memoryview(buf)

    def run(n: int) -> None:
        for _ in range(n):
            sock.sendall(command)
            got = 0
            while got < size:
                got += sock.recv_into(view[got:])

    return run


@dataclass(frozen=True)
class Workload:
    """One row of the table: what one operation is, and how each client does it."""

    name: str
    unit: str  # what one operation is, for the table
    command: tuple[Any, ...]  # the command as packed for the raw floor
    repeat: int = 1  # commands per operation (a pipeline of 1000 GETs is one operation)
    threads: int = 1
    tasks: int = 0  # asyncio tasks (0: sync)

    def packed(self) -> bytes:
        return pack_command(self.command) * self.repeat

    def runs_on(self, kind: str) -> bool:
        """Whether client ``kind`` does this workload (an asyncio one needs an asyncio
        client, a sync one a sync client)."""
        return self.not_run(kind) is None

    def not_run(self, kind: str) -> str | None:
        """Why client ``kind`` does not do this workload, or None when it does."""
        if kind == FLOOR:
            return None
        if self.tasks:
            return None if KINDS[kind].has_asyncio else "no asyncio client"
        return None if KINDS[kind].has_sync else "asyncio only"

    def make(self, kind: str, url: str) -> Runner:
        if kind == FLOOR:
            return self._floor(url)
        if (why := self.not_run(kind)) is not None:
            raise ValueError(f"{kind} does not run {self.name}: {why}")
        if KINDS[kind].runner is not None:
            return KINDS[kind].runner(self, url)  # type: ignore[misc]
        if self.tasks:
            return self._asyncio(KINDS[kind], url)
        client = KINDS[kind]
        assert client.pool is not None
        pool = client.pool(url, max_connections=max(self.threads, 1) * 2)
        r = client.client_class(connection_pool=pool)
        self._check(kind, self._operation_result(r))
        one = self._operation(r)
        if self.threads == 1:
            return one, pool.disconnect
        return _threaded(one, self.threads), pool.disconnect

    def _check(self, kind: str, result: Any) -> None:
        """Every client must give the same answer before it is timed."""
        if result != self._expected():
            raise AssertionError(f"{kind} answered {self.name} wrongly: {result!r:.200}")

    # the redis-py way of doing one operation
    def _operation(self, r: redis.Redis) -> Callable[[int], None]:
        name, *args = self.command
        if self.repeat > 1:

            def run(n: int) -> None:
                for _ in range(n):
                    with r.pipeline(transaction=False) as pipe:
                        for _ in range(self.repeat):
                            pipe.execute_command(name, *args)
                        pipe.execute()

            return run
        call = r.execute_command

        def single(n: int) -> None:
            for _ in range(n):
                call(name, *args)

        return single

    def _operation_result(self, r: redis.Redis) -> Any:
        name, *args = self.command
        if self.repeat > 1:
            with r.pipeline(transaction=False) as pipe:
                for _ in range(self.repeat):
                    pipe.execute_command(name, *args)
                return pipe.execute()
        return r.execute_command(name, *args)

    def _expected(self) -> Any:
        name = self.command[0]
        one: Any = {
            "GET": BIG if self.command[1] == "bench:big" else VALUE,
            "SET": True,
            "HGETALL": HASH,
            "LRANGE": LIST,
        }[name]
        return [one] * self.repeat if self.repeat > 1 else one

    def _floor(self, url: str) -> Runner:
        command = self.packed()
        size = _reply_size(url, command)
        if self.tasks:
            return _async_floor(url, command, size, self.tasks)
        sockets = [_raw_socket(url) for _ in range(self.threads)]

        def close() -> None:
            for sock in sockets:
                sock.close()

        if self.threads == 1:
            return _raw_loop(sockets[0], command, size), close
        loops = [_raw_loop(sock, command, size) for sock in sockets]
        return _threaded_each(loops), close

    def _asyncio(self, client: ClientKind, url: str) -> Runner:
        assert client.async_pool is not None
        loop = asyncio.new_event_loop()
        pool = client.async_pool(url, max_connections=self.tasks)  # redis-py: 100 by default
        r = client.async_client_class(connection_pool=pool)
        name, *args = self.command
        self._check(client.name, loop.run_until_complete(r.execute_command(name, *args)))
        run = _async_tasks(loop, functools.partial(r.execute_command, name, *args), self.tasks)
        run(self.tasks)  # one command per task: the connections they need are open
        return run, lambda: _close_loop(loop, pool.disconnect())


def _async_tasks(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[Any]], tasks: int
) -> Callable[[int], None]:
    """Run ``n`` awaits of ``call()`` on ``loop``, split over ``tasks`` tasks."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    async def batch(n: int) -> None:
        share, extra = divmod(n, tasks)
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(tasks)))

    def run(n: int) -> None:
        loop.run_until_complete(batch(n))

    return run


def _close_loop(loop: asyncio.AbstractEventLoop, closing: Awaitable[Any]) -> None:
    loop.run_until_complete(closing)
    loop.close()


def _threaded(one: Callable[[int], None], threads: int) -> Callable[[int], None]:
    return _threaded_each([one] * threads)


def _threaded_each(loops: list[Callable[[int], None]]) -> Callable[[int], None]:
    """Run ``n`` operations split over one thread per loop; all start together."""

    def run(n: int) -> None:
        share, extra = divmod(n, len(loops))
        start = threading.Barrier(len(loops))

        def work(loop: Callable[[int], None], count: int) -> None:
            start.wait()
            loop(count)

        workers = [
            threading.Thread(target=work, args=(loop, share + (i < extra)))
            for i, loop in enumerate(loops)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    return run


def _async_floor(url: str, command: bytes, size: int, tasks: int) -> Runner:
    loop = asyncio.new_event_loop()
    handshake = _handshake(url)

    async def open_one() -> Any:
        reader, writer = await asyncio.open_connection(*_address(url))
        for command in handshake:
            writer.write(command)
            parser = Reader()
            while (reply := parser.gets()) is False:
                parser.feed(await reader.read(1 << 16))
            if isinstance(reply, Exception):
                raise reply
        return reader, writer

    async def connect() -> list[Any]:
        return [await open_one() for _ in range(tasks)]

    streams = loop.run_until_complete(connect())

    async def worker(reader: asyncio.StreamReader, writer: Any, count: int) -> None:
        for _ in range(count):
            writer.write(command)
            await writer.drain()
            await reader.readexactly(size)

    async def batch(n: int) -> None:
        share, extra = divmod(n, tasks)
        await asyncio.gather(
            *(worker(r, w, share + (i < extra)) for i, (r, w) in enumerate(streams))
        )

    def run(n: int) -> None:
        loop.run_until_complete(batch(n))

    def close() -> None:
        for _, writer in streams:
            writer.close()
        loop.close()

    return run, close


def _glide_config(module: Any, url: str) -> Any:
    """A glide client configuration (``module``: ``glide`` or ``glide_sync``) reaching
    the server of ``url`` as redis-py's clients do: credentials, database, protocol."""
    kw, resp3 = _connection(url)
    password = kw.get("password")
    return module.GlideClientConfiguration(
        [module.NodeAddress(*_address(url))],
        credentials=module.ServerCredentials(password, kw.get("username")) if password else None,
        database_id=kw.get("db", 0) or None,
        protocol=module.ProtocolVersion.RESP3 if resp3 else module.ProtocolVersion.RESP2,
    )


def _glide_call(module: Any, client: Any, workload: Workload) -> Callable[[], Any]:
    """One operation of ``workload`` the glide way: its typed command method (``get``,
    ``set``, ``hgetall``, ``lrange``, with the same arguments), or a non-atomic ``Batch``
    of ``repeat`` of them run by ``exec`` for a pipeline. Sync or asyncio as the client."""
    name, *args = workload.command
    if workload.repeat == 1:
        return functools.partial(getattr(client, name.lower()), *args)
    repeat = workload.repeat

    def pipeline() -> Any:
        batch = module.Batch(is_atomic=False)
        add = getattr(batch, name.lower())
        for _ in range(repeat):
            add(*args)
        return client.exec(batch, raise_on_error=True)

    return pipeline


def _glide_answer(workload: Workload, result: Any) -> Any:
    """glide's answer as redis-py's: SET answers ``"OK"`` where redis-py says True."""
    return result == "OK" if workload.command[0] == "SET" else result


def _glide(workload: Workload, url: str) -> Runner:
    """valkey-glide doing ``workload``: the sync workloads through ``glide_sync``'s client,
    the asyncio one through ``glide``'s, each checked before timing. One client serves
    all threads or tasks, as glide means it to: it multiplexes every caller's commands
    over its one connection (its sync client is thread-safe: calls go through the Rust
    core, the Python side only guards the core's handle with a lock)."""
    name = "valkey-glide"
    if workload.tasks:
        import glide

        loop = asyncio.new_event_loop()
        aclient = loop.run_until_complete(glide.GlideClient.create(_glide_config(glide, url)))
        acall = _glide_call(glide, aclient, workload)
        workload._check(name, _glide_answer(workload, loop.run_until_complete(acall())))
        run = _async_tasks(loop, acall, workload.tasks)
        run(workload.tasks)  # as the other clients' (``Workload._asyncio``)
        return run, lambda: _close_loop(loop, aclient.close())
    import glide_sync

    client = glide_sync.GlideClient.create(_glide_config(glide_sync, url))
    call = _glide_call(glide_sync, client, workload)
    workload._check(name, _glide_answer(workload, call()))

    def one(n: int) -> None:
        for _ in range(n):
            call()

    if workload.threads == 1:
        return one, client.close
    return _threaded(one, workload.threads), client.close


#: name -> workload; ``ops`` in the runner is per row
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("GET", "GET", ("GET", "bench:k")),
        Workload("SET", "SET", ("SET", "bench:k", VALUE)),
        Workload("GET, 8 threads", "GET", ("GET", "bench:k"), threads=8),
        Workload("pipeline of 1000 GETs", "pipeline", ("GET", "bench:k"), repeat=1000),
        Workload("HGETALL, 100 fields", "HGETALL", ("HGETALL", "bench:h")),
        Workload("LRANGE 0 999", "LRANGE", ("LRANGE", "bench:l", 0, 999)),
        Workload("GET of 1 MiB", "GET", ("GET", "bench:big")),
        Workload("asyncio GET, 50 tasks", "GET", ("GET", "bench:k"), tasks=50),
        Workload("asyncio GET, 1000 tasks", "GET", ("GET", "bench:k"), tasks=1000),
    )
}

#: operations per timing round, per workload (a round takes ~10-50 ms here)
OPS: dict[str, int] = {
    "GET": 500,
    "SET": 500,
    "GET, 8 threads": 800,
    "pipeline of 1000 GETs": 4,
    "HGETALL, 100 fields": 200,
    "LRANGE 0 999": 50,
    "GET of 1 MiB": 10,
    "asyncio GET, 50 tasks": 1000,
    "asyncio GET, 1000 tasks": 1000,  # one GET per task: at least 1000, 10-110 ms here
}

#: the workloads of the CPU-overhead table: client CPU time per command beyond the floor's
CPU_WORKLOADS = ("GET", "SET", "HGETALL, 100 fields", "pipeline of 1000 GETs")
