"""The results of one ``make bench``: the table it prints and the bench/results.json it writes."""

import json
from dataclasses import dataclass
from pathlib import Path

from bench.common import Row, Samples

HEADERS = ("#", "metric", "paas median [min-max]", "baseline median [min-max]", "unit",
           "ratio", "target", "met")


@dataclass(frozen=True)
class Outcome:
    """One line of the table: a row a benchmark measured, or, in ``problem``, why a benchmark
    gave none (its module is missing, or it failed)."""

    number: str
    benchmark: str
    row: Row | None = None
    problem: str = ""
    failed: bool = False  # rather than missing

    def as_json(self) -> dict:
        if self.row is not None:
            return {"number": self.number, "benchmark": self.benchmark, **self.row.as_json()}
        return {"number": self.number, "benchmark": self.benchmark,
                "metric": f"{self.benchmark}: {self.problem}", "paas": None, "baseline": None,
                "unit": "", "ratio": None, "target": "", "met": False, "error": self.problem}


def figure(value: float) -> str:
    """A figure with as many decimals as its size deserves."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def spread(samples: Samples | None) -> str:
    if samples is None:
        return "(absolute)"
    return f"{figure(samples.median)} [{figure(samples.min)}-{figure(samples.max)}]"


def cells(outcome: Outcome) -> tuple[str, ...]:
    row = outcome.row
    if row is None:
        return (outcome.number, f"{outcome.benchmark}: {outcome.problem}", "-", "-", "-", "-",
                "-", "-")
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    return (outcome.number, row.metric, spread(row.paas), spread(row.baseline), row.unit, ratio,
            row.target, "yes" if row.met else "NO")


def table(outcomes: list[Outcome], runs: int) -> str:
    """A Markdown table of the outcomes (it reads as well in a terminal as in bench/README.md),
    then each row's notes."""
    lines = [cells(outcome) for outcome in outcomes]
    widths = [max(len(line[column]) for line in [HEADERS, *lines])
              for column in range(len(HEADERS))]

    def render(line: tuple[str, ...]) -> str:
        return "| " + " | ".join(text.ljust(width) for text, width in zip(line, widths,
                                                                              strict=True)) + " |"

    out = [render(HEADERS), "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
    out += [render(line) for line in lines]
    out.append("")
    out.append(f"Each figure is the median [min-max] of {runs} run{'s' if runs != 1 else ''}.")
    said = set()
    for outcome in outcomes:
        note = (outcome.number, outcome.row.notes if outcome.row else "")
        if note[1] and note not in said:  # two rows of one benchmark often share their note
            said.add(note)
            out.append(f"- {note[0]}: {note[1]}")
    return "\n".join(out)


def write_json(outcomes: list[Outcome], path: Path) -> None:
    path.write_text(json.dumps([outcome.as_json() for outcome in outcomes], indent=2) + "\n")
