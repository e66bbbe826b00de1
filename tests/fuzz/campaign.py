"""A fuzz campaign: N hypothesis-generated cases per format through the CLI, outcomes counted by class.

    PYTHONPATH=. python tests/fuzz/campaign.py --per-format 500 --json benchmarks/results/fuzz_after.json

Counts by format and class are printed as a markdown table (docs/robustness.md keeps the recorded ones);
`--show` prints each failing case's command and message. PYTHONPATH chooses which `sim` is fuzzed.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzz.cases import FORMATS, STRATEGIES  # noqa: E402
from fuzz.harness import CLASSES, FAILURES, preload, run_case  # noqa: E402


def campaign(per_format: int, formats: tuple[str, ...], show: bool, seed: int) -> dict[str, collections.Counter]:
    preload()
    counts: dict[str, collections.Counter] = {}
    for fmt in formats:
        counter: collections.Counter = collections.Counter()
        run = settings(max_examples=per_format, deadline=None, database=None, phases=["generate"],
                       suppress_health_check=list(HealthCheck))(given(STRATEGIES[fmt])(_recorder(fmt, counter, show)))
        run._hypothesis_internal_use_seed = seed
        started = time.monotonic()
        run()
        counts[fmt] = counter
        print(f"{fmt}: {dict(counter)} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return counts


def _recorder(fmt: str, counter: collections.Counter, show: bool):
    shown: set = set()

    def one(case):
        outcome = run_case(case)
        counter[outcome.klass] += 1
        key = (outcome.klass, outcome.stderr.strip().splitlines()[-1][:80] if outcome.stderr.strip() else "")
        if show and outcome.klass in FAILURES and key not in shown:
            shown.add(key)
            print(f"--- {fmt} {outcome.klass} rc={outcome.rc} {' '.join(case.argv)}\n{outcome.stderr[-600:]}",
                  file=sys.stderr)

    return one


def table(counts: dict[str, collections.Counter]) -> str:
    lines = ["| format | cases | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 2) + "|"]
    total: collections.Counter = collections.Counter()
    for fmt, counter in counts.items():
        total.update(counter)
        lines.append(f"| {fmt} | {sum(counter.values())} | " + " | ".join(str(counter[c]) for c in CLASSES) + " |")
    lines.append(f"| **all** | {sum(total.values())} | " + " | ".join(str(total[c]) for c in CLASSES) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-format", type=int, default=500)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    counts = campaign(args.per_format, tuple(args.formats.split(",")), args.show, args.seed)
    print(table(counts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({fmt: dict(c) for fmt, c in counts.items()}, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
