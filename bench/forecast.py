"""Backtest of the end-of-month forecast (``xplorr.costs.forecast``) against a plain run rate.

    .venv/bin/python bench/forecast.py [--months 13] [--scale 0.3] [--seeds 1,2,3,4,5,6,7]

For every complete calendar month of each series, and for day D in 5, 10, 15 and 20, both
forecasts see the daily costs up to day D of the month (and, for ours, up to 28 days before the
month, and the month before's Tax and Usage totals for its tax rate) and predict the month's
total; the error is |forecast - actual| / |actual|. Printed: the mean and the median absolute
percentage error (MAPE, median APE) per day D and method, and how often the month's total fell
inside our day-to-day range (``low``..``high``; not a calibrated interval, see
``costs.forecast``).

Series: the demo generator's accounts (one series per seed, account and currency, BilledCost
per usage day and charge category; ``--months`` months from 2026-01-01 at ``--scale``, for each
of ``--seeds``) and the FOCUS samples in ``tests/data/focus-samples`` (one month each, so no
history before the month). The default runs in about half a minute on a loaded machine.
"""

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from xplorr.connectors.demo.generator import generate
from xplorr.costs.forecast import (
    TAX,
    USAGE,
    WINDOW_DAYS,
    Period,
    TaxBasis,
    period_bounds,
    project,
    reference_month,
    tax_rate,
)
from xplorr.costs.query import DayCost

CHECK_DAYS = (5, 10, 15, 20)
SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "focus-samples"
Series = dict[date, Decimal]
ByCategory = dict[str, Series]  # ChargeCategory -> daily BilledCost


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"not a date: {value!r}")


def _add(out: dict[str, ByCategory], table: pa.Table, key_col: str | None) -> None:
    starts = table.column("ChargePeriodStart").to_pylist()
    costs = table.column("BilledCost").to_pylist()
    currency = table.column("BillingCurrency").to_pylist()
    category = table.column("ChargeCategory").to_pylist()
    keys = table.column(key_col).to_pylist() if key_col else [""] * len(starts)
    for start, cost, cur, cat, key in zip(starts, costs, currency, category, keys, strict=True):
        if start is None or cost is None:
            continue
        by_category = out.setdefault(f"{key}/{cur}", {})
        by_category.setdefault(cat, defaultdict(Decimal))[_day(start)] += Decimal(str(cost))


def demo_series(months: int, scale: float, seeds: Iterable[int]) -> dict[str, ByCategory]:
    out: dict[str, ByCategory] = {}
    for seed in seeds:
        single: dict[str, ByCategory] = {}
        for batch in generate(seed=seed, start=date(2026, 1, 1), months=months, scale=scale):
            _add(single, pa.Table.from_batches([batch]), "SubAccountId")
        out.update({f"demo {seed} {k}": v for k, v in single.items()})
    return out


def sample_series() -> dict[str, ByCategory]:
    out: dict[str, ByCategory] = {}
    for path in sorted(SAMPLES.glob("*.csv")):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(null_values=["NULL"]))
        if table.column("BilledCost").type != pa.float64():
            table = table.set_column(
                table.schema.get_field_index("BilledCost"),
                "BilledCost",
                pc.cast(table.column("BilledCost"), pa.float64()),
            )
        single: dict[str, ByCategory] = {}
        _add(single, table, None)
        for key, series in single.items():
            out[f"{path.stem}{key}"] = series
    return out


def _months(series: Series) -> Iterable[tuple[date, date]]:
    """Calendar months the series covers whole (its first to its last day)."""
    first, last = min(series), max(series)
    month = first.replace(day=1)
    while month <= last:
        start, end = period_bounds(Period.MONTHLY, month)
        if start >= first and end <= last:
            yield start, end
        month = end + timedelta(days=1)


def _sum(series: Series, start: date, end: date) -> Decimal:
    return sum(
        (series.get(start + timedelta(days=i), Decimal(0)) for i in range((end - start).days + 1)),
        Decimal(0),
    )


def _taxes(by_category: ByCategory, start: date, through: date) -> TaxBasis | None:
    """The tax basis ``costs.forecast.tax_queries`` would read (None: no tax in the reference
    month, or it is before the series)."""
    tax, usage = by_category.get(TAX, {}), by_category.get(USAGE, {})
    ref_start, ref_end = reference_month(through)
    rate = tax_rate(_sum(tax, ref_start, ref_end), _sum(usage, ref_start, ref_end))
    if rate == 0:
        return None
    return TaxBasis(rate, usage=_sum(usage, start, through), posted=_sum(tax, start, through))


def backtest(all_series: dict[str, ByCategory]) -> dict[str, list[Decimal]]:
    errors: dict[str, list[Decimal]] = defaultdict(list)
    for by_category in all_series.values():
        series: Series = defaultdict(Decimal)
        for daily in by_category.values():
            for day, cost in daily.items():
                series[day] += cost
        usage = by_category.get(USAGE, {})
        for start, end in _months(series):
            actual = sum(
                (series.get(start + timedelta(days=i), Decimal(0)) for i in range(end.day)),
                Decimal(0),
            )
            if actual == 0:
                continue
            for d in CHECK_DAYS:
                through = start + timedelta(days=d - 1)
                first = max(min(series), start - timedelta(days=WINDOW_DAYS))
                days = [first + timedelta(days=i) for i in range((through - first).days + 1)]
                history = [DayCost(day, series.get(day, Decimal(0))) for day in days]
                recurring = [DayCost(day, usage.get(day, Decimal(0))) for day in days]
                ours = project(
                    history,
                    currency="X",
                    period_start=start,
                    period_end=end,
                    through=through,
                    recurring=recurring,
                    taxes=_taxes(by_category, start, through),
                )
                mtd = sum((c.cost for c in history if c.day >= start), Decimal(0))
                run_rate = mtd / d * end.day
                errors[f"ours@{d}"].append(abs(ours.forecast - actual) / abs(actual))
                errors[f"run_rate@{d}"].append(abs(run_rate - actual) / abs(actual))
                errors[f"bias@{d}"].append((ours.forecast - actual) / abs(actual))
                inside = ours.low <= actual <= ours.high
                errors[f"inside@{d}"].append(Decimal(1 if inside else 0))
    return errors


def _pct(values: list[Decimal]) -> str:
    return f"{sum(values, Decimal(0)) / len(values) * 100:.1f} %" if values else "-"


def _median_pct(values: list[Decimal]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return f"{median * 100:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--seeds", default="1,2,3,4,5,6,7", help="demo seeds, comma-separated")
    args = parser.parse_args()
    t0 = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    groups = {
        "demo data": demo_series(args.months, args.scale, seeds),
        "FOCUS samples": sample_series(),
    }
    print(
        "| data | series-months | day | MAPE ours | MAPE run rate | median APE ours "
        "| median APE run rate | inside our day-to-day range |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, series in groups.items():
        errors = backtest(series)
        n = len(errors[f"ours@{CHECK_DAYS[0]}"])
        for d in CHECK_DAYS:
            ours, run_rate = errors[f"ours@{d}"], errors[f"run_rate@{d}"]
            print(
                f"| {label} | {n} | {d} | {_pct(ours)} | {_pct(run_rate)} | "
                f"{_median_pct(ours)} | {_median_pct(run_rate)} | {_pct(errors[f'inside@{d}'])} |"
            )
    print(f"\n{time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
