"""Anomalies pages: the list with its filters, one anomaly with its root cause and the link to
the explorer, acknowledge / resolve for members (a viewer sees no button and the API refuses its
direct POST in words), the API's 422 and 404 in words."""

from datetime import date
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories.anomalies import make_anomaly
from tests.factories.cloud_accounts import make_account

from xplorr.anomalies.models import Anomaly, AnomalyStatus, Severity
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def spike(db: AsyncSession, org: Org) -> Anomaly:
    account = await make_account(db, org, name="Production")
    a = await make_anomaly(
        db, org, account=account, day=date(2026, 11, 20), actual="420", severity=Severity.HIGH
    )
    a.root_cause = [
        {
            "dimension": "resource",
            "key": "i-big",
            "name": "i-big",
            "actual": "300",
            "baseline": "20",
        },
        {
            "dimension": "region",
            "key": "us-east-1",
            "name": "us-east-1",
            "actual": "400",
            "baseline": "95",
        },
    ]
    await db.commit()
    await make_anomaly(
        db, org, account=account, day=date(2026, 11, 2), status=AnomalyStatus.RESOLVED
    )
    return a


async def test_list_filters_and_detail_with_root_cause(
    console_for, db: AsyncSession, org: Org, viewer: User
) -> None:
    a = await spike(db, org)
    client = console_for(viewer)
    html = (await client.get("/anomalies")).text
    assert "2 anomalies" in html
    html = (
        await client.get("/anomalies", params={"status": "open", "startDate": "2026-11-10"})
    ).text
    assert "1 anomaly" in html
    assert f'href="/anomalies/{a.id}"' in html
    assert "$420.00" in html
    html = (await client.get("/anomalies", params={"severity": "critical"})).text
    assert "No anomaly matches" in html

    r = await client.get(f"/anomalies/{a.id}")
    assert r.status_code == 200, r.text
    html = r.text
    assert "i-big" in html
    assert "+$280.00" in html
    assert "us-east-1" in html
    # A viewer may not change the status: no button.
    assert "Acknowledge" not in html
    link = html.split('href="/costs?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    query = parse_qs(link)
    assert query["startDate"] == ["2026-11-13"]
    assert query["endDate"] == ["2026-11-20"]
    assert query["service"] == ["AmazonEC2"]
    assert query["accountId"] == [str(a.cloud_account_id)]
    # The direct POST is refused by the API, in words.
    r = await client.submit(f"/anomalies/{a.id}/status", {"status": "acknowledged"})
    assert r.status_code == 403
    assert 'role="alert"' in r.text
    message = r.text.split('role="alert">', 1)[1].split("<", 1)[0]
    assert message
    assert "{" not in message


async def test_member_acknowledges_then_resolves(
    console_for, db: AsyncSession, org: Org, member: User
) -> None:
    a = await spike(db, org)
    client = console_for(member)
    html = (await client.get(f"/anomalies/{a.id}")).text
    assert ">Acknowledge</button>" in html
    assert ">Resolve</button>" in html
    r = await client.submit(f"/anomalies/{a.id}/status", {"status": "acknowledged"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/anomalies/{a.id}"
    html = (await client.get(f"/anomalies/{a.id}")).text
    assert "Anomaly acknowledged." in html
    assert 'data-testid="status">acknowledged' in html
    assert ">Reopen</button>" in html
    r = await client.submit(f"/anomalies/{a.id}/status", {"status": "bogus"})
    assert r.status_code == 422
    assert 'role="alert"' in r.text


async def test_errors_in_words(console_for, member: User) -> None:
    client = console_for(member)
    r = await client.get("/anomalies", params={"startDate": "2026-13-01"})
    assert r.status_code == 422
    assert 'class="field-error"' in r.text
    r = await client.get("/anomalies/7b0c2a1e-7d1c-4a55-a3a4-1e0c8e5a9f00")
    assert r.status_code == 404
    assert "Page not found" in r.text
    html = (await client.get("/anomalies")).text
    assert "No anomaly yet" in html
