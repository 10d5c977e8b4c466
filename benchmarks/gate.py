"""The ratio gate: speed ratios from one pytest-benchmark run (``--benchmark-json``)
against the minimums in ``thresholds.toml``. Ratios, not times: every ratio compares two
implementations measured in the same run on the same (noisy) machine.

A benchmark names its implementation in ``extra_info["impl"]`` (or ``["parser"]``) and is
compared on its median per operation, or it carries ``extra_info["cpu_overhead_us"]``
(client -> CPU µs per command beyond the raw socket's, ``test_cpu_bench.py``) or
``extra_info["wall_us"]`` (client -> median wall µs per operation over interleaved rounds,
``test_e2e_bench.py``) and its clients are compared on those.

    python benchmarks/gate.py RESULTS.json [benchmarks/thresholds.toml]
    python benchmarks/gate.py --ranges RUN1.json RUN2.json ...   # to choose minimums

``--ranges`` prints, for every rule of ``thresholds.toml``, the ratio measured in each of
several runs (lowest, median, highest), to set a minimum below the lowest with margin.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent


def medians(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """group -> implementation -> median seconds per operation (or CPU overhead per
    command: lower is better either way)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in report["benchmarks"]:
        info = bench.get("extra_info", {})
        per_client = info.get("cpu_overhead_us", info.get("wall_us"))
        if per_client is not None:
            out[bench["group"]].update(per_client)
            continue
        label = info.get("impl") or info.get("parser")
        if label:
            out[bench["group"]][label] = bench["stats"]["median"] / info.get("ops", 1)
    return out


def ratio(times: dict[str, dict[str, float]], rule: dict[str, Any]) -> float | None:
    """Reference time over implementation time for ``rule`` (None: not measured)."""
    by_impl = times.get(rule["group"], {})
    impl, ref = by_impl.get(rule["impl"]), by_impl.get(rule["reference"])
    if impl is None or ref is None:
        return None
    return ref / impl if impl > 0 else math.inf


def _head(rule: dict[str, Any]) -> str:
    return f"{rule['group']:<30}{rule['impl']:<16}vs {rule['reference']:<18}"


def check(report: dict[str, Any], thresholds: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines describing every checked ratio, failures). A ratio is reference time over
    implementation time, so 2.0 means twice as fast (or half the reference's CPU overhead;
    an overhead of zero or less is infinitely better); one that was not measured fails."""
    times = medians(report)
    lines, failures = [], []
    for rule in thresholds:
        measured = ratio(times, rule)
        if measured is None:
            failures.append(
                f"{rule['group']}: {rule['impl']} vs {rule['reference']} was not measured"
            )
            continue
        line = f"{_head(rule)}{measured:>7.2f}x  (min {rule['min']:.2f}x)"
        lines.append(line)
        if measured < rule["min"]:
            failures.append(line)
    return lines, failures


def ranges(reports: list[dict[str, Any]], rules: list[dict[str, Any]]) -> list[str]:
    """One line per rule: its ratio over several reports, lowest, median and highest."""
    runs = [medians(report) for report in reports]
    lines = []
    for rule in rules:
        found = sorted(r for r in (ratio(times, rule) for times in runs) if r is not None)
        if not found:
            lines.append(f"{_head(rule)}not measured  (min {rule['min']:.2f}x)")
            continue
        lines.append(
            f"{_head(rule)}{found[0]:>7.2f} {statistics.median(found):>7.2f} {found[-1]:>7.2f}"
            f"  (min {rule['min']:.2f}x, {len(found)} runs)"
        )
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["--ranges"] and len(argv) > 1:
        rules = tomllib.loads((HERE / "thresholds.toml").read_text())["ratio"]
        reports = [json.loads(Path(path).read_text()) for path in argv[1:]]
        print(f"{'':<67}{'lowest':>7} {'median':>7} {'highest':>7}")
        for line in ranges(reports, rules):
            print(line)
        return 0
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text())
    rules_path = Path(argv[1]) if len(argv) > 1 else HERE / "thresholds.toml"
    rules = tomllib.loads(rules_path.read_text())["ratio"]
    lines, failures = check(report, rules)
    for line in lines:
        print(line)
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{len(rules) - len(failures)} of {len(rules)} ratios at or above their minimum")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
