"""Shared-cost allocation, applied on top of ``costs.query``: a query that groups by a tag key
(the *target*, e.g. ``team``) can ask for the cost that allocation rules move onto that key's
values (a shared Kubernetes or networking bill split across teams).

A rule (:class:`ShareRule`) says which cost is shared (its :class:`Source`: every given field
must match; ``tag_key`` with ``tag_value`` None means "untagged for that key"), which tag key
receives it, and how it is split:

- ``fixed``: ``splits`` maps values to percentages summing to 100;
- ``proportional``: each day's shared cost follows each target value's own direct cost that
  day (values with a positive direct cost only), so daily series and totals agree;
- ``even``: equal shares among the values in ``splits``, or among every value with direct
  cost rows that day.

Rules apply in priority order (lower first, then name); a cost matched by one rule is not
matched again. A shared cost that a rule cannot place (a proportional day without any direct
cost, an ``even`` day without any value seen) stays where it was and is reported as
``unallocated``.

Money is conserved exactly: every split is done by :func:`split_exact` at the store's
precision (1e-9), largest remainder first, so the allocated total equals the total without
allocation to the last digit stored; :func:`round_apportioned` then rounds an answer's entries
to the currency's minor units so that they still add up to the rounded total (largest
remainder again: the odd cent goes to the entry whose rounding dropped most).
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum
from typing import Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.core import money
from xplorr.core.tenancy import Scope
from xplorr.costs import query
from xplorr.costs.query import CostQuery, Dim, GroupBy, Key, TagKey

ZERO: Final = Decimal(0)
STORE_QUANTUM: Final = Decimal("0.000000001")
HUNDRED: Final = Decimal(100)
K = TypeVar("K")
Row = Mapping[Hashable, Key]  # one fine-grained group: its value per dimension


class Method(StrEnum):
    FIXED = "fixed"
    PROPORTIONAL = "proportional"
    EVEN = "even"


@dataclass(frozen=True, slots=True)
class Source:
    """Which cost a rule shares. ``None`` fields do not filter, except ``tag_value`` when
    ``tag_key`` is set: then None means the key is absent (untagged)."""

    provider: str | None = None
    account_id: uuid.UUID | None = None
    service: str | None = None
    region: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None
    # A Kubernetes cluster's cost instead of the cloud's (``kubernetes.query.allocate`` applies
    # these; ``tag_key`` is then a pod label): its idle allocation, or a namespace's.
    cluster_id: uuid.UUID | None = None
    namespace: str | None = None
    idle: bool = False

    def dims(self) -> tuple[GroupBy, ...]:
        """The dimensions :meth:`matches` reads: only the given fields, so the query under an
        allocation stays as coarse (and on as small a table) as its rules allow."""
        named: list[GroupBy] = [
            dim
            for dim, value in (
                (Dim.PROVIDER, self.provider),
                (Dim.ACCOUNT, self.account_id),
                (Dim.SERVICE, self.service),
                (Dim.REGION, self.region),
            )
            if value is not None
        ]
        if self.tag_key is not None:
            named.append(TagKey(self.tag_key))
        return tuple(named)

    def matches(self, row: Row) -> bool:
        if self.provider is not None and row[Dim.PROVIDER] != self.provider:
            return False
        if self.account_id is not None and row[Dim.ACCOUNT] != self.account_id:
            return False
        if self.service is not None and row[Dim.SERVICE] != self.service:
            return False
        if self.region is not None and row[Dim.REGION] != self.region:
            return False
        return self.tag_key is None or row[TagKey(self.tag_key)] == self.tag_value


@dataclass(frozen=True, slots=True)
class ShareRule:
    """One allocation rule, as the allocation area stores it. ``target_key`` None: the rule
    shares a cluster's cost across its namespaces (cluster sources only)."""

    id: uuid.UUID
    name: str
    source: Source
    target_key: str | None
    method: Method
    splits: Mapping[str, Decimal] | None = None  # fixed: percent per value; even: the values
    priority: int = 0


@dataclass(frozen=True, slots=True)
class AllocatedGroup:
    """One group of an allocated answer: ``cost = direct + allocated``. ``unallocated`` is
    the part of ``direct`` that a rule matched but could not place (kept where it was)."""

    key: tuple[Key, ...]
    names: tuple[str, ...]
    currency: str
    direct: Decimal
    allocated: Decimal
    unallocated: Decimal = ZERO

    @property
    def cost(self) -> Decimal:
        return self.direct + self.allocated


