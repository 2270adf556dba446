"""``make bench``: every benchmark against one real paas stack, with same-run baselines.

    .venv/bin/python -m bench [--only deploy,router] [--runs 3]

Starts one stack as the e2e tests do (its own PAAS_HOME, ports and Redis; the machine's
dockerd), runs each benchmark module's ``run(stack, runs) -> list[Row]`` in BENCHMARKS' order,
prints the table and writes bench/results.json. The stack and every app made on it are removed
at the end, whatever happened. A module that is missing or fails is reported in its rows' place
and the others still run. Nothing here asserts: it measures (see bench/README.md).
"""

import argparse
import importlib
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench.report import Outcome, table, write_json
from tests.e2e.stack import Stack

RESULTS = Path(__file__).with_name("results.json")


@dataclass(frozen=True)
class Benchmark:
    name: str  # the module bench.<name>
    numbers: tuple[str, ...]  # the table's row numbers, in the order the module returns rows

    def number(self, index: int) -> str:
        return self.numbers[min(index, len(self.numbers) - 1)]


# Memory first, while the stack is idle with no apps; growth last, as it leaves 100 apps.
BENCHMARKS = (
    Benchmark("memory", ("6",)),
    Benchmark("deploy", ("1", "2")),
    Benchmark("router", ("3",)),
    Benchmark("scale", ("4",)),
    Benchmark("gitpush", ("5",)),
    Benchmark("growth", ("7",)),
)
NAMES = tuple(benchmark.name for benchmark in BENCHMARKS)
MAX_RUNS = 50


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help=f"run only these benchmarks, of: {', '.join(NAMES)}")
    parser.add_argument("--runs", type=int, default=3,
                        help=f"measurements per figure, 1 to {MAX_RUNS} (default 3)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be between 1 and {MAX_RUNS}, got {args.runs}")
    if args.only is not None:
        chosen = [name.strip() for name in args.only.split(",")]
        unknown = [name for name in chosen if name not in NAMES]
        if unknown or not chosen:
            parser.error(f"--only: unknown benchmark {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(NAMES)}")
        args.only = set(chosen)
    return args


def run_one(benchmark: Benchmark, stack: Stack, runs: int) -> list[Outcome]:
    """The rows of one benchmark; a missing module or a failure becomes one Outcome that says
    so, so that one broken benchmark does not cost the others."""
    first = benchmark.number(0)
    module_name = f"bench.{benchmark.name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return [Outcome(first, benchmark.name,
                            problem=f"missing (no bench/{benchmark.name}.py yet)")]
        return [failed(first, benchmark.name, error)]
    except Exception as error:
        return [failed(first, benchmark.name, error)]
    try:
        rows = module.run(stack, runs)
    except Exception as error:  # reported in the benchmark's place: the others still run
        return [failed(first, benchmark.name, error)]
    return [Outcome(benchmark.number(index), benchmark.name, row=row)
            for index, row in enumerate(rows)]


def failed(number: str, name: str, error: Exception) -> Outcome:
    traceback.print_exception(error)
    first_line = (str(error).splitlines() or [""])[0][:160]
    return Outcome(number, name, problem=f"failed: {type(error).__name__}: {first_line}",
                   failed=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [b for b in BENCHMARKS if args.only is None or b.name in args.only]
    outcomes: list[Outcome] = []
    stack = Stack.create()
    try:
        print(f"starting a paas stack in {stack.home} ...", flush=True)
        stack.start()
        for benchmark in chosen:
            print(f"== {benchmark.name} (row {', '.join(benchmark.numbers)}), "
                  f"{args.runs} run{'s' if args.runs != 1 else ''}", flush=True)
            started = time.monotonic()
            outcomes += run_one(benchmark, stack, args.runs)
            print(f"   {benchmark.name} took {time.monotonic() - started:.0f}s", flush=True)
    finally:
        print("stopping the stack and removing its apps ...", flush=True)
        stack.stop()
    outcomes.sort(key=lambda outcome: int(outcome.number))
    print()
    print(table(outcomes, args.runs))
    write_json(outcomes, RESULTS)
    print(f"\nwrote {RESULTS}")
    # A target not met is a figure, not an error; a benchmark that could not measure is.
    return 1 if any(outcome.failed for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
