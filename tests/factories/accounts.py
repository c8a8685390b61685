"""Cloud accounts and grants, made directly (the cloud-accounts API lives in its own area)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from xplorr.cloud_accounts.models import AccountGrant, CloudAccount, Provider
from xplorr.orgs.models import Org
from xplorr.users.models import User


async def make_account(db: AsyncSession, org: Org, name: str = "prod") -> CloudAccount:
    account = CloudAccount(
        org_id=org.id,
        provider=Provider.AWS,
        name=name,
        provider_account_id=f"{name}-{uuid.uuid4().hex[:8]}",
        credentials_encrypted=b"x",
    )
    db.add(account)
    await db.commit()
    return account


async def grant(db: AsyncSession, user: User, account: CloudAccount) -> AccountGrant:
    row = AccountGrant(org_id=user.org_id, user_id=user.id, cloud_account_id=account.id)
    db.add(row)
    await db.commit()
    return row