def split_exact(
    amount: Decimal, weights: Mapping[K, Decimal], quantum: Decimal = STORE_QUANTUM
) -> dict[K, Decimal]:
    """``amount`` split in proportion to ``weights`` (all > 0) in multiples of ``quantum``,
    summing to ``amount`` exactly (largest remainder method, Hare-Niemeyer).

    Each share is first the exact proportion truncated toward zero to ``quantum``; the units
    of ``quantum`` left over go one each to the shares with the largest truncated remainder
    (ties: larger weight, then key order); a residue finer than ``quantum`` (when ``amount``
    itself is finer) goes to the largest share. So every share is within one ``quantum`` of
    its exact proportion and the shares add up to ``amount`` to the last digit."""
    if not weights:
        raise ValueError("nothing to split among")
    if any(w <= ZERO for w in weights.values()):
        raise ValueError("weights must be positive")
    keys = sorted(weights, key=repr)
    sign = -1 if amount < ZERO else 1
    whole = abs(amount)
    with localcontext() as ctx:
        ctx.prec = 80
        total_weight = sum((weights[k] for k in keys), ZERO)
        exact = {k: whole * weights[k] / total_weight for k in keys}
        shares = {k: exact[k].quantize(quantum, rounding=ROUND_DOWN) for k in keys}
        target = whole.quantize(quantum, rounding=ROUND_DOWN)
        units = int((target - sum(shares.values(), ZERO)) / quantum)
        ranked = sorted(keys, key=lambda k: (-(exact[k] - shares[k]), -weights[k], repr(k)))
        for k in ranked[:units]:
            shares[k] += quantum
        residue = whole - sum(shares.values(), ZERO)
        if residue:
            largest = max(keys, key=lambda k: (shares[k], weights[k]))
            shares[largest] += residue
    return {k: -shares[k] if sign < 0 else shares[k] for k in keys}


def round_apportioned(amounts: Mapping[K, Decimal], currency: str) -> dict[K, Decimal]:
    """Each amount rounded to ``currency``'s minor units so that the rounded amounts add up to
    the rounded total (half up): ``core.money.round_parts`` (largest remainder on the minor
    unit), the amounts taken largest first so that on equal remainders the larger amount gets
    the leftover unit."""
    keys = sorted(amounts, key=lambda k: (-amounts[k], repr(k)))
    rounded = money.round_parts([amounts[k] for k in keys], currency)
    return dict(zip(keys, rounded, strict=True))


def _weights(
    rule: ShareRule, direct_by_value: Mapping[str, Decimal], seen: set[str]
) -> dict[str, Decimal]:
    if rule.method is Method.FIXED:
        return {v: p for v, p in (rule.splits or {}).items() if p > ZERO}
    if rule.method is Method.EVEN:
        values = set(rule.splits) if rule.splits else seen
        return dict.fromkeys(values, Decimal(1))
    return {v: c for v, c in direct_by_value.items() if c > ZERO}


@dataclass
class _Acc:
    direct: Decimal = ZERO
    allocated: Decimal = ZERO
    unallocated: Decimal = ZERO


@dataclass
class Allocation:
    """What :func:`allocate` answers: the groups, and per rule id the amount it moved per
    currency (what a preview shows besides the groups)."""

    groups: list[AllocatedGroup]
    moved: dict[uuid.UUID, dict[str, Decimal]] = field(default_factory=dict)


_FINE: Final[tuple[Dim, ...]] = (Dim.DATE,)


async def allocate(
    db: AsyncSession, who: Scope, q: CostQuery, rules: Sequence[ShareRule]
) -> Allocation:
    """``q``'s groups with ``rules`` applied. ``q.group_by`` must contain the tag key the rules
    target (rules targeting another key are ignored); other dimensions of ``q.group_by`` stay
    as they are (a shared cost keeps its own service, date... and changes only its target
    value). One :func:`query.aggregate` at (day, target key, and what the rules' sources name)
    grain, from the smallest table that has it (the tag rollup when the sources name only
    accounts and the target key); the rest is exact arithmetic in Python."""
    targets = [d for d in q.group_by if isinstance(d, TagKey)]
    if not targets:
        raise ValueError("allocation needs a query grouped by a tag key")
    target = targets[0]
    active = sorted(
        (r for r in rules if r.source.cluster_id is None and r.target_key == target.key),
        key=lambda r: (r.priority, r.name, str(r.id)),
    )
    fine = fine_dims(q.group_by, active)
    groups = await query.aggregate(db, who, replace(q, group_by=fine))
    return apply_rules(groups, fine, q.group_by, active)


