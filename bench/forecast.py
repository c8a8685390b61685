"""Backtest of the end-of-month forecast (``xplorr.costs.forecast``) against a plain run rate.

    .venv/bin/python bench/forecast.py [--months 6] [--scale 0.3] [--seed 7]

For every complete calendar month of each series, and for day D in 5, 10, 15 and 20, both
forecasts see the daily costs up to day D of the month (and, for ours, up to 28 days before the
month) and predict the month's total; the error is |forecast - actual| / |actual|. Printed: the
mean absolute percentage error (MAPE) per day D and method, and how often the month's total fell
inside our 80 % interval.

Series: the demo generator's accounts (one series per account and currency, BilledCost per
usage day; ``--months`` months from 2026-01-01 at ``--scale``) and the FOCUS samples in
``tests/data/focus-samples`` (one month each, so no history before the month). The default size
runs in well under a minute; ``--months 13 --scale 1`` is the large run.
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
from xplorr.costs.forecast import WINDOW_DAYS, Period, period_bounds, project
from xplorr.costs.query import DayCost

CHECK_DAYS = (5, 10, 15, 20)
SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "focus-samples"
Series = dict[date, Decimal]
Pair = tuple[Series, Series]  # every charge, usage charges only


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"not a date: {value!r}")


def _add(out: dict[str, Pair], table: pa.Table, key_col: str | None) -> None:
    starts = table.column("ChargePeriodStart").to_pylist()
    costs = table.column("BilledCost").to_pylist()
    currency = table.column("BillingCurrency").to_pylist()
    category = table.column("ChargeCategory").to_pylist()
    keys = table.column(key_col).to_pylist() if key_col else [""] * len(starts)
    for start, cost, cur, cat, key in zip(starts, costs, currency, category, keys, strict=True):
        if start is None or cost is None:
            continue
        every, usage = out.setdefault(f"{key}/{cur}", (defaultdict(Decimal), defaultdict(Decimal)))
        every[_day(start)] += Decimal(str(cost))
        if cat == "Usage":
            usage[_day(start)] += Decimal(str(cost))


def demo_series(months: int, scale: float, seed: int) -> dict[str, Pair]:
    out: dict[str, Pair] = {}
    for batch in generate(seed=seed, start=date(2026, 1, 1), months=months, scale=scale):
        _add(out, pa.Table.from_batches([batch]), "SubAccountId")
    return {f"demo {k}": v for k, v in out.items()}


def sample_series() -> dict[str, Pair]:
    out: dict[str, Pair] = {}
    for path in sorted(SAMPLES.glob("*.csv")):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(null_values=["NULL"]))
        if table.column("BilledCost").type != pa.float64():
            table = table.set_column(
                table.schema.get_field_index("BilledCost"),
                "BilledCost",
                pc.cast(table.column("BilledCost"), pa.float64()),
            )
        single: dict[str, Pair] = {}
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


def backtest(all_series: dict[str, Pair]) -> dict[str, list[Decimal]]:
    errors: dict[str, list[Decimal]] = defaultdict(list)
    for series, usage in all_series.values():
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
                )
                mtd = sum((c.cost for c in history if c.day >= start), Decimal(0))
                run_rate = mtd / d * end.day
                errors[f"ours@{d}"].append(abs(ours.forecast - actual) / abs(actual))
                errors[f"run_rate@{d}"].append(abs(run_rate - actual) / abs(actual))
                inside = ours.low <= actual <= ours.high
                errors[f"inside@{d}"].append(Decimal(1 if inside else 0))
    return errors


def _pct(values: list[Decimal]) -> str:
    return f"{sum(values, Decimal(0)) / len(values) * 100:.1f} %" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    groups = {
        "demo data": demo_series(args.months, args.scale, args.seed),
        "FOCUS samples": sample_series(),
    }
    print("| data | series-months | day | MAPE ours | MAPE run rate | inside our 80 % interval |")
    print("|---|---|---|---|---|---|")
    for label, series in groups.items():
        errors = backtest(series)
        n = len(errors[f"ours@{CHECK_DAYS[0]}"])
        for d in CHECK_DAYS:
            print(
                f"| {label} | {n} | {d} | {_pct(errors[f'ours@{d}'])} | "
                f"{_pct(errors[f'run_rate@{d}'])} | {_pct(errors[f'inside@{d}'])} |"
            )
    print(f"\n{time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
