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
    (_protocols.LaneProtocol, "acommand", "Lane"),
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


COMMAND_PATH = [
    ("command", _protocols.ExecuteCommand, "execute_command"),
    ("command", _protocols.PipelineCommand, "pipeline_command"),
    ("command", _protocols.RunPipeline, "run_pipeline"),
    ("command", _protocols.RunPipeline, "run_transaction"),
    ("acommand", _protocols.AsyncExecuteCommand, "execute_command"),
    ("acommand", _protocols.PipelineCommand, "pipeline_command"),
    ("acommand", _protocols.AsyncRunPipeline, "run_pipeline"),
    ("acommand", _protocols.AsyncRunPipeline, "run_transaction"),
]


@pytest.mark.parametrize(
    ("stem", "protocol", "name"), COMMAND_PATH, ids=[f"{c[0]}.{c[2]}" for c in COMMAND_PATH]
)
def test_command_path_twins(stem: str, protocol: type, name: str) -> None:
    """The command paths' functions: the Protocol's parameters (its ``__call__``'s, past
    ``self``) in both twins, the twins' defaults alike, and coroutine functions in both
    where the Protocol's is one."""
    compiled, pure = _twins(stem, name)
    call = vars(protocol)["__call__"]
    names = _parameters(call, defaults=False)[1:]
    assert names
    assert _parameters(compiled, defaults=False) == names
    assert _parameters(pure, defaults=False) == names
    assert _parameters(compiled) == _parameters(pure)
    coroutine = inspect.iscoroutinefunction(call)
    assert inspect.iscoroutinefunction(compiled) == inspect.iscoroutinefunction(pure) == coroutine


@pytest.mark.parametrize("stem", ["command", "acommand"])
def test_command_path_twins_are_all_checked(stem: str) -> None:
    compiled, pure = _twins(stem, "__all__")
    checked = sorted(name for s, _, name in COMMAND_PATH if s == stem)
    if stem == "acommand":
        checked = sorted([*checked, "Lane", "Unretried"])
    assert sorted(compiled) == sorted(pure) == checked
