"""Usage evidence: MetadataNoToken summaries, batching, and unreadable metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imdsguard.aws.cloudwatch import get_usage, summarize
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.options import EvaluationOptions, PlanOptions, ScopeOptions
from imdsguard.plan.evidence import gather
from imdsguard.scan import run_scan
from tests.conftest import own, seed
from tests.faultproxy import FaultProxy, deny

T1 = datetime(2026, 11, 1, 10, tzinfo=UTC)
T2 = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamps", "values", "status", "expected"),
    [
        ([T1, T2], [0.0, 0.0], "Complete", ("clean", 0.0, None)),
        ([T1, T2], [3.0, 0.0], "Complete", ("in-use", 3.0, T1)),
        ([T1, T2], [3.0, 4.0], "PartialData", ("in-use", 7.0, T2)),
        # The window was not read to its end: no calls so far proves nothing.
        ([T1, T2], [0.0, 0.0], "PartialData", ("unknown", 0.0, None)),
        ([], [], "Complete", ("unknown", 0.0, None)),
        ([T1], [0.0], "InternalError", ("unknown", 0.0, None)),
        ([T1], [0.0], "Forbidden", ("unknown", 0.0, None)),
    ],
)
def test_summarize(
    stamps: list[datetime],
    values: list[float],
    status: str,
    expected: tuple[str, float, datetime | None],
) -> None:
    usage = summarize(stamps, values, status)
    assert (usage.status, usage.calls, usage.last_seen) == expected
    assert (usage.error is None) == (usage.status != "unknown")


def test_queries_are_batched_500_per_call(
    proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    ids = [f"i-{n:017x}" for n in range(1001)]
    client = proxied_factory.cloudwatch(own(proxied_factory), "us-east-1")
    usage = get_usage(client, ids, 14)
    assert proxy.calls[("GetMetricData", "us-east-1")] == 3
    assert len(usage) == 1001
    assert {u.status for u in usage.values()} == {"unknown"}  # no data is never clean


def test_unreadable_metric_holds_candidates_and_marks_the_scope(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    [iid] = seed(factory, "eu-west-1", Group("app", 1, imdsv1_calls=0))
    proxy.rules.append(deny("GetMetricData", frozenset({"eu-west-1"})))
    scopes = ScopeOptions(regions=("eu-west-1",))
    scan = run_scan(proxied_factory, scopes, EvaluationOptions())
    evidence = gather(proxied_factory, scan, scopes, PlanOptions())
    [(scope, usage)] = evidence.usage.items()
    assert scope[1] == iid
    assert usage.status == "unknown"
    assert "UnauthorizedOperation" in (usage.error or "")
    [(_, error)] = evidence.errors
    assert error.startswith("evidence:")
