"""Print, per benchmark group, each parser's median time as a ratio to the references
measured in the same run (hiredis and redis-py's own parser)."""

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
    for bench in session.benchmarks:
        parser = bench.extra_info.get("parser")
        if parser:
            medians[bench.group][parser] = bench.stats.median
    write = terminalreporter.write_line
    write("")
    write("median time ratios (reference / parser; > 1 means faster than the reference)")
    header = f"{'shape':<20}{'parser':<14}{'median µs':>12}" + "".join(
        f"{'vs ' + ref:>14}" for ref in REFERENCES
    )
    write(header)
    for group, by_parser in medians.items():
        for parser, median in by_parser.items():
            ratios = "".join(
                f"{by_parser[ref] / median:>13.2f}x" if ref in by_parser else f"{'-':>14}"
                for ref in REFERENCES
            )
            write(f"{group:<20}{parser:<14}{median * 1e6:>12.1f}{ratios}")
