"""``python -m redispool bench``: the main job runs end to end and fails clearly; its
CPU-overhead section has the right shape (structure, not speed); valkey-glide's rows show
when glide is installed, and the bench runs without them when it is not; the asyncio
workloads run through ``redispool.asyncio.Redis`` with and without ``auto_pipeline``, and
a client kind that is asyncio only has no sync rows."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

import redispool.asyncio as rp_asyncio
from redispool import _bench, _e2e
from redispool.pool import ConnectionPool

#: redispool.asyncio.Redis(auto_pipeline=True): the asyncio-only client kind
AUTO = "redispool.Redis auto_pipeline"


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redispool", "bench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_against_a_server(redis_url: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = bench(
        "--url",
        redis_url,
        "--rounds",
        "1",
        "--json",
        str(tmp_path / "r.json"),
        "--plot",
        str(tmp_path / "r.png"),
    )
    assert out.returncode == 0, out.stderr
    assert "asyncio GET, 1000 tasks" in out.stdout and "% of floor" in out.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    e2e = result["end_to_end"]
    clients = _bench._clients()[0]  # the kinds that run here (valkey-glide when installed)
    assert [row["client"] for row in e2e] == clients * len(_e2e.WORKLOADS)
    # the auto-pipelined client is asyncio only: its sync rows say so, without figures
    # (and a workload needing more connections than allowed here has none at all)
    skipped = [row for row in e2e if row["us_per_op"] is None]
    limit = _bench.connection_limit(redis_url) or math.inf
    short = {name for name, w in _e2e.WORKLOADS.items() if _e2e.connections(w, clients) > limit}
    sync = [name for name, workload in _e2e.WORKLOADS.items() if not workload.tasks]
    assert [
        (row["workload"], row["client"]) for row in skipped if row["workload"] not in short
    ] == [(name, AUTO) for name in sync]
    assert all(
        row["not_applicable"] == "asyncio only" for row in skipped if row["workload"] in sync
    )
    assert all(row["vs_reference"] is None for row in skipped)
    assert AUTO in out.stdout and "n/a: asyncio only" in out.stdout
    assert all(row["us_per_op"] > 0 for row in e2e if row not in skipped)
    # every asyncio workload runs through redispool.asyncio.Redis, with and without
    # auto_pipeline, beside the others
    asyncio_rows = {(row["workload"], row["client"]) for row in e2e if row["us_per_op"]}
    for name in {"asyncio GET, 50 tasks", "asyncio GET, 1000 tasks"} - short:
        assert {(name, client) for client in clients} <= asyncio_rows
    assert {row["pool"] for row in result["pools"]} >= {"redispool ConnectionPool"}
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")
    assert "client CPU per command beyond a raw socket's" in out.stdout
    cpu = result["cpu_overhead"]
    assert [(row["workload"], row["client"]) for row in cpu] == [
        (workload, client)
        for workload in _e2e.CPU_WORKLOADS
        for client in clients
        if client not in (_e2e.FLOOR, AUTO)  # the CPU workloads are sync
    ]
    for row in cpu:
        assert row["rounds"] == 1 and row["reference"] == "redis-py+hiredis"
        assert row["cpu_us_per_command"] > 0 and row["floor_cpu_us_per_command"] > 0
        # one round: the overhead is that round's client - floor, per command
        assert math.isclose(
            row["overhead_us_per_command"],
            row["cpu_us_per_command"] - row["floor_cpu_us_per_command"],
            abs_tol=1e-6,
        )
    pipeline = [row for row in cpu if row["workload"] == "pipeline of 1000 GETs"]
    assert {row["commands_per_round"] for row in pipeline} == {
        1000 * _e2e.OPS[pipeline[0]["workload"]]
    }


def _block_glide(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import glide`` and ``import glide_sync`` fail, as when glide is not installed."""
    monkeypatch.setitem(sys.modules, "glide", None)
    monkeypatch.setitem(sys.modules, "glide_sync", None)


