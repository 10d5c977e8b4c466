"""``python -m redispool bench``: the main job runs end to end and fails clearly; its
CPU-overhead section has the right shape (structure, not speed); valkey-glide's rows show
when glide is installed, and the bench runs without them when it is not."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from redispool import _bench, _e2e
from redispool.pool import ConnectionPool


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
    assert "asyncio GET, 50 tasks" in out.stdout and "% of floor" in out.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    e2e = result["end_to_end"]
    clients = _bench._clients()[0]  # the kinds that run here (valkey-glide when installed)
    assert [row["client"] for row in e2e] == clients * len(_e2e.WORKLOADS)
    # redispool.Redis has no asyncio client: its asyncio row says so, without figures
    (skipped,) = [row for row in e2e if row["us_per_op"] is None]
    assert skipped["client"] == "redispool.Redis" and _e2e.WORKLOADS[skipped["workload"]].tasks
    assert skipped["not_applicable"] == "no asyncio client" and skipped["vs_reference"] is None
    assert "redispool.Redis" in out.stdout and "n/a: no asyncio client" in out.stdout
    assert all(row["us_per_op"] > 0 for row in e2e if row is not skipped)
    assert {row["pool"] for row in result["pools"]} >= {"redispool ConnectionPool"}
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")
    assert "client CPU per command beyond a raw socket's" in out.stdout
    cpu = result["cpu_overhead"]
    assert [(row["workload"], row["client"]) for row in cpu] == [
        (workload, client)
        for workload in _e2e.CPU_WORKLOADS
        for client in clients
        if client != _e2e.FLOOR
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
