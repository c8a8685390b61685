"""What recommendations would save together, without counting the same spend twice.

Some recommendations are alternatives for the same money, and adding their savings would
promise more than can be saved:

- the actions on one resource (an unattached gp2 volume: delete it, or migrate it to gp3; an
  idle previous-generation instance: stop it, or upgrade it): one is done, not both;
- an account's commitment purchases in one currency (Cost Explorer's reservations and its
  Savings Plans, the cost-data rule's ``commitment_purchase``, Advisor's and Recommender's
  commitments): each source sizes its purchase on the same on-demand usage.

``overlap_group`` names the group a recommendation belongs to (its own id when it overlaps
nothing). A total counts, per group, the type whose recommendations save most together (within
one type, recommendations are separate purchases or resources and add up), and adds groups up.
For commitments this can understate, when two sources cover different services of one
account; it never counts one on-demand dollar twice.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, Protocol

from xplorr.core import money

COMMITMENT: Final = "commitment"
ZERO: Final = Decimal(0)


class Saving(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def cloud_account_id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def resource_id(self) -> str | None: ...
    @property
    def currency(self) -> str: ...
    @property
    def estimated_monthly_savings(self) -> Decimal: ...


def overlap_group(r: Saving) -> str:
    """The group of recommendations ``r`` is an alternative to (module docstring)."""
    if r.category == COMMITMENT:
        return f"{COMMITMENT}:{r.cloud_account_id}:{r.currency}"
    if r.resource_id:
        return f"resource:{r.cloud_account_id}:{r.resource_id}"
    return f"recommendation:{r.id}"


def monthly_savings(rows: Iterable[Saving]) -> dict[str, Decimal]:
    """Per currency, what ``rows`` would save a month together (module docstring), rounded to
    the currency's minor units. Currencies are never added up."""
    by_group: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        by_group[(r.currency, overlap_group(r))][r.type] += r.estimated_monthly_savings
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for (currency, _group), per_type in by_group.items():
        totals[currency] += max(per_type.values())
    return {cur: money.round_money(total, cur) for cur, total in totals.items()}
