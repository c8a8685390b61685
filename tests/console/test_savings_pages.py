"""Savings pages without a browser: recommendations (list with per-currency totals, detail with
evidence and steps, status changes, snooze, approval when the threshold requires it, the
insights labelled by their source), the approvals inbox and decision, commitments; the roles
that shape them and the API's refusals shown in words."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.cloud_accounts import make_account
from tests.factories.commitments import make_commitment
from tests.factories.recommendations import make_approval, make_recommendation
from tests.factories.settings import make_org_settings
from tests.factories.users import make_user

from xplorr.approvals.models import ApprovalStatus
from xplorr.cloud_accounts.models import Provider
from xplorr.core import clock
from xplorr.core.tenancy import Role
from xplorr.orgs.models import Org
from xplorr.recommendations.models import RecommendationStatus
from xplorr.users.models import User


async def test_recommendations_list_totals_filters_and_insights_source(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    prod = await make_account(db, org, provider=Provider.AWS, name="prod")
    await make_recommendation(db, prod, savings="60.74", resource_id="i-1")
    await make_recommendation(
        db, prod, savings="20", resource_id="i-1", type="upgrade_instance_generation"
    )
    await make_recommendation(db, prod, savings="5", currency="EUR", category="unused")
    await make_recommendation(db, prod, savings="9", status=RecommendationStatus.DISMISSED)
    client = console_for(member)

    html = (await client.get("/recommendations")).text
    assert 'data-testid="savings-USD">$60.74<' in html  # the alternatives counted once
    assert 'data-testid="savings-EUR">€5.00<' in html
    assert "Do something about i-1" in html
    assert "Mark applied" in html
    assert "Snooze" in html
    assert 'hx-get="/recommendations/insights"' in html  # loaded after the list
    # The insights say who wrote them: no LLM is configured in the tests, so the rules did.
    insights = (await client.get("/recommendations/insights")).text
    assert "Written by Xplorr's rules (no language model)" in insights
    assert "No LLM is configured" in insights
    assert 'data-testid="rec-total">3<' in html

    html = (await client.get("/recommendations?category=unused")).text
    assert 'data-testid="rec-total">1<' in html
    assert "savings-USD" not in html
    html = (await client.get("/recommendations?status=dismissed")).text
    assert 'data-testid="rec-total">1<' in html
    assert "Reopen" in html
    html = (await client.get("/recommendations?provider=gcp")).text
    assert "Nothing matches these filters" in html
    bad = await client.get("/recommendations?account=not-a-uuid")
    assert bad.status_code == 422
    assert "{" not in bad.text.split("<main", 1)[1].split("</main>")[0]


async def test_recommendation_detail_actions_and_snooze_error(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    rec = await make_recommendation(db, await make_account(db, org), savings="70.08")
    client = console_for(member)
    page = await client.get(f"/recommendations/{rec.id}")
    assert page.status_code == 200
    assert "cpu average percent" in page.text
    assert "1.5" in page.text
    assert "<li>Stop it.</li>" in page.text
    assert "aws ec2 stop-instances" in page.text

    # A snooze day in the past: the API's 422 next to the field, the input kept.
    yesterday = (clock.now().date() - timedelta(days=1)).isoformat()
    refused = await client.submit(f"/recommendations/{rec.id}/snooze", {"until": yesterday})
    assert refused.status_code == 422
    assert "Must be a day after today" in refused.text
    assert f'value="{yesterday}"' in refused.text

    until = (clock.now().date() + timedelta(days=10)).isoformat()
    done = await client.submit(f"/recommendations/{rec.id}/snooze", {"until": until})
    assert done.status_code == 303
    assert done.headers["location"] == "/recommendations"
    listed = await client.get("/recommendations")
    assert "Snoozed until" in listed.text
    assert str(rec.id) not in listed.text

    applied = await client.submit(
        f"/recommendations/{rec.id}/status", {"status": "applied", "next": "/recommendations"}
    )
    assert applied.status_code == 303
    assert "applied" in (await client.get(f"/recommendations/{rec.id}")).text
    missing = await client.get("/recommendations/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404


async def test_viewer_sees_no_action_and_a_direct_post_is_refused(
    console_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    rec = await make_recommendation(db, await make_account(db, org))
    client = console_for(viewer)
    for path in ("/recommendations", f"/recommendations/{rec.id}"):
        html = (await client.get(path)).text
        assert ">Dismiss<" not in html
        assert ">Snooze<" not in html
        assert "Mark applied" not in html
    refused = await client.submit(f"/recommendations/{rec.id}/status", {"status": "dismissed"})
    assert refused.status_code == 403
    assert "role" in refused.text.lower()
    refused = await client.submit(f"/approvals/{rec.id}", {"status": "approved"})
    assert refused.status_code in (403, 404)


async def test_above_the_threshold_applying_asks_for_approval_and_an_admin_decides(
    console_for, db: AsyncSession, org: Org, member: User, admin: User, owner: User
) -> None:
    await make_org_settings(db, org, approval_threshold=100)
    rec = await make_recommendation(db, await make_account(db, org), savings="900")
    client = console_for(member)
    html = (await client.get("/recommendations")).text
    assert "Request approval" in html
    assert "Mark applied" not in html
    asked = await client.submit(f"/recommendations/{rec.id}/approval")
    assert asked.status_code == 303
    approval_path = asked.headers["location"]
    assert approval_path.startswith("/approvals/")
    again = await client.submit(f"/recommendations/{rec.id}/approval")
    assert again.headers["location"] == approval_path  # the pending one, named

    page = await client.get(approval_path)
    assert "pending" in page.text
    assert "Approve" not in page.text
    refused = await client.submit(approval_path, {"status": "approved"})
    assert refused.status_code == 403

    inbox = (await console_for(admin).get("/approvals")).text
    assert f'href="{approval_path}"' in inbox
    assert "$900.00" in inbox
    decided = await console_for(admin).submit(
        approval_path, {"status": "approved", "comment": "Go ahead"}
    )
    assert decided.status_code == 303
    page = (await console_for(admin).get(approval_path)).text
    assert "approved" in page
    assert "Go ahead" in page
    assert "in progress" in (await client.get(f"/recommendations/{rec.id}")).text


async def test_apply_above_threshold_redirects_to_the_opened_approval(
    console_for, db: AsyncSession, org: Org, member: User, admin: User
) -> None:
    rec = await make_recommendation(db, await make_account(db, org), savings="900")
    done = await console_for(member).submit(
        f"/recommendations/{rec.id}/status", {"status": "applied"}
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/approvals/")
    # A decision on one's own request is refused when another admin exists: shown in words.
    other = await make_recommendation(db, await make_account(db, org), savings="900")
    mine = await make_approval(db, other, admin)
    await make_user(db, org, role=Role.ADMIN)
    refused = await console_for(admin).submit(
        f"/approvals/{mine.id}", {"status": "approved", "comment": "mine"}
    )
    assert refused.status_code == 403
    assert "own" in refused.text.lower()
    assert ">mine</textarea>" in refused.text


async def test_approvals_inbox_empty_status_filter_and_decision_from_the_list(
    console_for, db: AsyncSession, org: Org, viewer: User, member: User, admin: User
) -> None:
    html = (await console_for(viewer).get("/approvals")).text
    assert "Nothing waits for a decision" in html
    rec = await make_recommendation(db, await make_account(db, org), savings="900")
    await make_approval(db, rec, member, status=ApprovalStatus.REJECTED)
    html = (await console_for(viewer).get("/approvals?status=rejected")).text
    assert rec.title in html
    pending = await make_approval(db, rec, member)
    html = (await console_for(viewer).get("/approvals")).text
    assert rec.title in html
    assert ">Approve<" not in html
    html = (await console_for(admin).get("/approvals")).text
    assert ">Approve<" in html
    rejected = await console_for(admin).submit(
        f"/approvals/{pending.id}", {"status": "rejected", "next": "/approvals"}
    )
    assert rejected.status_code == 303
    assert rejected.headers["location"] == "/approvals"
    assert "Nothing waits for a decision" in (await console_for(admin).get("/approvals")).text


async def test_commitments_coverage_expiring_and_advice_source(
    console_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    account = await make_account(db, org, provider=Provider.AWS)
    await make_commitment(db, account, "ri-soon", expires_in_days=20)
    html = (await console_for(viewer).get("/commitments")).text
    assert "Commitments" in html
    assert "Written by Xplorr's rules" in html
    bad = await console_for(viewer).get("/commitments?days=0")
    assert bad.status_code == 422
