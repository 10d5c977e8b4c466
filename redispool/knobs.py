"""redispool's own pool keyword arguments, validated once for the sync and asyncio pools.

They become the slot array's constructor arguments (``pool._knobs``) and the public
attributes users read back (``fifo``, ``health_check_after``, ``min_idle``, and ``name``,
the pool's label in ``redispool.metrics``).
"""

from __future__ import annotations

from typing import Any


def _seconds(value: float | None, name: str) -> float:
    if value is None:
        return 0.0
    if value < 0:
        raise ValueError(f'"{name}" must be a non-negative number of seconds')
    return float(value)


def set_knobs(
    pool: Any,
    *,
    health_check_after: float,
    fifo: bool,
    idle_timeout: float | None,
    max_lifetime: float | None,
    max_idle: int | None,
    min_idle: int,
    name: str | None = None,
) -> None:
    """Validate a pool's extra keyword arguments (sync or asyncio) and keep them, as
    ``SlotArray`` arguments in ``pool._knobs`` and as the public attributes."""
    if max_idle is not None and max_idle < 0:
        raise ValueError('"max_idle" must be a non-negative integer')
    if min_idle < 0:
        raise ValueError('"min_idle" must be a non-negative integer')
    pool._knobs = {
        "fifo": fifo,
        "check_after": _seconds(health_check_after, "health_check_after"),
        "idle_timeout": _seconds(idle_timeout, "idle_timeout"),
        "max_lifetime": _seconds(max_lifetime, "max_lifetime"),
        "max_idle": max_idle or 0,
        "min_idle": min_idle,
    }
    pool.fifo = fifo
    pool.health_check_after = pool._knobs["check_after"]
    pool.min_idle = min_idle
    if name is not None and not isinstance(name, str):
        raise TypeError('"name" must be a string')
    pool.name = name  # redispool.metrics' label for the pool
