"""The ratio gate: speed ratios from one pytest-benchmark run (``--benchmark-json``)
against the minimums in ``thresholds.toml``. Ratios, not times: every ratio compares two
implementations measured in the same run on the same (noisy) machine.

A benchmark names its implementation in ``extra_info["impl"]`` (or ``["parser"]``) and is
compared on its median per operation, or it carries ``extra_info["cpu_overhead_us"]``
(client -> CPU µs per command beyond the raw socket's, ``test_cpu_bench.py``) or
``extra_info["wall_us"]`` (client -> median wall µs per operation over interleaved rounds,
``test_e2e_bench.py``) and its clients are compared on those.

    python benchmarks/gate.py RESULTS.json [benchmarks/thresholds.toml]
"""

from __future__ import annotations

import json
import math
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


def check(report: dict[str, Any], thresholds: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines describing every checked ratio, failures). A ratio is reference time over
    implementation time, so 2.0 means twice as fast (or half the reference's CPU overhead;
    an overhead of zero or less is infinitely better); one that was not measured fails."""
    times = medians(report)
    lines, failures = [], []
    for rule in thresholds:
        group, impl, ref, minimum = rule["group"], rule["impl"], rule["reference"], rule["min"]
        by_impl = times.get(group, {})
        if impl not in by_impl or ref not in by_impl:
            failures.append(f"{group}: {impl} vs {ref} was not measured")
            continue
        ratio = by_impl[ref] / by_impl[impl] if by_impl[impl] > 0 else math.inf
        line = f"{group:<30}{impl:<16}vs {ref:<18}{ratio:>7.2f}x  (min {minimum:.2f}x)"
        lines.append(line)
        if ratio < minimum:
            failures.append(line)
    return lines, failures


def main(argv: list[str]) -> int:
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
