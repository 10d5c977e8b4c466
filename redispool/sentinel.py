"""``SentinelConnectionPool``: redis-py's Sentinel pool on redispool's slot array.

redis-py's Sentinel pool only adds master discovery and an ownership rule to its base
pool, so this class reuses it and puts redispool's pool underneath it in the MRO
(``Sentinel.master_for(name, connection_pool_class=redispool.sentinel.SentinelConnectionPool)``).
A connection to a demoted master is disconnected on release, as in redis-py.
"""

from __future__ import annotations

import redis.sentinel

from .pool import ConnectionPool


class SentinelConnectionPool(redis.sentinel.SentinelConnectionPool, ConnectionPool):
    """Drop-in for ``redis.sentinel.SentinelConnectionPool``."""


__all__ = ("SentinelConnectionPool",)
