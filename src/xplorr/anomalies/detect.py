"""The detection rule of product-notes.md section 11, on daily series (no database here).

- **Baseline** of day D: the mean daily cost of the 7 days before it (D-7..D-1).
- **Spike**: the day's cost is more than 50 % above a positive baseline *and* exceeds it by at
  least the noise floor (the org setting ``anomaly_min_delta``, default 10 in the series'
  currency: a service going from 0.40 to 0.90 is not worth anyone's attention).
- **Severity** by percent above the baseline: low 50-100, medium 100-200, high 200-500, critical
  500 and more (lower bounds inclusive, except that exactly 50 % is not an anomaly): the docs'
  $100 -> $165 is low, $250 medium, $420 high, $750 critical.
- **Drop** (only when the organization turns it on): the day's cost is more than 50 % *below* a
  positive baseline, by at least the noise floor; its severity uses the same bands on the
  percent below (a drop to nothing is 100 %: medium).
- A scope is judged once it has history: its first day with a cost must lie at least 7 days
  before D (a new service's first week forms its first baseline; a series that starts mid-week
  with zeros before it would otherwise look like a spike).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from xplorr.anomalies.models import Direction, Severity
from xplorr.costs.query import DayCost

BASELINE_DAYS: Final = 7
THRESHOLD_PERCENT: Final = Decimal(50)
DEFAULT_NOISE_FLOOR: Final = Decimal(10)
ZERO: Final = Decimal(0)
HUNDRED: Final = Decimal(100)
PERCENT_QUANTUM: Final = Decimal("0.01")
_BANDS: Final = (
    (Decimal(500), Severity.CRITICAL),
    (Decimal(200), Severity.HIGH),
    (Decimal(100), Severity.MEDIUM),
)


def severity_for(percent: Decimal) -> Severity | None:
    """The severity of a day ``percent`` above (or below) its baseline; None at 50 % or less."""
    if percent <= THRESHOLD_PERCENT:
        return None
    for bound, severity in _BANDS:
        if percent >= bound:
            return severity
    return Severity.LOW


def percent_change(actual: Decimal, baseline: Decimal) -> Decimal:
    """How far ``actual`` is from a positive ``baseline``, in percent of it (signed, exact to
    0.01, half up)."""
    return ((actual - baseline) * HUNDRED / baseline).quantize(
        PERCENT_QUANTUM, rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True, slots=True)
class Finding:
    day: date
    actual: Decimal
    baseline: Decimal
    percent: Decimal  # signed: positive for a spike, negative for a drop
    severity: Severity
    direction: Direction


def baseline_of(series: Sequence[DayCost], index: int) -> Decimal:
    """The mean of the 7 days before ``series[index]`` (which must exist)."""
    window = series[index - BASELINE_DAYS : index]
    return sum((d.cost for d in window), ZERO) / BASELINE_DAYS


def find(
    series: Sequence[DayCost],
    first: date,
    last: date,
    *,
    noise_floor: Decimal = DEFAULT_NOISE_FLOOR,
    drops: bool = False,
) -> list[Finding]:
    """The anomalous days of ``first..last`` in ``series`` (one scope's zero-filled daily costs
    in one currency, consecutive days, starting at least 7 days before ``first`` to judge it)."""
    started = next((i for i, d in enumerate(series) if d.cost != ZERO), None)
    if started is None:
        return []
    out: list[Finding] = []
    for i, d in enumerate(series):
        if d.day < first or d.day > last or i - started < BASELINE_DAYS:
            continue
        baseline = baseline_of(series, i)
        if baseline <= ZERO:
            continue
        excess = d.cost - baseline
        if excess >= noise_floor:
            direction = Direction.SPIKE
        elif drops and -excess >= noise_floor:
            direction = Direction.DROP
        else:
            continue
        percent = percent_change(d.cost, baseline)
        severity = severity_for(abs(percent))
        if severity is None:
            continue
        out.append(Finding(d.day, d.cost, baseline, percent, severity, direction))
    return out


@dataclass(frozen=True, slots=True)
class Contributor:
    """Something under an anomaly's scope (a resource, SKU, region, service or account) and how
    its cost on the day compares with its own 7-day baseline."""

    dimension: str
    key: str | None
    name: str
    actual: Decimal
    baseline: Decimal

    @property
    def change(self) -> Decimal:
        return self.actual - self.baseline


def top_movers(
    candidates: Sequence[Contributor], direction: Direction, n: int = 3
) -> list[Contributor]:
    """The ``n`` candidates that moved most in ``direction`` (ties: by name, then key, so the
    answer is the same every run); those that moved the other way are left out."""
    sign = 1 if direction is Direction.SPIKE else -1
    moved = [c for c in candidates if sign * c.change > ZERO]
    moved.sort(key=lambda c: (-sign * c.change, c.name, c.key or ""))
    return moved[:n]