def test_without_glide(
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The whole bench (``python -m redispool bench --url``'s job, one operation per
    round) runs when glide does not import, without its rows."""
    _block_glide(monkeypatch)
    monkeypatch.setattr(_e2e, "OPS", dict.fromkeys(_e2e.OPS, 1))
    monkeypatch.setattr(_bench, "SHAPES", dict(list(_bench.SHAPES.items())[:1]))
    assert not _e2e.glide_available()
    assert "valkey-glide" not in _bench._clients()[0]
    _bench.run(redis_url, 1, str(tmp_path / "r.json"), None)
    assert "valkey-glide" not in capsys.readouterr().out
    result = json.loads((tmp_path / "r.json").read_text())
    assert {row["client"] for row in result["end_to_end"]} == set(_bench._clients()[0])
    assert "valkey-glide" not in {row["client"] for row in result["cpu_overhead"]}


def test_glide_rows(redis_url: str) -> None:
    """With glide installed, valkey-glide runs every workload (sync ones through
    glide_sync, the asyncio one through glide), its answers checked equal to the other
    clients' before timing, and it is in both tables but never the reference."""
    if not _e2e.glide_available():
        pytest.skip("valkey-glide (glide and glide_sync) is not installed")
    clients, reference = _bench._clients()
    assert "valkey-glide" in clients and reference != "valkey-glide"
    _e2e.seed(redis_url)
    for workload in _e2e.WORKLOADS.values():
        assert workload.runs_on("valkey-glide")
        run, close = workload.make("valkey-glide", redis_url)  # raises on a wrong answer
        try:
            run(2)
        finally:
            close()
    progress = _bench.Progress(0)
    try:
        rows = _bench.cpu_overhead(redis_url, 1, progress, clients=["valkey-glide"], ops=TINY)
    finally:
        progress.close()
    assert [row["client"] for row in rows] == ["valkey-glide"] * len(_e2e.CPU_WORKLOADS)
    assert all(row["cpu_us_per_command"] > 0 for row in rows)


def test_glide_answers_are_checked(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong glide answer fails before timing, as any client's does."""
    if not _e2e.glide_available():
        pytest.skip("valkey-glide (glide and glide_sync) is not installed")
    _e2e.seed(redis_url)
    monkeypatch.setattr(_e2e, "_glide_answer", lambda workload, result: b"wrong")
    for name in ("GET", "asyncio GET, 50 tasks"):
        with pytest.raises(AssertionError, match="valkey-glide answered"):
            _e2e.WORKLOADS[name].make("valkey-glide", redis_url)


def test_no_server_and_no_url() -> None:
    out = bench(env={"REDISPOOL_SERVER": "/nonexistent/redis-server"})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "redis-server" in lines[0] and "--url" in lines[0]


class Counting(redis.Redis):
    """A client kind of its own, as ``redispool.Redis`` will be: counts its commands."""

    commands = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        Counting.commands += 1
        return super().execute_command(*args, **options)


TINY = {"GET": 3, "SET": 3, "HGETALL, 100 fields": 2, "pipeline of 1000 GETs": 1}


def test_cpu_overhead_of_a_new_client_kind(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client kind is one ``ClientKind`` in ``_e2e.KINDS``; the CPU-overhead section
    measures it beside the reference with tiny rounds against the real server."""
    kind = _e2e.ClientKind("counting", ConnectionPool.from_url, None, Counting)
    monkeypatch.setitem(_e2e.KINDS, "counting", kind)
    monkeypatch.setattr(Counting, "commands", 0)
    reference = _bench._clients()[1]
    progress = _bench.Progress(0)
    try:
        clients = ["counting", reference]
        rows = _bench.cpu_overhead(redis_url, 2, progress, clients=clients, ops=TINY)
    finally:
        progress.close()
    assert [(row["workload"], row["client"]) for row in rows] == [
        (workload, client) for workload in _e2e.CPU_WORKLOADS for client in ("counting", reference)
    ]
    # the one checked call before timing, then 2 rounds of TINY operations
    assert Counting.commands == sum(1 + 2 * n for name, n in TINY.items() if "pipeline" not in name)
    for row in rows:
        assert row["rounds"] == 2 and row["reference"] == reference
        assert math.isfinite(row["overhead_us_per_command"])
        assert row["cpu_us_per_command"] > 0 and row["floor_cpu_us_per_command"] > 0
        if row["client"] == reference:
            assert row["overhead_vs_reference"] in (1.0, None)


def test_a_client_kind_without_asyncio_skips_the_asyncio_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        _e2e.KINDS, "sync only", _e2e.ClientKind("sync only", ConnectionPool.from_url, None)
    )
    asyncio_get = _e2e.WORKLOADS["asyncio GET, 50 tasks"]
    assert not asyncio_get.runs_on("sync only") and asyncio_get.runs_on("redispool")
    assert _e2e.WORKLOADS["GET"].runs_on("sync only")
    with pytest.raises(ValueError, match="no asyncio client"):
        asyncio_get.make("sync only", "redis://127.0.0.1:1/0")


def test_an_asyncio_only_client_kind_skips_the_sync_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kind without a sync pool (``pool=None``) runs the asyncio workloads only."""
    kind = _e2e.ClientKind("asyncio only", None, rp_asyncio.ConnectionPool.from_url)
    monkeypatch.setitem(_e2e.KINDS, "asyncio only", kind)
    assert not kind.has_sync and kind.has_asyncio
    for name, workload in _e2e.WORKLOADS.items():
        assert workload.runs_on("asyncio only") == bool(workload.tasks), name
    assert _e2e.WORKLOADS["GET"].not_run("asyncio only") == "asyncio only"
    with pytest.raises(ValueError, match="asyncio only"):
        _e2e.WORKLOADS["GET"].make("asyncio only", "redis://127.0.0.1:1/0")
    # the committed kinds: the auto-pipelined client is asyncio only, redispool.Redis
    # and valkey-glide do both
    assert not _e2e.KINDS[AUTO].has_sync and _e2e.KINDS[AUTO].has_asyncio
    for name in ("redispool.Redis", "redispool", "redis-py+hiredis", "valkey-glide"):
        assert _e2e.KINDS[name].has_sync and _e2e.KINDS[name].has_asyncio, name


@pytest.mark.parametrize("client", ["redispool.Redis", AUTO])
def test_redispool_asyncio_clients(
    redis_url: str, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The asyncio workloads run through ``redispool.asyncio.Redis`` on redispool's
    asyncio pool (with ``auto_pipeline=True`` for its kind), answers checked before
    timing; every task has run one command before the runner is handed over."""
    made: list[Any] = []
    real = _e2e.KINDS[client].async_client_class

    def record(**kwargs: Any) -> Any:
        made.append(real(**kwargs))
        return made[-1]

    monkeypatch.setitem(
        _e2e.KINDS, client, dataclasses.replace(_e2e.KINDS[client], async_client_class=record)
    )
    _e2e.seed(redis_url)
    for name in ("asyncio GET, 50 tasks", "asyncio GET, 1000 tasks"):
        run, close = _e2e.WORKLOADS[name].make(client, redis_url)
        try:
            run(3)
        finally:
            close()
    assert [type(r) for r in made] == [rp_asyncio.Redis] * 2
    assert all(r.auto_pipeline == (client == AUTO) for r in made)
    assert all(type(r.connection_pool) is rp_asyncio.ConnectionPool for r in made)
    assert [r.connection_pool.max_connections for r in made] == [50, 1000]


def test_a_workload_needing_more_connections_than_allowed_has_no_figures(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where this process's open files or the server's maxclients are fewer than a
    workload holds at once (a connection per task and client), its rows say so and the
    bench goes on."""
    assert _e2e.max_clients(redis_url) == 10000  # redis-server's default
    assert (_e2e.raise_open_files_limit() or 1) >= 1
    many = _e2e.WORKLOADS["asyncio GET, 1000 tasks"]
    workloads = {"GET": _e2e.WORKLOADS["GET"], many.name: many}
    monkeypatch.setattr(_e2e, "WORKLOADS", workloads)
    monkeypatch.setattr(_e2e, "OPS", dict.fromkeys(workloads, 1))
    monkeypatch.setattr(_bench, "connection_limit", lambda url: 3000)
    clients = _bench._clients()[0]
    need = _e2e.connections(many, clients)
    assert need > 3000 > _e2e.connections(workloads["GET"], clients)
    progress = _bench.Progress(0)
    try:
        rows = _bench.end_to_end(redis_url, 1, progress)
    finally:
        progress.close()
    short = [row for row in rows if row["workload"] == many.name]
    assert [row["client"] for row in short] == clients
    assert all(row["us_per_op"] is None for row in short)
    assert {row["not_applicable"] for row in short} == {f"needs ~{need} connections, 3000 allowed"}
    get = [row for row in rows if row["workload"] == "GET"]
    assert [row["client"] for row in get if row["us_per_op"] is None] == [AUTO]


def test_overhead_rows_subtract_the_floor_round_by_round() -> None:
    """Per round: client - floor, per command; then the median over rounds."""
    samples = {  # CPU seconds per round, 1000 commands per round
        _e2e.FLOOR: [0.010, 0.030, 0.010],
        "a": [0.015, 0.036, 0.020],  # 5, 6, 10 µs per command over the floor
        "ref": [0.030, 0.050, 0.040],  # 20, 20, 30
    }
    rows = {row["client"]: row for row in _bench.overhead_rows("GET", samples, 1000, "ref")}
    assert set(rows) == {"a", "ref"}
    assert math.isclose(rows["a"]["overhead_us_per_command"], 6.0)
    assert math.isclose(rows["ref"]["overhead_us_per_command"], 20.0)
    assert math.isclose(rows["a"]["overhead_vs_reference"], 0.3)
    assert math.isclose(rows["a"]["cpu_us_per_command"], 20.0)
    assert math.isclose(rows["a"]["floor_cpu_us_per_command"], 10.0)
    # a reference at or below the floor gives no ratio
    flat = {**samples, "ref": samples[_e2e.FLOOR]}
    assert all(
        row["overhead_vs_reference"] is None
        for row in _bench.overhead_rows("GET", flat, 1000, "ref")
    )


def test_the_floor_speaks_the_clients_protocol(redis_url: str) -> None:
    """The raw socket reads the reply bytes the clients read: a RESP3 map for HGETALL
    when they speak RESP3 (redis-py's default), a RESP2 array otherwise."""
    from redispool._impl import pack_command

    _e2e.seed(redis_url)
    hgetall = pack_command(("HGETALL", "bench:h"))
    for url, first in ((redis_url, b"%100\r\n"), (redis_url + "?protocol=2", b"*200\r\n")):
        size = _e2e._reply_size(url, hgetall)
        with _e2e._raw_socket(url) as sock:
            sock.sendall(hgetall)
            data = b""
            while len(data) < size:
                data += sock.recv(1 << 16)
        assert data.startswith(first) and len(data) == size
    assert _e2e._handshake(redis_url)[0].startswith(b"*2\r\n$5\r\nHELLO\r\n")
    assert _e2e._handshake(redis_url + "?protocol=2") == []
