"""The RESP3 push reply type shared by both Reader twins."""

from __future__ import annotations

__all__ = ("PushNotification",)


class PushNotification(list):  # type: ignore[type-arg]
    """A RESP3 push message (``>``): a list, distinguishable from an ordinary array reply."""

    __slots__ = ()