def fine_dims(group_by: tuple[GroupBy, ...], rules: Sequence[ShareRule]) -> tuple[GroupBy, ...]:
    """The grain :func:`apply_rules` needs: ``group_by``, then the day and what the rules'
    sources name (provider, account, service, region, tag keys)."""
    fine: list[GroupBy] = list(group_by)
    for d in (*_FINE, *(d for r in rules for d in r.source.dims())):
        if d not in fine:
            fine.append(d)
    return tuple(fine)


def _cloud_match(rule: ShareRule, row: Row) -> bool:
    return rule.source.matches(row)


def _any_value(value: Key) -> bool:
    return value is not None


def apply_rules(
    groups: Sequence[query.CostGroup],
    fine: Sequence[Hashable],
    group_by: Sequence[Hashable],
    rules: Sequence[ShareRule],
    *,
    target: Hashable | None = None,
    matches: Callable[[ShareRule, Row], bool] = _cloud_match,
    recipient: Callable[[Key], bool] = _any_value,
) -> Allocation:
    """The arithmetic of :func:`allocate`: ``groups`` at ``fine`` grain (:func:`fine_dims`)
    folded to ``group_by`` with ``rules`` (already those targeting ``group_by``'s tag key,
    in the order they apply).

    A Kubernetes cluster's allocation (``kubernetes.query.allocate``) runs the same arithmetic
    on its own rows: ``target`` names the dimension that receives (a namespace or a pod label;
    default the first tag key), ``matches`` says which rule's source a row is, and
    ``recipient`` which values of the target may receive (never the idle group)."""
    active = list(rules)
    if target is None:
        target = next(d for d in group_by if isinstance(d, TagKey))
    tpos = list(group_by).index(target)
    n = len(group_by)
    names: dict[tuple[int, Key], str] = {}
    acc: dict[tuple[tuple[Key, ...], str], _Acc] = defaultdict(_Acc)
    direct_day: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    seen_day: dict[tuple[date, str], set[str]] = defaultdict(set)
    shared: dict[tuple[int, date, str, tuple[Key, ...]], Decimal] = defaultdict(Decimal)
    for g in groups:
        row = dict(zip(fine, g.key, strict=True))
        for i in range(n):
            names[(i, g.key[i])] = g.names[i]
        day = row[Dim.DATE]
        assert isinstance(day, date)
        own = g.key[:n]
        rule_index = next((i for i, r in enumerate(active) if matches(r, row)), None)
        if rule_index is None:
            acc[(own, g.currency)].direct += g.cost
            value = row[target]
            if recipient(value):
                assert isinstance(value, str)
                direct_day[(day, g.currency)][value] += g.cost
                seen_day[(day, g.currency)].add(value)
        else:
            shared[(rule_index, day, g.currency, own)] += g.cost
    moved: dict[uuid.UUID, dict[str, Decimal]] = {r.id: {} for r in active}
    for (rule_index, day, cur, own), amount in shared.items():
        rule = active[rule_index]
        weights = _weights(rule, direct_day.get((day, cur), {}), seen_day.get((day, cur), set()))
        if not weights or amount == ZERO:
            a = acc[(own, cur)]
            a.direct += amount
            a.unallocated += amount
            continue
        for value, share in split_exact(amount, weights).items():
            key = (*own[:tpos], value, *own[tpos + 1 :])
            acc[(key, cur)].allocated += share
            names.setdefault((tpos, value), value)
        moved[rule.id][cur] = moved[rule.id].get(cur, ZERO) + amount
    out = [
        AllocatedGroup(
            key=key,
            names=tuple(names.get((i, v)) or _name(group_by[i], v) for i, v in enumerate(key)),
            currency=cur,
            direct=a.direct,
            allocated=a.allocated,
            unallocated=a.unallocated,
        )
        for (key, cur), a in acc.items()
        if a.direct != ZERO
        or a.allocated != ZERO
        or any(
            v is not None
            for v, d in zip(key, group_by, strict=True)
            if isinstance(d, TagKey) or d == target
        )
    ]
    out.sort(
        key=lambda g: (
            g.currency,
            *((v is not None, str(v) if v is not None else "") for v in g.key),
        )
    )
    return Allocation(groups=out, moved=moved)


def _name(dim: Hashable, value: Key) -> str:
    if value is None:
        return query.UNTAGGED_NAME if isinstance(dim, TagKey) else query.NONE_NAME
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
