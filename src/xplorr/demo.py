"""``xplorr demo``: the demo organization, its owner, three demo cloud accounts (AWS, Azure,
Google Cloud), 13 months of their generated costs, and the spend guardrails on them: the
anomalies the detector finds in that data (the generator puts a spike on each account's biggest
service in its last three days) and two monthly budgets, one over its amount and one near its
80 % threshold, evaluated for real (their alerts go through the notification hub); the accounts'
inventory as their bill names it (``inventory.bill``), and for the Azure and Google Cloud
accounts a few Azure Advisor and GCP Recommender recommendations about those resources, demo
data stored as the collectors store theirs (``connectors.demo.advisor``); then its tagging
policies, allocation rules and a year of unit metrics (``demo_ownership``).

The data goes through exactly what a sync does (``sync.jobs.execute_run``: the ``demo``
connector, the ingest pipeline, a ``SyncRun`` recording the outcome), one account per
transaction, inline: it is all there when the command returns. Idempotent: accounts are found
again by their provider account id, and a re-run replaces (or, the same day, skips) each billing
period instead of adding to it.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xplorr import demo_ownership
from xplorr.advisor import service as provider_recommendations
from xplorr.anomalies import service as anomalies
from xplorr.budgets import service as budgets
from xplorr.budgets.models import Budget
from xplorr.cloud_accounts.credentials import store_credentials
from xplorr.cloud_accounts.models import CloudAccount, Provider
from xplorr.commitments import collect as commitments_demo
from xplorr.commitments import service as commitments
from xplorr.connectors.demo import advisor as demo_advisor
from xplorr.connectors.demo.generator import DEFAULT_ACCOUNTS
from xplorr.core import clock, money
from xplorr.core.db import make_engine, make_sessionmaker
from xplorr.core.deps import AuthKit
from xplorr.core.ratelimit import RateLimiter
from xplorr.core.settings import Settings
from xplorr.core.tenancy import Principal, Role, org_scope
from xplorr.costs.forecast import Period
from xplorr.inventory import service as inventory
from xplorr.inventory.bill import collect_from_bill
from xplorr.orgs.models import Org
from xplorr.recommendations import service as recommendations
from xplorr.sync.jobs import execute_run
from xplorr.sync.models import SyncRun, SyncState, SyncTrigger
from xplorr.users import service as users
from xplorr.users.models import User

DEMO_ORG_SLUG = "demo"

# (name, seed) per generator account (DEFAULT_ACCOUNTS: AWS, Azure, Google Cloud).
DEMO_ACCOUNTS: tuple[tuple[str, int], ...] = (
    ("Demo AWS (production)", 1),
    ("Demo Azure (applications)", 2),
    ("Demo Google Cloud (data)", 3),
)

# (name, index in DEMO_ACCOUNTS, percent of the amount spent so far): one over, one near 80 %.
DEMO_BUDGETS: Final[tuple[tuple[str, int, Decimal], ...]] = (
    ("AWS production (monthly)", 0, Decimal(112)),
    ("Azure applications (monthly)", 1, Decimal(86)),
)


@dataclass(frozen=True, slots=True)
class AccountLoad:
    name: str
    rows: int
    periods_imported: int
    periods_skipped: int
    data_through: date | None
    totals: dict[str, Decimal]


@dataclass
class DemoResult:
    email: str
    # The owner was created by this run, with the demo password; False: the owner existed and
    # kept the password they have (a restart must not undo a changed password).
    created: bool = False
    accounts: list[AccountLoad] = field(default_factory=list)
    anomalies: int = 0  # found by this run's detection (new)
    recent_anomalies: int = 0  # of them, on the data's last three days (notified)
    budget_alerts: list[str] = field(default_factory=list)  # "<budget>: <kind>" fired now
    inventory_added: int = 0  # resources new in the bill-derived inventory this run
    ownership: list[str] = field(default_factory=list)  # tagging, allocation, unit economics
    provider_recommendations: int = 0  # demo Azure Advisor / GCP Recommender rows stored

    def lines(self) -> list[str]:
        """A short human summary, one line per account."""
        out = []
        for a in self.accounts:
            totals = ", ".join(f"{amount:,.2f} {cur}" for cur, amount in sorted(a.totals.items()))
            out.append(
                f"{a.name}: {a.rows:,} rows read, {a.periods_imported} months imported, "
                f"{a.periods_skipped} unchanged; data through {a.data_through}"
                + (f"; imported {totals}" if totals else "")
            )
        out.append(
            f"Anomalies: {self.anomalies} found, {self.recent_anomalies} in the last days; "
            "budgets: "
            + ", ".join(name for name, _, _ in DEMO_BUDGETS)
            + (f"; alerts sent: {', '.join(self.budget_alerts)}" if self.budget_alerts else "")
        )
        return out


async def load_demo(settings: Settings) -> DemoResult:
    """Idempotent: creates the demo org and owner (the demo password is set only then: an
    existing owner keeps theirs), the demo cloud accounts, and loads their data."""
    kit = AuthKit.build(settings, RateLimiter(settings))
    password = settings.demo_password.get_secret_value()
    engine = make_engine(settings.db_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as db:
            org = await db.scalar(select(Org).where(Org.slug == DEMO_ORG_SLUG))
            if org is None:
                org = Org(name="Demo Company", slug=DEMO_ORG_SLUG)
                db.add(org)
                await db.flush()
            user = await db.scalar(select(User).where(User.email == settings.demo_email.lower()))
            created = user is None
            if user is None:
                user = await users.create_user(
                    db,
                    kit.hasher,
                    org,
                    email=settings.demo_email,
                    name="Demo Owner",
                    password=password,
                    role=Role.OWNER,
                )
            user.email_verified_at = user.email_verified_at or clock.now()
            account_ids = [
                (await _demo_account(db, settings, org, name, spec.sub_account_id, seed)).id
                for (name, seed), spec in zip(DEMO_ACCOUNTS, DEFAULT_ACCOUNTS, strict=True)
            ]
            result = DemoResult(email=user.email, created=created)
            org_id, user_id = org.id, user.id
            await db.commit()
        for account_id in account_ids:
            async with sessions() as db:
                result.accounts.append(
                    await _load_account(db, settings, org_id, account_id, user_id)
                )
                await db.commit()
        async with sessions() as db:
            await _guardrails(db, org_id, account_ids, user_id, result)
            await db.commit()
            # What the inventory.refresh job does after each import, inline (it then finds
            # nothing new): the demo accounts' resources as their bill names them.
            for account_id in account_ids:
                account = await db.get_one(CloudAccount, account_id)
                result.inventory_added += (await collect_from_bill(db, account)).added
                # The commitments the bill names, with demo terms (one expires within 30 days).
                await commitments_demo.collect_from_bill(db, account)
                result.provider_recommendations += await _provider_recommendations(db, account)
                await recommendations.refresh_account(db, account)  # what inventory.refreshed does
            await commitments.notify_expiring(db, org_id)
            await db.commit()
            owner = Principal(user_id=user_id, org_id=org_id, role=Role.OWNER, email=result.email)
            await demo_ownership.add_ownership(db, owner)
            await db.commit()
            result.ownership = await demo_ownership.summary(db, owner)
        return result
    finally:
        await engine.dispose()
        await kit.limiter.aclose()


_SOURCES: Final = {"azure": "azure-advisor", "gcp": "gcp-recommender"}


async def _provider_recommendations(db: AsyncSession, account: CloudAccount) -> int:
    """The demo Azure Advisor and GCP Recommender recommendations of ``account`` (none for the
    AWS one), stored through the same store function as the real collectors' (idempotent: the
    same ids every run, updated in place)."""
    resources = await inventory.account_resources(db, org_scope(account.org_id), account.id)
    found = demo_advisor.recommendations(
        [demo_advisor.Seen(r.resource_id, r.resource_type, r.provider, r.region) for r in resources]
    )
    stored = 0
    for provider, source in _SOURCES.items():
        mine = [f for f in found if f.provider == provider]
        if not mine:
            continue
        stored += await provider_recommendations.replace(
            db,
            account,
            (
                provider_recommendations.Found(
                    recommendation_id=f.recommendation_id,
                    resource_id=f.resource_id,
                    category=f.category,
                    savings_amount=f.savings_amount,
                    currency=f.currency,
                    details=f.details,
                    impact=f.impact,
                    problem=f.problem,
                    solution=f.solution,
                    annual_savings_amount=f.annual_savings_amount,
                    last_updated=clock.now(),
                    recommender=f.recommender,
                    kind=f.kind,
                    location=f.location,
                    state=f.state,
                )
                for f in mine
            ),
            provider=provider,
            source=source,
            now=clock.now(),
        )
    return stored


async def _demo_account(
    db: AsyncSession, settings: Settings, org: Org, name: str, provider_id: str, seed: int
) -> CloudAccount:
    account = await db.scalar(
        select(CloudAccount).where(
            CloudAccount.org_id == org.id,
            CloudAccount.provider == Provider.DEMO,
            CloudAccount.provider_account_id == provider_id,
        )
    )
    if account is not None:
        return account
    account = CloudAccount(
        id=uuid.uuid4(),
        org_id=org.id,
        provider=Provider.DEMO,
        name=name,
        provider_account_id=provider_id,
    )
    await store_credentials(db, settings, account, {"seed": seed})
    db.add(account)
    await db.flush()
    return account


async def _load_account(
    db: AsyncSession,
    settings: Settings,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    user_id: uuid.UUID,
) -> AccountLoad:
    """One account's sync, inline: a run recorded as a manual sync by the demo owner."""
    account = await db.scalar(
        select(CloudAccount).where(CloudAccount.id == account_id, CloudAccount.org_id == org_id)
    )
    assert account is not None
    run = SyncRun(
        id=uuid.uuid4(),
        org_id=org_id,
        cloud_account_id=account_id,
        trigger=SyncTrigger.MANUAL,
        state=SyncState.QUEUED,
        requested_by=user_id,
    )
    db.add(run)
    await db.flush()  # requested (created_at) before started, as a queued run is
    summary = await execute_run(db, settings, run, account)
    return AccountLoad(
        name=account.name,
        rows=summary.rows_read,
        periods_imported=len(summary.periods_imported),
        periods_skipped=len(summary.periods_skipped),
        data_through=run.data_through,
        totals=dict(summary.totals),
    )


