"""Cloud accounts: the list with each account's sync status, connecting one (per provider, with
the connection test's result in words before saving), an account's page (rename, replace its
credentials, disconnect with a typed confirmation, sync now with its progress polled, its sync
history and warnings) and "Sync all". Views over /cloud-accounts and /sync."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from xplorr.console.api import ApiError
from xplorr.console.web import Console, NavItem, Signed

router = APIRouter()
NAV = (NavItem("Settings", "Cloud accounts", "/cloud-accounts", 0),)

PROVIDERS = (
    ("aws", "AWS"),
    ("azure", "Azure"),
    ("gcp", "Google Cloud"),
    ("focus", "FOCUS export files"),
)
LABELS = dict(PROVIDERS) | {"demo": "Demo data"}
IN_FLIGHT = ("queued", "running")
# Credential fields per provider (and AWS mode): (key, label, input type, required, help).
Field = tuple[str, str, str, bool, str | None]
AWS_BILLING: tuple[Field, ...] = (
    ("exportBucket", "Data Export S3 bucket (optional)", "text", False,
     "A FOCUS or CUR 2.0 Data Export; without one the bill is read from Cost Explorer."),
    ("exportPrefix", "Data Export key prefix (optional)", "text", False, None),
    ("exportRegion", "Data Export bucket region (optional)", "text", False, None),
    ("costTagKeys", "Cost allocation tag keys (optional)", "text", False,
     "Comma-separated, at most 10."),
)  # fmt: skip
FIELDS: dict[str, tuple[Field, ...]] = {
    "aws-role": (
        ("roleName", "IAM role name", "text", True, "The role Xplorr assumes in the account."),
        ("externalId", "External ID (optional)", "text", False, None),
        ("region", "Region", "text", True, None),
        *AWS_BILLING,
    ),
    "aws-keys": (
        ("accessKeyId", "Access key ID", "text", True, None),
        ("secretAccessKey", "Secret access key", "password", True, None),
        ("region", "Region", "text", True, None),
        *AWS_BILLING,
    ),
    "azure": (
        ("tenantId", "Tenant ID", "text", True, "A GUID or the tenant's domain name."),
        ("clientId", "Client (application) ID", "text", True, None),
        ("clientSecret", "Client secret", "password", True, None),
        ("exportStorageAccount", "Export storage account (optional)", "text", False,
         "A Cost Management export; without one the bill comes from the Query API."),
        ("exportContainer", "Export container (optional)", "text", False, None),
        ("exportPath", "Export folder (optional)", "text", False, None),
        ("exportSasUrl", "Export container SAS URL (optional)", "password", False,
         "Instead of the storage account: read the export with this SAS alone."),
    ),
    "gcp": (
        ("keyfileJson", "Service-account key (JSON)", "textarea", True,
         "Paste the key file a service account with BigQuery read access created."),
        ("billingDataset", "Billing export dataset", "text", True, None),
        ("billingTable", "Billing export table", "text", True, None),
        ("bigqueryLocation", "BigQuery location", "text", True, None),
        ("billingAccountId", "Billing account ID (optional)", "text", False, None),
        ("regions", "Regions (optional)", "text", False, "Comma-separated, at most 3."),
    ),
    "focus": (
        ("path", "Export path on this server", "text", True,
         "A folder (or one file) of FOCUS exports inside the directories the server may read "
         "(XPLORR_FOCUS_ROOTS)."),
    ),
}  # fmt: skip
DEFAULTS = {
    "roleName": "xplorr-readonly",
    "region": "us-east-1",
    "billingDataset": "billing_export",
    "billingTable": "gcp_billing_export_v1_*",
    "bigqueryLocation": "US",
}
LIST_KEYS = ("costTagKeys", "regions")
ACCOUNT_ID_LABEL = {
    "aws": ("AWS account ID", "The 12-digit account id."),
    "azure": ("Subscription ID", "One account is one subscription."),
    "gcp": ("Project ID", "The project holding the billing export."),
    "focus": ("Identifier", "Any name for the billing source, unique in this organization."),
    "demo": ("Identifier", None),
}


def _kind(provider: str, mode: str) -> str:
    return f"aws-{'keys' if mode == 'keys' else 'role'}" if provider == "aws" else provider


def _credentials(form: FormData, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, *_rest in FIELDS.get(kind, ()):
        value = str(form.get(f"c_{key}") or "").strip()
        if not value:
            continue
        if key in LIST_KEYS:
            out[key] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[key] = value
    return out


def _field_errors(error: ApiError | None) -> dict[str, str]:
    if error is None:
        return {}
    return {
        (f"c_{k.removeprefix('credentials.')}" if k.startswith("credentials.") else k): v
        for k, v in error.field_errors().items()
    }


def _form_context(
    provider: str,
    mode: str,
    values: dict[str, str],
    error: ApiError | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    kind = _kind(provider, mode)
    return {
        "provider": provider,
        "mode": mode,
        "kind": kind,
        "providers": PROVIDERS,
        "fields": FIELDS.get(kind, ()),
        "values": values,
        "error": error,
        "errors": _field_errors(error),
        "result": result,
        "id_label": ACCOUNT_ID_LABEL.get(provider, ("Account ID", None)),
    }


async def _aws_config(c: Console) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await c.api.get("/cloud-accounts/server-aws-config")
    except ApiError:
        return None
    return found


def _not_admin(c: Console) -> Response:
    return c.error_page(
        ApiError(403, "FORBIDDEN", "Only an owner or an admin can connect cloud accounts.")
    )


@router.get("/cloud-accounts")
async def accounts_list(c: Signed) -> Response:
    try:
        accounts, status = await asyncio.gather(
            c.api.get("/cloud-accounts", {"limit": 100}), c.api.get("/sync/status")
        )
    except ApiError as error:
        return c.error_page(error)
    by_account = {s["accountId"]: s for s in status["data"]}
    rows = [(a, by_account.get(a["id"])) for a in accounts["data"]]
    running = any((s or {}).get("state") in IN_FLIGHT for _a, s in rows)
    return c.render(
        "accounts/list.html", rows=rows, total=accounts["total"], labels=LABELS, running=running
    )


@router.post("/cloud-accounts/sync-all")
async def accounts_sync_all(c: Signed) -> Response:
    try:
        runs = await c.api.post("/sync/all")
    except ApiError as error:
        return c.redirect("/cloud-accounts", notice=error.message)
    n = len(runs["data"])
    return c.redirect(
        "/cloud-accounts", notice=f"Sync queued for {n} account{'s' if n != 1 else ''}."
    )


@router.get("/cloud-accounts/new")
async def account_new(c: Signed) -> Response:
    if not c.is_admin:
        return _not_admin(c)
    provider = c.query("provider", "aws")
    if provider not in LABELS or provider == "demo":
        provider = "aws"
    mode = c.query("mode", "role")
    values = {"name": "", "provider_account_id": ""} | {f"c_{k}": v for k, v in DEFAULTS.items()}
    aws = await _aws_config(c) if provider == "aws" else None
    return c.render("accounts/new.html", aws=aws, **_form_context(provider, mode, values))


@router.post("/cloud-accounts/new")
async def account_create(c: Signed) -> Response:
    form = await c.form()
    provider = str(form.get("provider") or "")
    mode = str(form.get("mode") or "role")
    kind = _kind(provider, mode)
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    credentials = _credentials(form, kind)
    account_id = str(form.get("provider_account_id") or "").strip()
    if provider in ("azure", "gcp"):
        # The subscription or project id is the account id and a credential field too.
        credentials["subscriptionId" if provider == "azure" else "projectId"] = account_id
    aws = await _aws_config(c) if provider == "aws" else None
    if form.get("action") == "test":
        try:
            result = await c.api.post(
                "/cloud-accounts/test",
                {
                    "provider": provider,
                    "provider_account_id": account_id,
                    "credentials": credentials,
                },
            )
        except ApiError as error:
            return c.render(
                "accounts/new.html",
                status=error.status,
                aws=aws,
                **_form_context(provider, mode, values, error),
            )
        return c.render(
            "accounts/new.html", aws=aws, **_form_context(provider, mode, values, result=result)
        )
    try:
        account = await c.api.post(
            "/cloud-accounts",
            {
                "provider": provider,
                "name": str(form.get("name") or ""),
                "provider_account_id": account_id,
                "credentials": credentials,
            },
        )
    except ApiError as error:
        return c.render(
            "accounts/new.html",
            status=error.status,
            aws=aws,
            **_form_context(provider, mode, values, error),
        )
    return c.redirect(
        f"/cloud-accounts/{account['id']}",
        notice=f"{account['name']} is connected; its first sync is queued.",
    )


async def _detail(c: Console, account_id: str) -> dict[str, Any]:
    account, status, history = await asyncio.gather(
        c.api.get(f"/cloud-accounts/{account_id}"),
        c.api.get("/sync/status"),
        c.api.get("/sync/jobs", {"accountId": account_id, "limit": 20}),
    )
    current = next((s for s in status["data"] if s["accountId"] == account_id), None)
    return {
        "account": account,
        "sync": current,
        "history": history,
        "in_flight": (current or {}).get("state") in IN_FLIGHT,
        "labels": LABELS,
    }


def _mode_of(account: dict[str, Any]) -> str:
    return "keys" if "accessKeyId" in (account.get("credentials") or {}) else "role"


async def _render_detail(
    c: Console,
    account_id: str,
    *,
    status: int = 200,
    error: ApiError | None = None,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    try:
        ctx = await _detail(c, account_id)
    except ApiError as failed:
        return c.error_page(failed)
    account = ctx["account"]
    mode = _mode_of(account)
    stored = account.get("credentials") or {}
    given = values or {f"c_{k}": "" for k in DEFAULTS} | (
        {"c_path": stored.get("path", "")} if account["provider"] == "focus" else {}
    )
    return c.render(
        "accounts/detail.html",
        status=status,
        form_name=form_name,
        **ctx,
        **_form_context(account["provider"], mode, given, error),
    )


@router.get("/cloud-accounts/{account_id}")
async def account_detail(c: Signed, account_id: str) -> Response:
    return await _render_detail(c, account_id)


@router.get("/cloud-accounts/{account_id}/status")
async def account_status(c: Signed, account_id: str) -> Response:
    """The polled fragment: the sync status and history; it polls again only while a run is
    queued or running, so the polling ends with the run."""
    try:
        ctx = await _detail(c, account_id)
    except ApiError as error:
        return c.render("accounts/_status_error.html", status=200, error=error)
    return c.render("accounts/_status.html", **ctx)


@router.post("/cloud-accounts/{account_id}/sync")
async def account_sync(c: Signed, account_id: str) -> Response:
    try:
        await c.api.post(f"/sync/{account_id}")
    except ApiError as error:
        return await _render_detail(c, account_id, status=error.status, error=error,
                                    form_name="sync")  # fmt: skip
    return c.redirect(f"/cloud-accounts/{account_id}", notice="Sync queued.")


@router.post("/cloud-accounts/{account_id}/edit")
async def account_edit(c: Signed, account_id: str) -> Response:
    form = await c.form()
    try:
        account = await c.api.patch(
            f"/cloud-accounts/{account_id}", {"name": str(form.get("name") or "")}
        )
    except ApiError as error:
        return await _render_detail(c, account_id, status=error.status, error=error,
                                    form_name="edit")  # fmt: skip
    return c.redirect(f"/cloud-accounts/{account_id}", notice=f"Renamed to {account['name']}.")


@router.post("/cloud-accounts/{account_id}/credentials")
async def account_credentials(c: Signed, account_id: str) -> Response:
    form = await c.form()
    provider = str(form.get("provider") or "")
    kind = _kind(provider, str(form.get("mode") or "role"))
    credentials = _credentials(form, kind)
    values = {k: str(v) for k, v in form.items() if k.startswith("c_")}
    try:
        account = await c.api.get(f"/cloud-accounts/{account_id}")
        if provider in ("azure", "gcp"):
            key = "subscriptionId" if provider == "azure" else "projectId"
            credentials[key] = account["provider_account_id"]
        await c.api.patch(f"/cloud-accounts/{account_id}", {"credentials": credentials})
    except ApiError as error:
        return await _render_detail(c, account_id, status=error.status, error=error,
                                    form_name="credentials", values=values)  # fmt: skip
    return c.redirect(f"/cloud-accounts/{account_id}", notice="Credentials replaced.")


@router.post("/cloud-accounts/{account_id}/delete")
async def account_delete(c: Signed, account_id: str) -> Response:
    form = await c.form()
    typed = str(form.get("confirm_name") or "").strip()
    try:
        account = await c.api.get(f"/cloud-accounts/{account_id}")
        if typed != account["name"]:
            raise ApiError(
                422,
                "CONFIRMATION_MISMATCH",
                f"Type the account's name, {account['name']}, to disconnect it.",
                [{"field": "confirm_name", "message": "Does not match the account's name."}],
            )
        await c.api.delete(f"/cloud-accounts/{account_id}")
    except ApiError as error:
        return await _render_detail(c, account_id, status=error.status, error=error,
                                    form_name="delete")  # fmt: skip
    return c.redirect(
        "/cloud-accounts", notice=f"{account['name']} is disconnected and its costs deleted."
    )


@router.get("/sync")
async def sync_page(c: Signed) -> Response:
    """Sync status lives with the accounts: each account's page shows its runs."""
    return c.redirect("/cloud-accounts")
