"""The ratio gate: speed ratios against the minimums in ``thresholds.toml``. Ratios, not
times: every ratio compares two implementations measured on the same (noisy) machine.

Each rule is measured by ``ratios.py``: its two implementations alone, in interleaved
rounds (a new random order each round), and the ratio is the median of the per-round
ratios (``ratio_of_rounds``), so a noisy moment hits both sides of a ratio alike. A ratio
below its minimum is measured again, in new orders, up to ``--retries`` times (3), and
fails only if it stays below every time; its line says how many re-measurements it took
(``check``). ``--callgrind`` then runs the instruction-count gate (``callgrind.py``)
too; the exit code is 1 if either failed. ``make bench-check`` and the bench workflow run
``gate.py --callgrind``.

    python benchmarks/gate.py [benchmarks/thresholds.toml] [--retries N] [--group G]
                              [--callgrind]

A rule compares ``impl`` with ``reference`` (usually redis-py+hiredis); 2.0 means twice
as fast (for the ``cpu ...`` groups: half the reference's CPU time beyond the raw
socket's). One whose reference is a client that may not be installed (valkey-glide) says
``if_installed = true``: it is skipped where that client is not installed.

    python benchmarks/gate.py --ranges LOG...   # to choose minimums

``--ranges`` prints, for every rule, the ratio the gate's output files ``LOG...`` show
(runs with ``--retries 0``: first measurements), lowest, median and highest, to set a
minimum below the lowest with margin.
"""

from __future__ import annotations

import math
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
HEAD = 30 + 31 + 3 + 18  # the width of ``_head``


def _head(rule: dict[str, Any]) -> str:
    return f"{rule['group']:<30}{rule['impl']:<31}vs {rule['reference']:<18}"


def rules_in(path: Path) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = tomllib.loads(path.read_text())["ratio"]
    return rules


def ratio_of_rounds(costs: dict[str, list[float]], rule: dict[str, Any]) -> float | None:
    """The median over interleaved rounds of reference cost over implementation cost in
    the same round (None: either was not measured). A round where the implementation cost
    nothing (or less: CPU beyond the floor's) counts as infinitely faster."""
    impl, ref = costs.get(rule["impl"]), costs.get(rule["reference"])
    if not impl or not ref:
        return None
    return statistics.median(r / i if i > 0 else math.inf for r, i in zip(ref, impl, strict=True))


Measure = Callable[[str, list[str], int], dict[str, list[float]]]


def shown(found: float, minimum: float) -> str:
    """``found`` to two decimals, or as many more (up to 4) as tell it apart from
    ``minimum``: a ratio just below 1.10 never reads as 1.10x."""
    digits = 2
    while digits < 4 and found != minimum and f"{found:.{digits}f}" == f"{minimum:.{digits}f}":
        digits += 1
    return f"{found:.{digits}f}x"


