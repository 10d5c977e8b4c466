"""The ratio gate: speed ratios against the minimums in ``thresholds.toml``. Ratios, not
times: every ratio compares two implementations measured on the same (noisy) machine.

``--live`` (``make bench-check``, CI) measures every rule itself (``ratios.py``): the two
implementations of a ratio run in interleaved rounds and the ratio is the median of the
per-round ratios (``ratio_of_rounds``), so noise hits both sides alike; a ratio below its
minimum is measured again, its group alone, up to ``--retries`` times (3), and fails only
if it stays below every time; each line says how many re-measurements it took
(``check_live``).

    python benchmarks/gate.py --live [benchmarks/thresholds.toml] [--retries N] [--group G]

Without ``--live`` it reads one pytest-benchmark run (``--benchmark-json``, ``make
bench``), where most groups' implementations ran one after the other:

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
from collections.abc import Callable
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


def ratio_of_rounds(costs: dict[str, list[float]], rule: dict[str, Any]) -> float | None:
    """The median over interleaved rounds of reference cost over implementation cost in
    the same round (None: either was not measured). A round where the implementation cost
    nothing (or less: CPU beyond the floor's) counts as infinitely faster."""
    impl, ref = costs.get(rule["impl"]), costs.get(rule["reference"])
    if not impl or not ref:
        return None
    return statistics.median(r / i if i > 0 else math.inf for r, i in zip(ref, impl, strict=True))


Measure = Callable[[str, list[str]], dict[str, list[float]]]


def check_live(
    rules: list[dict[str, Any]],
    measure: Measure,
    retries: int = 3,
    installed: Callable[[str], bool] = lambda kind: True,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[list[str], list[str]]:
    """(lines describing every checked ratio, failures), each group of ``rules`` measured
    by ``measure(group, impls)`` (per-round costs, interleaved) once for all its rules.
    A ratio below its minimum is confirmed: its group is measured again, for the rules
    still below alone, up to ``retries`` times, and the rule fails only if every
    measurement stays below. Each line says how many re-measurements a ratio took."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    lines_of: dict[int, str] = {}
    failures: list[str] = []
    for index, rule in enumerate(rules):
        if rule.get("if_installed") and not installed(rule["reference"]):
            lines_of[index] = f"{_head(rule)}skipped: {rule['reference']} is not installed"
        else:
            by_group[rule["group"]].append(rule | {"_index": index})
    for group, group_rules in by_group.items():
        seen: dict[int, list[float | None]] = {rule["_index"]: [] for rule in group_rules}
        pending = group_rules
        for attempt in range(retries + 1):
            impls = sorted({k for rule in pending for k in (rule["impl"], rule["reference"])})
            log(
                f"{group}: measuring {', '.join(impls)}"
                + (f" (again, {attempt})" if attempt else "")
            )
            costs = measure(group, impls)
            below = []
            for rule in pending:
                found = ratio_of_rounds(costs, rule)
                seen[rule["_index"]].append(found)
                if found is not None and found < rule["min"]:
                    below.append(rule)
            pending = below
            if not pending:
                break
        for rule in group_rules:
            index = rule["_index"]
            found = seen[index]
            last = found[-1]
            if last is None:
                failure = f"{rule['group']}: {rule['impl']} vs {rule['reference']} was not measured"
                failures.append(failure)
                lines_of[index] = f"{_head(rule)}not measured"
                continue
            line = f"{_head(rule)}{last:>7.2f}x  (min {rule['min']:.2f}x)"
            if len(found) > 1:
                again = len(found) - 1
                history = ", ".join(f"{r:.2f}x" for r in found if r is not None)
                line += f"  {again} re-measurement{'s' if again > 1 else ''} ({history})"
            lines_of[index] = line
            if last < rule["min"]:
                failures.append(f"{line}: below its minimum in all {len(found)} measurements")
    return [lines_of[i] for i in sorted(lines_of)], failures


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


def live(argv: list[str]) -> int:
    """``--live``: measure every ratio of the thresholds interleaved, confirm failures."""
    import argparse

    parser = argparse.ArgumentParser(prog="gate.py --live")
    parser.add_argument("thresholds", nargs="?", default=str(HERE / "thresholds.toml"))
    parser.add_argument("--retries", type=int, default=3, help="re-measurements of a failing ratio")
    parser.add_argument("--group", action="append", help="only these groups (repeatable)")
    args = parser.parse_args(argv)
    rules = tomllib.loads(Path(args.thresholds).read_text())["ratio"]
    if args.group:
        rules = [rule for rule in rules if rule["group"] in args.group]
    import ratios

    ratios.use_this_checkout()
    import redispool
    from redispool import _e2e
    from redispool.server import RedisServer

    print(f"redispool {redispool.__version__} from {Path(redispool.__file__).parent}", flush=True)
    _e2e.raise_open_files_limit()
    with RedisServer() as server:
        _e2e.seed(server.url)

        def measure(group: str, impls: list[str]) -> dict[str, list[float]]:
            return ratios.measure(group, impls, server.url)

        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        lines, failures = check_live(rules, measure, args.retries, ratios.installed, log)
    return report_lines(rules, lines, failures, sum("skipped:" in line for line in lines))


def report_lines(
    rules: list[dict[str, Any]], lines: list[str], failures: list[str], skips: int
) -> int:
    for line in lines:
        print(line)
    for failure in failures:
        print(f"FAIL {failure}")
    applied = len(rules) - skips
    note = f" ({skips} skipped)" if skips else ""
    print(f"{applied - len(failures)} of {applied} ratios at or above their minimum{note}")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--live"]:
        return live(argv[1:])
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
    missing = absent(report)
    skips = sum(skipped(rule, missing) for rule in rules)
    return report_lines(rules, lines, failures, skips)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
