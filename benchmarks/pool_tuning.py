"""The README's pool-tuning walk-through: a load of threads on a BlockingConnectionPool,
then what a Prometheus scrape of ``redispool.metrics.PrometheusCollector`` shows about it.

    python benchmarks/pool_tuning.py 2 8      # max_connections 2, then 8
    python benchmarks/pool_tuning.py --url redis://host:6379/0 8

Each run: ``--threads`` threads (default 8), for ``--seconds`` (default 5), each request a
check-and-set (redis-py's ``WATCH`` pattern: the pipeline holds its connection from
``watch()`` to ``execute()``) with ``--pause`` (default 10 ms) of the handler's own work
in between, on a key of its own (no conflicts), then as long again of other work without
a connection. Without ``--url`` a private redis-server is started on a free loopback
port.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's redispool

import redis
from prometheus_client import CollectorRegistry, generate_latest

import redispool
from redispool.metrics import PrometheusCollector
from redispool.server import RedisServer


def load(url: str, max_connections: int, threads: int, seconds: float, pause: float) -> int:
    pool = redispool.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=1, name=f"app-{max_connections}"
    )
    r = redis.Redis(connection_pool=pool)
    done = [0] * threads
    deadline = time.monotonic() + seconds

    def handler(n: int) -> None:
        key = f"balance:{n}"
        while time.monotonic() < deadline:
            with r.pipeline() as pipe:
                pipe.watch(key)  # from here to execute() the request holds a connection
                balance = int(pipe.get(key) or 0)
                time.sleep(pause)  # the handler's own work
                pipe.multi()
                pipe.set(key, balance + 1)
                pipe.execute()
            done[n] += 1
            time.sleep(pause)  # the rest of the request, no connection held

    workers = [threading.Thread(target=handler, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    registry = CollectorRegistry()
    registry.register(PrometheusCollector())
    mine = f'pool="app-{max_connections}"'
    text = generate_latest(registry).decode()
    print(f"max_connections={max_connections}: {sum(done) / seconds:,.0f} requests/s")
    for line in text.splitlines():
        if mine in line and "_created" not in line:
            print("  " + line)
    print("  stats():", pool.stats())
    pool.disconnect()
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="+", type=int, help="max_connections for each run")
    parser.add_argument("--url", help="a server to use instead of a private redis-server")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pause", type=float, default=0.01)
    args = parser.parse_args()
    if args.url:
        for size in args.sizes:
            load(args.url, size, args.threads, args.seconds, args.pause)
        return
    with RedisServer() as server:
        for size in args.sizes:
            load(server.url, size, args.threads, args.seconds, args.pause)


if __name__ == "__main__":
    main()
