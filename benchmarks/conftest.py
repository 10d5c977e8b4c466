"""Print, per benchmark group, each implementation's median time as a ratio to the
references measured in the same run (by default hiredis and redis-py's own parser).

A benchmark names its row with ``extra_info["impl"]`` (or ``["parser"]``), may list its
group's references in ``extra_info["references"]``, and may set ``extra_info["ops"]``
(operations per round) to have its median shown per operation. One that carries
``extra_info["cpu_overhead_us"]`` (``test_cpu_bench.py``) or ``extra_info["wall_us"]``
(``test_e2e_bench.py``'s interleaved rounds) is shown in a table of its own.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

REFERENCES = ("hiredis", "redis_py")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    medians: dict[str, dict[str, float]] = defaultdict(dict)
    peaks: list[str] = []
    columns: dict[str, tuple[tuple[str, ...], bool]] = {}  # group -> (references, per op)
    for bench in session.benchmarks:
        info = bench.extra_info
        label = info.get("impl") or info.get("parser")
        if label:
            medians[bench.group][label] = bench.stats.median / info.get("ops", 1)
            columns[bench.group] = (tuple(info.get("references", REFERENCES)), "ops" in info)
            if "peak_kib" in info:
                peaks.append(f"{bench.group:<28}{label:<20}{info['peak_kib']:>10,} KiB")
    width = max([14] + [len(label) + 2 for by_label in medians.values() for label in by_label])
    gwidth = max([20] + [len(group) + 2 for group in medians])
    write = terminalreporter.write_line
    if medians:
        write("")
        write("median time ratios (reference / parser; > 1 means faster than the reference)")
    shown: tuple[tuple[str, ...], bool] | None = None
    for group, by_label in medians.items():
        refs, per_op = columns[group]
        cols = [max(14, len(ref) + 5) for ref in refs]
        if (refs, per_op) != shown:
            shown = (refs, per_op)
            group_name, row_name = ("shape", "parser") if refs == REFERENCES else ("group", "impl")
            unit = "µs/op" if per_op else "median µs"
            write(
                f"{group_name:<{gwidth}}{row_name:<{width}}{unit:>12}"
                + "".join(f"{'vs ' + ref:>{col}}" for ref, col in zip(refs, cols, strict=True))
            )
        for label, median in by_label.items():
            ratios = "".join(
                f"{by_label[ref] / median:>{col - 1}.2f}x" if ref in by_label else f"{'-':>{col}}"
                for ref, col in zip(refs, cols, strict=True)
            )
            write(
                f"{group:<{gwidth}}{label:<{width}}{median * 1e6:>12.{3 if per_op else 1}f}{ratios}"
            )
    if peaks:
        write("")
        write("peak Python allocations during one operation (tracemalloc)")
        for line in peaks:
            write(line)
    _interleaved_walls(session.benchmarks, write)
    _cpu_overheads(session.benchmarks, write)


def _interleaved_walls(benchmarks: list[Any], write: Any) -> None:
    """Wall µs per operation from interleaved rounds, and the reference's over each."""
    walls = [bench for bench in benchmarks if "wall_us" in bench.extra_info]
    if not walls:
        return
    write("")
    write(
        "wall time per operation, clients interleaved round by round "
        f"(median of {walls[0].extra_info['rounds']} rounds)"
    )
    g, c = _widths(walls, "wall_us")
    write(f"{'group':<{g}}{'client':<{c}}{'µs/op':>10}{'vs reference':>14}")
    for bench in walls:
        info = bench.extra_info
        reference = info["wall_us"].get(info["reference"])
        for client, us in info["wall_us"].items():
            ratio = f"{reference / us:>13.2f}x" if reference and us > 0 else f"{'-':>14}"
            write(f"{bench.group:<{g}}{client:<{c}}{us:>10.1f}{ratio}")


def _cpu_overheads(benchmarks: list[Any], write: Any) -> None:
    """The CPU-overhead table: client CPU µs per command beyond the raw socket's."""
    cpu = [bench for bench in benchmarks if "cpu_overhead_us" in bench.extra_info]
    if not cpu:
        return
    write("")
    write(
        "client CPU per command beyond a raw socket's (time.process_time, interleaved "
        f"rounds; median of {cpu[0].extra_info['rounds']} rounds)"
    )
    g, c = _widths(cpu, "cpu_overhead_us")
    write(f"{'group':<{g}}{'client':<{c}}{'CPU µs':>10}{'overhead µs':>13}{'% of reference':>16}")
    for bench in cpu:
        info = bench.extra_info
        reference = info["cpu_overhead_us"].get(info["reference"], 0.0)
        write(f"{bench.group:<{g}}{'raw socket':<{c}}{info['floor_cpu_us']:>10.2f}")
        for client, overhead in info["cpu_overhead_us"].items():
            share = f"{100 * overhead / reference:>14.0f} %" if reference > 0 else f"{'-':>16}"
            write(
                f"{bench.group:<{g}}{client:<{c}}{info['cpu_us'][client]:>10.2f}"
                f"{overhead:>13.2f}{share}"
            )


def _widths(benchmarks: list[Any], key: str) -> tuple[int, int]:
    """The group and client columns' widths for the clients in ``extra_info[key]``."""
    group = max([26, *(len(bench.group) for bench in benchmarks)]) + 2
    client = max([18, *(len(c) for bench in benchmarks for c in bench.extra_info[key])]) + 2
    return group, client
