"""Property-based tests (hypothesis) of the allocation arithmetic: splits are exact, every
share is within one quantum of its exact proportion, display rounding keeps the total to the
cent, and applying any set of rules to any cost table conserves money per currency."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from xplorr.core import money
from xplorr.costs.allocate import (
    STORE_QUANTUM,
    Method,
    ShareRule,
    Source,
    apply_rules,
    fine_dims,
    round_apportioned,
    split_exact,
)
from xplorr.costs.query import CostGroup, Dim, TagKey

amounts = st.decimals(
    min_value=Decimal("-1000000000"),
    max_value=Decimal("1000000000"),
    places=9,
    allow_nan=False,
    allow_infinity=False,
)
weights = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**9), places=6),
    min_size=1,
    max_size=12,
)


@given(amounts, weights)
@settings(max_examples=300, deadline=None)
def test_split_is_exact_and_close_to_proportion(amount: Decimal, w: dict[str, Decimal]) -> None:
    shares = split_exact(amount, w)
    assert sum(shares.values(), Decimal(0)) == amount
    assert set(shares) == set(w)
    total = sum(w.values(), Decimal(0))
    for k, share in shares.items():
        assert abs(share - amount * w[k] / total) <= STORE_QUANTUM
        assert share == share.quantize(STORE_QUANTUM)
        assert (share >= 0) == (amount >= 0) or share == 0


@given(
    st.dictionaries(st.integers(0, 50), amounts, min_size=1, max_size=30),
    st.sampled_from(["USD", "JPY", "KWD"]),
)
@settings(max_examples=300, deadline=None)
def test_rounding_keeps_the_rounded_total(amounts_: dict[int, Decimal], currency: str) -> None:
    rounded = round_apportioned(amounts_, currency)
    total = sum(amounts_.values(), Decimal(0))
    assert sum(rounded.values(), Decimal(0)) == money.round_money(total, currency)
    unit = Decimal(1).scaleb(-money.minor_units(currency))
    for k, v in rounded.items():
        assert abs(v - amounts_[k]) < unit


TEAMS = ["api", "data", "web", None]
SERVICES = ["EC2", "EKS", "S3"]
DAY0 = date(2024, 9, 1)


@st.composite
def cost_tables(draw: st.DrawFn) -> list[tuple[date, str, str | None, str, Decimal]]:
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 3),
                st.sampled_from(SERVICES),
                st.sampled_from(TEAMS),
                st.sampled_from(["USD", "EUR"]),
                amounts,
            ),
            max_size=40,
        )
    )
    return [(DAY0 + timedelta(days=d), s, t, c, a) for d, s, t, c, a in rows]


@st.composite
def rule_sets(draw: st.DrawFn) -> list[ShareRule]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        method = draw(st.sampled_from(list(Method)))
        splits = None
        if method is Method.FIXED:
            parts = draw(st.lists(st.integers(1, 97), min_size=1, max_size=3))
            names = ["api", "data", "web", "ops"][: len(parts)]
            raw = {n: Decimal(p) for n, p in zip(names, parts, strict=False)}
            splits = split_exact(Decimal(100), raw, Decimal("0.000001"))  # percentages, sum 100
        elif method is Method.EVEN and draw(st.booleans()):
            splits = {"api": Decimal(1), "ops": Decimal(1)}
        if draw(st.booleans()):
            source = Source(service=draw(st.sampled_from(SERVICES)))
        else:
            source = Source(tag_key="team", tag_value=draw(st.sampled_from(TEAMS)))
        out.append(ShareRule(uuid.uuid4(), f"r{i}", source, "team", method, splits, i))
    return out


@given(cost_tables(), rule_sets())
@settings(max_examples=300, deadline=None)
def test_allocation_conserves_money_per_currency(rows, rules) -> None:
    group_by = (TagKey("team"),)
    fine = fine_dims(group_by, rules)
    sums: dict[tuple, Decimal] = {}
    for day, service, team, currency, amount in rows:
        values = {
            Dim.DATE: day,
            Dim.PROVIDER: "aws",
            Dim.ACCOUNT: uuid.UUID(int=1),
            Dim.SERVICE: service,
            Dim.REGION: "us-east-1",
            TagKey("team"): team,
        }
        key = (tuple(values[d] for d in fine), currency)
        sums[key] = sums.get(key, Decimal(0)) + amount
    groups = [
        CostGroup(key=k, names=tuple(str(v) for v in k), currency=cur, cost=cost)
        for (k, cur), cost in sums.items()
    ]
    result = apply_rules(groups, fine, group_by, rules)
    for currency in ("USD", "EUR"):
        before = sum((g.cost for g in groups if g.currency == currency), Decimal(0))
        after = [g for g in result.groups if g.currency == currency]
        assert sum((g.cost for g in after), Decimal(0)) == before
        assert sum((g.direct + g.allocated for g in after), Decimal(0)) == before
        if after:
            rounded = round_apportioned({g.key: g.cost for g in after}, currency)
            assert sum(rounded.values(), Decimal(0)) == money.round_money(before, currency)
    assert len({(g.key, g.currency) for g in result.groups}) == len(result.groups)
