"""redis-py's connection-release event, skipped while it would do nothing but re-auth.

redis-py dispatches ``AfterConnectionReleasedEvent`` on every release; its only default
listener re-authenticates a connection that holds a new token. Building and dispatching
the event costs more than the rest of a release, so both pools remember the listener list
they last saw hold nothing else (``register_listeners`` replaces the list, which makes
the identity check enough) and then only look at the token.
"""

from __future__ import annotations

from typing import Any

UNSEEN: Any = object()  # matches no listener list: the first release looks


def quiet(listeners: Any, reauth: type) -> bool:
    """Whether dispatching to ``listeners`` could do no more than ``reauth``'s re-auth."""
    return not listeners or all(type(x) is reauth for x in listeners)
