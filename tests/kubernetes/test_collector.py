"""The shipped collector script (deploy/charts/xplorr-collector/files/collect.sh), run as the
CronJob runs it, against a local server speaking OpenCost's API and the real API served by
uvicorn over HTTP (in a thread of this process: a child ``xplorr serve`` costs 30 s to start on
a loaded CI machine, for the same application)."""

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import make_settings
from tests.factories.kubernetes import make_cluster
from tests.kubernetes.opencost_double import (
    allocation,
    allocation_range,
    asset_set,
    idle,
    opencost_server,
    vector,
)
from tests.process import REPO, free_port
from xplorr.app import create_app
from xplorr.core.settings import Settings
from xplorr.kubernetes.models import (
    KubernetesAllocation,
    KubernetesAsset,
    KubernetesCluster,
    KubernetesUsage,
)
from xplorr.orgs.models import Org

CHART = REPO / "deploy" / "charts" / "xplorr-collector"
SCRIPT = CHART / "files" / "collect.sh"


@contextmanager
def uvicorn_server(settings: Settings) -> Iterator[str]:
    """``create_app(settings)`` served by uvicorn on a free port, in a thread with its own
    event loop (and so its own database engine)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "TMPDIR"}}
    return subprocess.run(
        ["sh", str(SCRIPT)], env=base | env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
async def test_the_collector_posts_allocations_and_each_days_assets(
    db_url: str, tmp_path: Path, db: AsyncSession, org: Org
) -> None:
    cluster, token = await make_cluster(db, org, name="prod")
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=i) for i in (2, 1, 0)]
    allocations = [
        [
            allocation(d, namespace="shop", pod="api-1", controller="api", total="1.10001"),
            allocation(d, namespace="data", pod="pg-0", controller_kind="statefulset", total="2.2"),
            idle(d, "0.70002"),
        ]
        for d in days
    ]
    # The oldest day has no assets: an OpenCost without them still yields the allocations.
    assets = {d.isoformat(): asset_set(d, {"node-a": "1.5"}) for d in days[1:]}
    promql: list[str] = []

    def prometheus(query: str) -> dict[str, object]:
        promql.append(query)
        return vector({("shop", "api-1", "api"): "0.25"})

    with (
        opencost_server(allocation_range(allocations), assets, prometheus) as opencost,
        uvicorn_server(make_settings(db_url, tmp_path)) as url,
    ):
        env = {
            "OPENCOST_URL": opencost.url,
            "XPLORR_INGEST_URL": f"{url}/api/v1/kubernetes/ingest/{cluster.id}",
            "XPLORR_INGEST_TOKEN": token,
            "WINDOW_DAYS": "3",
            "PROMETHEUS_URL": opencost.url,
        }
        done = _run(env)
        assert done.returncode == 0, done.stderr
        refused = _run(env | {"XPLORR_INGEST_TOKEN": "xpk8s_not-this-one"})

    # Call 1 exactly as section 26 documents it; call 2 once per day, midnight to midnight.
    path, query = opencost.requests[0]
    assert (path, {k: v[0] for k, v in query.items()}) == (
        "/allocation",
        {
            "window": "3d",
            "aggregate": "namespace,controllerKind,controller,pod",
            "step": "1d",
            "accumulate": "false",
            "includeIdle": "true",
            "shareIdle": "false",
        },
    )
    windows = [q["window"][0] for p, q in opencost.requests[1:4]]
    assert [w[:20] for w in windows] == [f"{d.isoformat()}T00:00:00Z" for d in days]
    assert windows[0].endswith(f",{days[1].isoformat()}T00:00:00Z")
    assert "not posted" not in done.stderr
    assert f"OpenCost /assets failed for {days[0].isoformat()}" in done.stderr

    total = await db.scalar(
        select(func.sum(KubernetesAllocation.total_cost)).where(
            KubernetesAllocation.cluster_id == cluster.id
        )
    )
    assert Decimal(total) == Decimal("4.00003") * 3
    asset_days = await db.scalars(
        select(KubernetesAsset.day).where(KubernetesAsset.cluster_id == cluster.id).distinct()
    )
    assert sorted(asset_days) == days[1:]
    stored = await db.get(KubernetesCluster, cluster.id, populate_existing=True)
    assert stored is not None
    assert stored.last_post_at is not None
    assert stored.last_assets_post_at is not None

    # Prometheus: nine figures per day, each stored for its day.
    assert len(promql) == 27
    assert "quantile_over_time(0.95, (sum by (namespace,pod,container) (rate(" in promql[1]
    usage = await db.execute(
        select(KubernetesUsage.day, func.count()).group_by(KubernetesUsage.day)
    )
    assert sorted(usage.all()) == [(d, 9) for d in days]

    # A wrong token fails the run (the Job is retried) and says why.
    assert refused.returncode != 0
    assert "UNAUTHORIZED" in refused.stderr


def test_the_chart_runs_the_script_hourly_with_the_documented_defaults() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["name"] == "xplorr-collector"
    assert values["schedule"] == "0 * * * *"
    assert values["windowDays"] == 3
    assert values["backoffLimit"] == 3
    assert (values["image"]["repository"], values["image"]["tag"]) == ("curlimages/curl", "8.22.0")
    cronjob = (CHART / "templates" / "cronjob.yaml").read_text()
    assert "concurrencyPolicy: Forbid" in cronjob
    assert "/scripts/collect.sh" in cronjob
    assert '.Files.Get "files/collect.sh"' in (CHART / "templates" / "configmap.yaml").read_text()
