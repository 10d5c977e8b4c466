"""The ratio gate: speed ratios from one pytest-benchmark run (``--benchmark-json``)
against the minimums in ``thresholds.toml``. Ratios, not times: every ratio compares two
implementations measured in the same run on the same (noisy) machine.

A benchmark names its implementation in ``extra_info["impl"]`` (or ``["parser"]``) and is
compared on its median per operation, or it carries ``extra_info["cpu_overhead_us"]``
(client -> CPU µs per command beyond the raw socket's, ``test_cpu_bench.py``) or
``extra_info["wall_us"]`` (client -> median wall µs per operation over interleaved rounds,
``test_e2e_bench.py``) and its clients are compared on those.

A rule compares ``impl`` with ``reference`` (usually redis-py+hiredis). One whose
reference is a client that may not be installed (valkey-glide) says
``if_installed = true``: it is skipped when the run reports that client as not installed
(``extra_info["absent"]``, ``test_e2e_bench.py``), and fails as any rule does when the
client is installed but was not measured.

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


def absent(report: dict[str, Any]) -> set[str]:
    """The clients the run reports as not installed (``extra_info["absent"]``)."""
    return {
        client
        for bench in report["benchmarks"]
        for client in bench.get("extra_info", {}).get("absent", ())
    }


def skipped(rule: dict[str, Any], missing: set[str]) -> bool:
    """Whether ``rule`` does not apply to a run where ``missing`` are not installed."""
    return bool(rule.get("if_installed")) and rule["reference"] in missing


def ratio(times: dict[str, dict[str, float]], rule: dict[str, Any]) -> float | None:
    """Reference time over implementation time for ``rule`` (None: not measured)."""
    by_impl = times.get(rule["group"], {})
    impl, ref = by_impl.get(rule["impl"]), by_impl.get(rule["reference"])
    if impl is None or ref is None:
        return None
    return ref / impl if impl > 0 else math.inf


HEAD = 30 + 31 + 3 + 18  # the width of ``_head``


def _head(rule: dict[str, Any]) -> str:
    return f"{rule['group']:<30}{rule['impl']:<31}vs {rule['reference']:<18}"


def check(report: dict[str, Any], thresholds: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(lines describing every checked ratio, failures). A ratio is reference time over
    implementation time, so 2.0 means twice as fast (or half the reference's CPU overhead;
    an overhead of zero or less is infinitely better); one that was not measured fails,
    unless its reference is not installed and the rule says ``if_installed``."""
    times = medians(report)
    missing = absent(report)
    lines, failures = [], []
    for rule in thresholds:
        if skipped(rule, missing):
            lines.append(f"{_head(rule)}skipped: {rule['reference']} is not installed")
            continue
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
        print(f"{'':<{HEAD}}{'lowest':>7} {'median':>7} {'highest':>7}")
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
    missing = absent(report)
    applied = [rule for rule in rules if not skipped(rule, missing)]
    skips = f" ({len(rules) - len(applied)} skipped)" if len(applied) < len(rules) else ""
    print(
        f"{len(applied) - len(failures)} of {len(applied)} ratios at or above their minimum{skips}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
