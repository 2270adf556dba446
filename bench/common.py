"""What every benchmark reports: samples of one side, and one row of the results table.

A benchmark module under ``bench/`` exposes ``run(stack, runs) -> list[Row]``: it measures paas
and its baseline in the same run, ``runs`` times each, and says whether the target is met.
"""

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Samples:
    """Several measurements of one figure; the table shows their median, min and max."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: list[float]) -> "Samples":
        if not values:
            raise ValueError("a figure needs at least one measurement")
        return cls(tuple(values))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class Row:
    """One metric: paas's figure, the same run's baseline (None for an absolute target), the
    target in words ("<= 1.5x", ">= 0.9x", "<= 300 MB") and whether it was met."""

    metric: str
    unit: str
    paas: Samples
    baseline: Samples | None
    target: str
    met: bool
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline.median == 0:
            return None
        return self.paas.median / self.baseline.median

    def as_json(self) -> dict:
        return {
            "metric": self.metric, "unit": self.unit,
            "paas": self.paas.median, "paas_min": self.paas.min, "paas_max": self.paas.max,
            "baseline": self.baseline.median if self.baseline else None,
            "baseline_min": self.baseline.min if self.baseline else None,
            "baseline_max": self.baseline.max if self.baseline else None,
            "runs": len(self.paas.values),
            "ratio": round(self.ratio, 3) if self.ratio is not None else None,
            "target": self.target, "met": self.met, "notes": self.notes, **self.extra,
        }


def ratio_row(metric: str, unit: str, paas: Samples, baseline: Samples, *,
              at_most: float | None = None, at_least: float | None = None, notes: str = "",
              extra: dict | None = None) -> Row:
    """A row whose target is a bound on paas/baseline (medians): ``at_most=1.5`` for a time,
    ``at_least=0.9`` for a throughput. Raises ValueError unless exactly one bound is given."""
    if (at_most is None) == (at_least is None):
        raise ValueError("a ratio target is either at_most or at_least")
    ratio = paas.median / baseline.median if baseline.median else float("inf")
    if at_most is not None:
        target, met = f"<= {at_most:g}x", ratio <= at_most
    else:
        assert at_least is not None
        target, met = f">= {at_least:g}x", ratio >= at_least
    return Row(metric=metric, unit=unit, paas=paas, baseline=baseline, target=target, met=met,
               notes=notes, extra=extra or {})
