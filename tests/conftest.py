"""Shared fixtures: every twin test runs against the compiled and the pure module.

The compiled twins are imported by name, so a broken or missing build fails loudly
instead of silently testing the pure twin twice. ``REDISPOOL_NO_EXTENSIONS=1`` skips them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

from redispool.server import RedisServer, ServerNotFound, find_redis_server

# `make test` runs a bounded number of random examples; `make fuzz` many more.
settings.register_profile(
    "default", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fuzz", parent=settings.get_profile("default"), max_examples=3_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

NO_EXTENSIONS = bool(os.environ.get("REDISPOOL_NO_EXTENSIONS"))
TWINS = ("c", "py")


def _built(name: str) -> bool:
    """Whether the compiled module ``name`` was built into the ``redispool`` package under
    test (not found elsewhere, say by the finder of an editable install of another
    checkout)."""
    import redispool

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return False
    here = {os.path.realpath(path) for path in redispool.__path__}
    return os.path.dirname(os.path.realpath(spec.origin)) in here


#: The twins of redis.asyncio's command path: the compiled one wherever it was built (it
#: is then imported by name, so a broken build fails loudly), the pure one always.
ACOMMAND_TWINS = TWINS if _built("redispool._acommand_c") else ("py",)


def _twin(request: pytest.FixtureRequest, stem: str) -> ModuleType:
    kind = request.param
    if kind == "c" and NO_EXTENSIONS:
        pytest.skip("REDISPOOL_NO_EXTENSIONS is set")
    return importlib.import_module(f"redispool._{stem}_{kind}")


@pytest.fixture(params=TWINS, scope="session")
def reader_mod(request: pytest.FixtureRequest) -> ModuleType:
    """``redispool._reader_c`` or ``redispool._reader_py``."""
    return _twin(request, "reader")


@pytest.fixture(params=TWINS, scope="session")
def pack_mod(request: pytest.FixtureRequest) -> ModuleType:
    """``redispool._pack_c`` or ``redispool._pack_py``."""
    return _twin(request, "pack")


@pytest.fixture(params=TWINS, scope="session")
def slots_mod(request: pytest.FixtureRequest) -> ModuleType:
    """``redispool._slots_c`` or ``redispool._slots_py``."""
    return _twin(request, "slots")


# Modules that start servers of their own.
SERVER_MODULES = {
    "test_pool",
    "test_sentinel_pool",
    "test_stress",
    "test_server",
    "test_cluster_pool",
    "test_client",
    "test_aclient",
    "test_auto_pipeline",
}


def talks_to_a_server(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    module = getattr(item, "module", None)
    return getattr(module, "__name__", "") in SERVER_MODULES or bool(
        fixtures & {"redis_url", "redis_server"}
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Which server binary this session runs (``$REDISPOOL_SERVER``: redis, valkey, a path)."""
    try:
        server = RedisServer()
    except ServerNotFound as exc:
        return f"server: none ({exc})"
    return f"server: {server.name} ({server.binary})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that talk to a server are marked ``server`` (``make test`` runs them once more
    against each other server: ``pytest -m server``). Without a server binary they are
    errors, unless ``REDISPOOL_TESTS_WITHOUT_SERVER=skip`` (wheel builds in images that
    have none)."""
    server_items = [item for item in items if talks_to_a_server(item)]
    for item in server_items:
        item.add_marker(pytest.mark.server)
    if os.environ.get("REDISPOOL_TESTS_WITHOUT_SERVER") != "skip":
        return
    try:
        find_redis_server()
    except ServerNotFound as exc:
        skip = pytest.mark.skip(reason=f"{exc} (REDISPOOL_TESTS_WITHOUT_SERVER=skip)")
        for item in server_items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server for the whole session (free loopback port, temp dir)."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(params=TWINS)
def slot_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Pools made in the test, sync and asyncio (and their subclasses), use the compiled or
    the pure SlotArray: ``slot_array_class`` of both base pools is swapped."""
    from redispool.asyncio.pool import ConnectionPool as AsyncConnectionPool
    from redispool.pool import ConnectionPool

    module = _twin(request, "slots")
    monkeypatch.setattr(ConnectionPool, "slot_array_class", module.SlotArray)
    monkeypatch.setattr(AsyncConnectionPool, "slot_array_class", module.SlotArray)
    return str(request.param)


@pytest.fixture(params=TWINS)
def command_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``redispool.Redis`` and its ``Pipeline`` run the compiled or the pure fused path
    (``helpers.use_command_twin``)."""
    from helpers import use_command_twin

    use_command_twin(monkeypatch, _twin(request, "command"))
    return str(request.param)


@pytest.fixture(params=ACOMMAND_TWINS)
def acommand_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``redispool.asyncio.Redis`` and its ``Pipeline`` run the compiled or the pure
    lanes (``helpers.use_acommand_twin``); the compiled twin only where it was built."""
    from helpers import use_acommand_twin

    use_acommand_twin(monkeypatch, _twin(request, "acommand"))
    return str(request.param)


@pytest.fixture(params=[2, 3], ids=lambda p: f"resp{p}")
def protocol(request: pytest.FixtureRequest) -> int:
    """Both RESP versions, for tests that talk to a server."""
    return int(request.param)
