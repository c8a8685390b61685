"""/audit: admin-only list with filters, distinct actions, and a CSV export that spreadsheets
cannot be tricked into evaluating."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFor
from xplorr.core import clock
from xplorr.core.audit import AuditEntry
from xplorr.core.csvexport import safe_cell, to_csv
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def _entry(db: AsyncSession, org: Org, action: str, email: str, **kw) -> AuditEntry:
    kw.setdefault("details", {})
    row = AuditEntry(org_id=org.id, action=action, actor_email=email, **kw)
    db.add(row)
    await db.commit()
    return row


class TestList:
    async def test_filters_and_org_scope(
        self, client_for: ClientFor, admin: User, org: Org, other_org: Org, db: AsyncSession
    ) -> None:
        old = clock.now() - timedelta(days=10)
        await _entry(db, org, "user.login", "a@acme.io", created_at=old)
        await _entry(db, org, "user.login", "b@acme.io")
        await _entry(db, org, "token.created", "a@acme.io", ip="10.0.0.1")
        await _entry(db, other_org, "user.login", "x@globex.io")
        c = client_for(admin)
        r = await c.get("/audit")
        assert r.status_code == 200
        assert r.json()["total"] == 3
        first = r.json()["data"][0]
        assert set(first) == {
            "id",
            "timestamp",
            "user_email",
            "action",
            "resource_type",
            "resource_id",
            "resource_name",
            "ip_address",
            "details",
        }
        assert (await c.get("/audit", params={"action": "user.login"})).json()["total"] == 2
        r = await c.get("/audit", params={"user_email": "A@acme.io"})
        assert r.json()["total"] == 2
        since = (clock.now() - timedelta(days=1)).isoformat()
        assert (await c.get("/audit", params={"from": since})).json()["total"] == 2
        r = await c.get(
            "/audit", params={"to": (clock.now() - timedelta(days=5)).date().isoformat()}
        )
        assert r.json()["total"] == 1
        r = await c.get("/audit/actions")
        assert r.json() == {"actions": ["token.created", "user.login"]}

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "yesterday"},
            {"to": "0.5"},
            {"limit": 101},
            {"from": "2026-13-01"},
            {"to": "9999-12-31T23:59:59-23:59"},  # past datetime.max once in UTC
            {"from": "0001-01-01T00:00:00+05:00"},  # before datetime.min once in UTC
        ],
    )
    async def test_bad_filters_are_422(self, client_for: ClientFor, admin: User, params) -> None:
        r = await client_for(admin).get("/audit", params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")

    async def test_admin_only(self, client_for: ClientFor, member: User, viewer: User) -> None:
        for user in (member, viewer):
            for path in ("/audit", "/audit/actions", "/audit/export"):
                assert (await client_for(user).get(path)).status_code == 403
        assert (await client_for(None).get("/audit")).status_code == 401


class TestExport:
    async def test_csv_is_an_attachment_and_neutralises_formulas(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        await _entry(
            db,
            org,
            "user.updated",
            "a@acme.io",
            resource_name='=HYPERLINK("http://evil","x")',
            details={"note": 'line1\nline2, "quoted"'},
        )
        r = await client_for(admin).get("/audit/export")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"].startswith("attachment; filename=")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == 1
        assert rows[0]["resource_name"] == '\'=HYPERLINK("http://evil","x")'
        assert rows[0]["action"] == "user.updated"
        # The export itself is audited.
        r = await client_for(admin).get("/audit", params={"action": "audit.exported"})
        assert r.json()["total"] == 1

    async def test_at_most_10000_rows(
        self, client_for: ClientFor, admin: User, org: Org, db: AsyncSession
    ) -> None:
        db.add_all(
            AuditEntry(org_id=org.id, action="bulk.row", actor_email="a@acme.io", details={})
            for _ in range(10_005)
        )
        await db.commit()
        r = await client_for(admin).get("/audit/export")
        assert len(list(csv.reader(io.StringIO(r.text)))) == 1 + 10_000

    async def test_export_is_rate_limited(self, client_for: ClientFor, admin: User) -> None:
        c = client_for(admin)
        for _ in range(10):
            assert (await c.get("/audit/export")).status_code == 200
        r = await c.get("/audit/export")
        assert r.status_code == 429


@given(st.text(max_size=40))
def test_text_cells_never_start_a_formula_and_round_trip(value: str) -> None:
    out = to_csv(["v"], [[value]])
    cell = list(csv.reader(io.StringIO(out)))[1][0] if value else ""
    if value.startswith(("=", "+", "-", "@", "\t", "\r", "\0")):
        assert cell == "'" + value
    else:
        assert cell == value.replace("\r\n", "\n") or cell == value


def test_numbers_stay_numbers() -> None:
    assert safe_cell(Decimal("-12.50")) == Decimal("-12.50")
    assert safe_cell(-3) == -3
    assert safe_cell("-3") == "'-3"
    assert to_csv(["amount"], [[Decimal("-12.50")]]).splitlines()[1] == "-12.50"
