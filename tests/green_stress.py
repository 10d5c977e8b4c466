"""Green-thread stress, run in a subprocess by ``tests/test_green.py`` (monkey-patching
cannot be undone in the pytest process):

    python tests/green_stress.py gevent|eventlet c|py REDIS_URL

100 green threads share a ``BlockingConnectionPool`` of 4 connections against a real
redis-server; most commands run under a short library timeout (``gevent.Timeout`` or
``eventlet.Timeout``, BaseExceptions both) so that timeouts land while green threads wait
for a connection, just as they are woken, and mid-command; a CPU hog makes timers fire
late, so wake-ups and timeouts coincide. Prints one JSON line with what went wrong.
"""

from __future__ import annotations

import sys

LIBRARY, TWIN, URL = sys.argv[1], sys.argv[2], sys.argv[3]

if LIBRARY == "gevent":
    from gevent import monkey

    monkey.patch_all()
    import gevent

    Timeout: type[BaseException] = gevent.Timeout

    def spawn(func: object, *args: object) -> object:
        return gevent.spawn(func, *args)

    def join(greens: list[object]) -> None:
        gevent.joinall(greens)

    def cooperate() -> None:  # a real timer: sleep(0) can run callbacks without polling I/O
        gevent.sleep(0.0001)

else:
    import eventlet

    eventlet.monkey_patch()
    Timeout = eventlet.Timeout

    def spawn(func: object, *args: object) -> object:
        return eventlet.spawn(func, *args)

    def join(greens: list[object]) -> None:
        for green in greens:
            green.wait()  # type: ignore[attr-defined]

    def cooperate() -> None:
        eventlet.sleep(0.0001)


import importlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402

import redispool.pool  # noqa: E402

redispool.pool.ConnectionPool.slot_array_class = importlib.import_module(
    f"redispool._slots_{TWIN}"
).SlotArray

GREENS, CONNECTIONS, ROUNDS = 100, 4, 40
SECONDS = (0.0005, 0.002, 0.01, 0.05, None)  # None: no timeout


def main() -> dict[str, Any]:
    pool = redispool.BlockingConnectionPool.from_url(URL, max_connections=CONNECTIONS, timeout=None)
    r = redis.Redis(connection_pool=pool, retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
    rng = random.Random(11)
    unexpected: list[str] = []
    wrong: list[Any] = []
    counts = {"ok": 0, "timeouts": 0}
    running = [GREENS]

    def worker(index: int) -> None:
        try:
            for i in range(ROUNDS):
                key, value = f"green:{index}:{i % 5}", f"{index}:{i}"
                timer = Timeout(rng.choice(SECONDS))  # started (eventlet: on creation)
                if LIBRARY == "gevent":
                    timer.start()  # type: ignore[attr-defined]
                try:
                    r.set(key, value)
                    got = r.get(key)
                except Timeout as exc:
                    if exc is not timer:
                        raise
                    counts["timeouts"] += 1
                    continue
                except (redis.ConnectionError, redis.TimeoutError):
                    continue
                finally:
                    timer.cancel()  # type: ignore[attr-defined]
                counts["ok"] += 1
                if got not in (value.encode(), None):
                    wrong.append((key, value, got))
        except BaseException as exc:  # anything else is a finding
            unexpected.append(f"{type(exc).__name__}: {exc}")
        finally:
            running[0] -= 1

    def hog() -> None:  # keeps timers late, so wake-ups and timeouts coincide
        while running[0]:
            until = time.perf_counter() + 0.001
            while time.perf_counter() < until:
                pass
            cooperate()

    greens = [spawn(worker, i) for i in range(GREENS)]
    join([spawn(hog), *greens])
    stats = pool.stats()
    usable = r.set("green:after", "1") and r.get("green:after") == b"1"
    after = pool.stats()
    return {
        "unexpected": unexpected[:5],
        "unexpected_count": len(unexpected),
        "wrong": wrong[:5],
        "counts": counts,
        "balanced": stats.idle + stats.idle_closed + stats.in_use == stats.created - stats.closed,
        "in_use": stats.in_use,
        "waiters": pool._slots.waiters,
        "stats": stats._asdict(),
        "usable": bool(usable) and after.in_use == 0,
        "slot_array": type(pool._slots).__module__,
    }


print(json.dumps(main()))