def check(
    rules: list[dict[str, Any]],
    measure: Measure,
    retries: int = 3,
    installed: Callable[[str], bool] = lambda kind: True,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[list[str], list[str]]:
    """(lines describing every checked ratio, failures). Each rule's two implementations
    are measured by ``measure(group, [reference, impl], attempt)`` (per-round costs,
    interleaved; ``attempt`` seeds the order), alone: a third implementation in the same
    rounds would change what the two cost (a pure-Python parser run between two compiled
    ones leaves them slower caches and a fuller heap). A ratio below its minimum is
    confirmed: measured again, up to ``retries`` times, with a new order each time; the
    rule fails only if every measurement stays below. Each line says how many
    re-measurements a ratio took."""
    lines: list[str] = []
    failures: list[str] = []
    for rule in rules:
        if rule.get("if_installed") and not installed(rule["reference"]):
            lines.append(f"{_head(rule)}skipped: {rule['reference']} is not installed")
            continue
        pair = [rule["reference"], rule["impl"]]
        found: list[float] = []
        for attempt in range(retries + 1):
            log(
                f"{rule['group']}: measuring {rule['impl']} vs {rule['reference']}"
                + (f" (again, {attempt})" if attempt else "")
            )
            ratio = ratio_of_rounds(measure(rule["group"], pair, attempt), rule)
            if ratio is None:
                break
            found.append(ratio)
            if ratio >= rule["min"]:
                break
        if not found:
            failures.append(
                f"{rule['group']}: {rule['impl']} vs {rule['reference']} was not measured"
            )
            lines.append(f"{_head(rule)}not measured")
            continue
        last = found[-1]
        line = f"{_head(rule)}{shown(last, rule['min']):>8}  (min {rule['min']:.2f}x)"
        if len(found) > 1:
            again = len(found) - 1
            history = ", ".join(shown(r, rule["min"]) for r in found)
            line += f"  {again} re-measurement{'s' if again > 1 else ''} ({history})"
        lines.append(line)
        if last < rule["min"]:
            failures.append(f"{line}: below its minimum in all {len(found)} measurements")
    return lines, failures


def shown_in(log: str, rule: dict[str, Any]) -> float | None:
    """The ratio a gate's output shows first for ``rule``: its first measurement, before
    any re-measurement (None: not there, or not measured)."""
    head = re.escape(_head(rule))
    first = r"(?:[0-9.]+|inf)x  \(min [0-9.]+x\)  \d+ re-measurements? \(([0-9.]+|inf)x"
    match = re.search(rf"^{head}\s*(?:{first}|([0-9.]+|inf)x)", log, re.MULTILINE)
    return None if match is None else float(match.group(1) or match.group(2))


def ranges(logs: list[str], rules: list[dict[str, Any]]) -> list[str]:
    """One line per rule: its ratio over several gate outputs, lowest, median, highest."""
    lines = []
    for rule in rules:
        found = sorted(r for r in (shown_in(log, rule) for log in logs) if r is not None)
        if not found:
            lines.append(f"{_head(rule)}not measured  (min {rule['min']:.2f}x)")
            continue
        lines.append(
            f"{_head(rule)}{found[0]:>7.2f} {statistics.median(found):>7.2f} {found[-1]:>7.2f}"
            f"  (min {rule['min']:.2f}x, {len(found)} runs)"
        )
    return lines


def report_lines(lines: list[str], failures: list[str]) -> int:
    for line in lines:
        print(line)
    for failure in failures:
        print(f"FAIL {failure}")
    skips = sum("skipped:" in line for line in lines)
    applied = len(lines) - skips
    note = f" ({skips} skipped)" if skips else ""
    print(f"{applied - len(failures)} of {applied} ratios at or above their minimum{note}")
    return 1 if failures else 0


def run(argv: list[str]) -> int:
    """Measure every ratio of the thresholds, confirm failures; then callgrind if asked."""
    import argparse

    parser = argparse.ArgumentParser(prog="gate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("thresholds", nargs="?", type=Path, default=HERE / "thresholds.toml")
    parser.add_argument("--retries", type=int, default=3, help="re-measurements of a failing ratio")
    parser.add_argument("--group", action="append", help="only these groups (repeatable)")
    parser.add_argument(
        "--callgrind", action="store_true", help="then the instruction-count gate (callgrind.py)"
    )
    args = parser.parse_args(argv)
    rules = rules_in(args.thresholds)
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

        def measure(group: str, impls: list[str], seed: int) -> dict[str, list[float]]:
            return ratios.measure(group, impls, server.url, seed=seed)

        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        lines, failures = check(rules, measure, args.retries, ratios.installed, log)
    status = report_lines(lines, failures)
    verdict = [f"ratios {'failed' if status else 'passed'}"]
    if args.callgrind:
        import callgrind

        print("instructions (callgrind.py):", flush=True)
        counted = callgrind.main([])
        verdict.append(f"instructions {'failed' if counted else 'passed'}")
        status |= counted
    print(f"gate: {', '.join(verdict)}")
    return status


def main(argv: list[str]) -> int:
    if argv[:1] == ["--ranges"]:
        if len(argv) < 2:
            print(__doc__, file=sys.stderr)
            return 2
        rules = rules_in(HERE / "thresholds.toml")
        logs = [Path(path).read_text() for path in argv[1:]]
        print(f"{'':<{HEAD}}{'lowest':>7} {'median':>7} {'highest':>7}")
        for line in ranges(logs, rules):
            print(line)
        return 0
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
