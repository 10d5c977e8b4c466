"""Both twins of each compiled module have every member of its Protocol in
``redispool._protocols``, with the Protocol's parameter names and the same defaults.

``make lint`` checks this statically (mypy, through the compiled twins' stubs, and stubtest
for the stubs against the build); here it is checked against the build under test, with
the parameter names that mypy's protocol check leaves out.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from redispool import _protocols
from redispool._impl import NO_EXTENSIONS

pytestmark = pytest.mark.skipif(NO_EXTENSIONS, reason="REDISPOOL_NO_EXTENSIONS is set")

SURFACES = [
    (_protocols.ReaderProtocol, "reader", "Reader"),
    (_protocols.PackerProtocol, "pack", "Packer"),
    (_protocols.SlotArrayProtocol, "slots", "SlotArray"),
]


def _twins(stem: str, name: str) -> tuple[Any, Any]:
    """``name`` in the compiled and in the pure twin."""
    compiled = importlib.import_module(f"redispool._{stem}_c")
    pure = importlib.import_module(f"redispool._{stem}_py")
    return getattr(compiled, name), getattr(pure, name)


def _members(protocol: type) -> list[str]:
    names = {*vars(protocol), *protocol.__annotations__}
    return sorted(name for name in names if not name.startswith("_"))


def _parameters(function: Any, defaults: bool = True) -> list[tuple[Any, ...]]:
    return [
        (p.name, p.kind, p.default) if defaults else (p.name, p.kind)
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize(("protocol", "stem", "name"), SURFACES, ids=[s[2] for s in SURFACES])
def test_twins_have_the_protocol_members(protocol: type, stem: str, name: str) -> None:
    compiled, pure = _twins(stem, name)
    for member in _members(protocol):
        assert hasattr(compiled, member) and hasattr(pure, member), member
        declared = vars(protocol).get(member)
        if inspect.isfunction(declared):
            ours, names = getattr(compiled, member), _parameters(declared, defaults=False)
            assert _parameters(ours, defaults=False) == names, member
            assert _parameters(ours) == _parameters(getattr(pure, member)), member


def test_pack_command_twins() -> None:
    compiled, pure = _twins("pack", "pack_command")
    assert (
        _parameters(compiled)
        == _parameters(pure)
        == [("cmd", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty)]
    )