async def _guardrails(
    db: AsyncSession,
    org_id: uuid.UUID,
    account_ids: list[uuid.UUID],
    user_id: uuid.UUID,
    result: DemoResult,
) -> None:
    """The demo budgets (amounts set from this month's real spend so that one is over and one
    near its 80 % threshold; re-set at every run, as the month moves on), then what the worker
    does after a sync, inline: anomaly detection over the last 90 days and budget evaluation,
    both notifying through the hub. The same jobs, queued by the imports, find nothing new."""
    who = org_scope(org_id)
    for name, index, percent in DEMO_BUDGETS:
        budget = await db.scalar(select(Budget).where(Budget.org_id == org_id, Budget.name == name))
        if budget is None:
            budget = Budget(
                id=uuid.uuid4(),
                org_id=org_id,
                name=name,
                amount=Decimal(1),
                currency="USD",
                cloud_account_id=account_ids[index],
                period=Period.MONTHLY,
                alert_at_80=True,
                alert_at_100=True,
                created_by=user_id,
            )
            db.add(budget)
        [status] = await budgets.statuses(db, who, [budget])
        # On the 1st nothing of the month is complete yet: size it on the forecast instead.
        basis = status.spend
        if basis == 0 and status.forecast is not None:
            basis = status.forecast.forecast
        if basis > 0:
            budget.amount = money.round_money(basis * 100 / percent, "USD")
        await db.flush()
    today = clock.now().date()
    found = await anomalies.detect(
        db, org_id, today - timedelta(days=anomalies.HORIZON_DAYS), today
    )
    await anomalies.notify_anomalies(db, found.recent)
    fired = await budgets.evaluate(db, org_id)
    await budgets.notify_fired(db, fired)
    result.anomalies = len(found.new)
    result.recent_anomalies = len(found.recent)
    result.budget_alerts = [f"{f.status.budget.name}: {f.kind.value}" for f in fired]
