"""AWS Data Export ingest from S3 (moto's server) against the local-file ingest of the same export.

    .venv/bin/python bench/aws_export_ingest.py                      # 20,000 rows, SQLite
    .venv/bin/python bench/aws_export_ingest.py --rows 1000000 --gzip \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/xplorr_bench_aws

One FOCUS export of ``--rows`` rows (``bench/focus_gen.py``, 13 billing periods) is uploaded to
moto's S3 (a ``ThreadedMotoServer`` on loopback) in the Data Exports layout, then imported
twice into a fresh database: by the ``aws`` connector (list, download to staging, read, stage,
commit per billing period: the sync's path, ``XPLORR_AWS_ENDPOINT_URL`` pointing at moto), and
by ``ingest.pipeline.import_path`` from the local file (into a second account). Prints rows per
minute of each as JSON. ``sqlite`` (the default) is a fresh embedded database in a temp dir; a
PostgreSQL database named ``xplorr_bench_*`` is dropped and created again.
"""

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
SECRET = "bench-secret-key-bench-secret-key-0123456789"  # noqa: S105 (a throwaway database)
KEY_ID = "AKIABENCHMOTOKEY0001"
KEY_SECRET = "benchMotoSecretKey000000000000000000000x"  # noqa: S105 (moto accepts any)
BUCKET = "bench-billing"


def _database(url: str, tmp: Path) -> str:
    if url == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    name = url.rsplit("/", 1)[1]
    if name.startswith("xplorr_bench_"):
        import psycopg

        admin = (
            url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


async def _run(args: argparse.Namespace, tmp: Path, endpoint: str, export: Path) -> dict[str, Any]:
    from xplorr.cloud_accounts.credentials import store_credentials
    from xplorr.cloud_accounts.models import AccountStatus, CloudAccount, Provider
    from xplorr.connectors import SyncContext, connector_for
    from xplorr.core.db import make_engine, make_sessionmaker
    from xplorr.core.migrate import upgrade
    from xplorr.core.settings import Settings
    from xplorr.ingest.pipeline import Target, import_path
    from xplorr.orgs.models import Org

    url = _database(args.database_url, tmp)
    await asyncio.to_thread(upgrade, url)
    settings = Settings(  # type: ignore[call-arg]
        database_url=url, data_dir=tmp, secret_key=SECRET, aws_endpoint_url=endpoint
    )
    engine = make_engine(settings.db_url)
    sessions = make_sessionmaker(engine)

    @asynccontextmanager
    async def transaction() -> AsyncIterator[Any]:
        async with sessions() as db, db.begin():
            yield db

    target = Target(transaction, None, tmp / "staging")
    creds = {
        "accessKeyId": KEY_ID,
        "secretAccessKey": KEY_SECRET,
        "region": "us-east-1",
        "exportBucket": BUCKET,
        "exportPrefix": "exports",
    }
    async with sessions() as db, db.begin():
        org = Org(name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
        db.add(org)
        await db.flush()
        accounts = {}
        for provider, credentials in ((Provider.AWS, creds), (Provider.FOCUS, {"path": "x"})):
            account = CloudAccount(
                id=uuid.uuid4(),
                org_id=org.id,
                provider=provider,
                name=f"bench {provider.value}",
                provider_account_id="123456789012" if provider is Provider.AWS else "local",
                status=AccountStatus.ACTIVE,
            )
            await store_credentials(db, settings, account, credentials)
            db.add(account)
            accounts[provider] = account
    for account in accounts.values():
        async with sessions() as db:
            db.add(account)
            await db.refresh(account)
            db.expunge(account)

    started = time.perf_counter()
    s3 = await connector_for(Provider.AWS)(
        SyncContext(target, settings), accounts[Provider.AWS], creds
    )
    s3_seconds = time.perf_counter() - started
    started = time.perf_counter()
    local = await import_path(target, accounts[Provider.FOCUS], export)
    local_seconds = time.perf_counter() - started
    await engine.dispose()
    return {
        "rows": args.rows,
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "file_bytes": export.stat().st_size,  # noqa: ASYNC240 (one stat)
        "s3": {
            "seconds": round(s3_seconds, 2),
            "rows_per_min": round(s3.rows_read / s3_seconds * 60),
            "rows_stored": s3.rows_stored,
            "periods": len(s3.periods_imported),
        },
        "local": {
            "seconds": round(local_seconds, 2),
            "rows_per_min": round(local.rows_read / local_seconds * 60),
            "rows_stored": local.rows_stored,
            "periods": len(local.periods_imported),
        },
        "same_totals": s3.totals == local.totals,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--gzip", action="store_true", help="CSV.gz (default: plain CSV)")
    parser.add_argument("--database-url", default="sqlite")
    args = parser.parse_args()

    import boto3
    from focus_gen import write
    from moto.server import ThreadedMotoServer

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": KEY_SECRET,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory(prefix="xplorr-bench-aws-") as name:
            tmp = Path(name)
            export = tmp / ("focus.csv.gz" if args.gzip else "focus.csv")
            write(export, rows=args.rows, fmt="csv", gzip=args.gzip)
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=KEY_ID,
                aws_secret_access_key=KEY_SECRET,
            )
            s3.create_bucket(Bucket=BUCKET)
            s3.upload_file(
                str(export), BUCKET, f"exports/bench/data/2026-01-31T06:00:00Z-run/{export.name}"
            )
            result = asyncio.run(_run(args, tmp, endpoint, export))
    finally:
        server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
