"""MetadataNoTokenRejected after a change: counted from each change, batched, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imdsguard.aws.cloudwatch import (
    MAX_POINTS,
    get_rejections,
    rejection_period,
    summarize_rejections,
)
from imdsguard.aws.session import SessionFactory
from imdsguard.errors import AwsError
from tests.conftest import own
from tests.faultproxy import FaultProxy, deny
from tests.remediation_helpers import put_rejected

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("points", "status", "expected"),
    [
        ([(T0, 0.0), (T0 + timedelta(minutes=1), 0.0)], "Complete", ("none", 0.0, 2)),
        ([], "Complete", ("none", 0.0, 0)),
        ([(T0, 2.0), (T0 + timedelta(minutes=5), 3.0)], "Complete", ("rejected", 5.0, 2)),
        ([(T0, 1.0)], "PartialData", ("rejected", 1.0, 1)),
        # Not read to the end, nothing seen yet: unknown, never "none".
        ([(T0, 0.0)], "PartialData", ("unknown", 0.0, 0)),
        ([(T0, 4.0)], "InternalError", ("unknown", 0.0, 0)),
        ([], "missing from the reply", ("unknown", 0.0, 0)),
    ],
)
def test_summarize_rejections(
    points: list[tuple[datetime, float]], status: str, expected: tuple[str, float, int]
) -> None:
    seen = summarize_rejections(points, status)
    assert (seen.status, seen.count, seen.datapoints) == expected
    assert (seen.error is None) == (seen.status != "unknown")
    if seen.status == "rejected":
        assert seen.first_seen == min(t for t, v in points if v > 0)
        assert seen.last_seen == max(t for t, v in points if v > 0)


@pytest.mark.parametrize(
    ("age", "window", "period"),
    [
        (timedelta(minutes=30), timedelta(minutes=30), 60),
        (timedelta(hours=3), timedelta(hours=3), 60),  # 180 points
        (timedelta(hours=4), timedelta(hours=4), 120),  # 240 one-minute points: coarser
        (timedelta(days=20), timedelta(hours=1), 300),  # 1-minute points are gone
        (timedelta(days=100), timedelta(days=100), 3600 * 12),
    ],
)
def test_period_fits_retention_and_one_reply(
    age: timedelta, window: timedelta, period: int
) -> None:
    now = T0
    start = now - age
    chosen = rejection_period(start, start + window, now)
    assert chosen == period
    assert window.total_seconds() / chosen <= MAX_POINTS
    assert 500 * MAX_POINTS <= 100_800  # one GetMetricData reply holds a whole batch


def test_counts_only_refusals_after_each_change(factory: SessionFactory) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    changed = {"i-0000000000000000a": now - timedelta(minutes=30)}
    changed["i-0000000000000000b"] = now - timedelta(minutes=10)
    put_rejected(factory, "us-east-1", "i-0000000000000000a", now - timedelta(minutes=20), 3.0)
    # Refused 20 minutes ago: before b's change, so not b's doing after it.
    put_rejected(factory, "us-east-1", "i-0000000000000000b", now - timedelta(minutes=20), 7.0)
    put_rejected(factory, "us-east-1", "i-0000000000000000b", now - timedelta(minutes=5), 2.0)
    seen = get_rejections(
        factory.cloudwatch(own(factory), "us-east-1"), changed, now + timedelta(minutes=1)
    )
    assert seen["i-0000000000000000a"].status == "rejected"
    assert seen["i-0000000000000000a"].count == 3.0
    assert seen["i-0000000000000000b"].count == 2.0
    assert seen["i-0000000000000000b"].first_seen == now - timedelta(minutes=5)


def test_a_quiet_instance_is_none_not_rejected(factory: SessionFactory) -> None:
    now = datetime.now(UTC)
    seen = get_rejections(
        factory.cloudwatch(own(factory), "us-east-1"), {"i-0000000000000000c": now}, now
    )
    assert seen["i-0000000000000000c"].status == "none"


def test_one_call_per_500_instances(proxied_factory: SessionFactory, proxy: FaultProxy) -> None:
    now = datetime.now(UTC)
    since = {f"i-{n:017x}": now - timedelta(minutes=n % 50) for n in range(1000)}
    client = proxied_factory.cloudwatch(own(proxied_factory), "us-east-1")
    seen = get_rejections(client, since, now)
    assert proxy.calls[("GetMetricData", "us-east-1")] == 2
    assert set(seen) == set(since)


def test_unreadable_metrics_raise(proxied_factory: SessionFactory, proxy: FaultProxy) -> None:
    proxy.rules.append(deny("GetMetricData", frozenset({"us-east-1"})))
    client = proxied_factory.cloudwatch(own(proxied_factory), "us-east-1")
    with pytest.raises(AwsError) as raised:
        get_rejections(client, {"i-0000000000000000d": datetime.now(UTC)})
    assert raised.value.code == "UnauthorizedOperation"
