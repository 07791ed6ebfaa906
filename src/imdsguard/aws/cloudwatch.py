"""CloudWatch adapter, batched GetMetricData per instance: MetadataNoToken usage before a
change, MetadataNoTokenRejected refusals after it."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors
from imdsguard.model.remediation import Rejections, Usage

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

# GetMetricData accepts at most 500 queries per call (docs/aws-behaviour.md#rate-limits).
BATCH = 500
# One-hour points stay available for 455 days, so any lookback fits; the point count per
# call can exceed 100,800, which GetMetricData pages with NextToken (the paginator follows).
PERIOD = 3600


def _query(
    index: int, instance_id: str, metric: str = "MetadataNoToken", period: int = PERIOD
) -> MetricDataQueryTypeDef:
    # moto ignores Namespace when Dimensions are given (docs/aws-behaviour.md#the-emulator):
    # harmless here, since
    # only AWS/EC2 publishes MetadataNoToken; real CloudWatch honours the Namespace.
    return {
        "Id": f"q{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/EC2",
                "MetricName": metric,
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            },
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def _batches(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def summarize(timestamps: Sequence[datetime], values: Sequence[float], status: str) -> Usage:
    """Pure: one query's points -> Usage. No points, or a failed query, is never 'clean'."""
    if status not in ("Complete", "PartialData"):
        return Usage("unknown", error=f"GetMetricData status {status}")
    if not values:
        return Usage("unknown", error="no data points in the window")
    calls = float(sum(values))
    if status == "PartialData" and calls == 0:
        # CloudWatch marks a query PartialData while more of its points follow on a later
        # page; if that is its last word, part of the window was never read, so zero calls
        # so far proves nothing. (Calls seen are proof of use, read in full or not.)
        return Usage("unknown", error="GetMetricData ended with PartialData: points missing")
    used = [t for t, v in zip(timestamps, values, strict=False) if v > 0]
    last_seen = max(used).astimezone(UTC) if used else None
    return Usage("in-use" if calls > 0 else "clean", calls, len(values), last_seen)


def get_usage(
    client: CloudWatchClient, instance_ids: Sequence[str], lookback_days: int
) -> dict[str, Usage]:
    """MetadataNoToken summed over ``lookback_days`` for each instance; raises AwsError."""
    end = datetime.now(UTC)
    start = end - timedelta(days=lookback_days)
    usage: dict[str, Usage] = {}
    for batch in _batches(list(instance_ids)):
        queries = [_query(i, iid) for i, iid in enumerate(batch)]
        for instance_id, (stamps, values, status) in zip(
            batch, _read(client, queries, start, end), strict=True
        ):
            usage[instance_id] = summarize(stamps, values, status)
    return usage


Points = tuple[list[datetime], list[float], str]


def _read(
    client: CloudWatchClient,
    queries: list[MetricDataQueryTypeDef],
    start: datetime,
    end: datetime,
) -> list[Points]:
    """One batch's points per query, in query order; raises AwsError."""
    points: dict[str, Points] = {}
    with aws_errors("GetMetricData"):
        pages = client.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end
        )
        for page in pages:
            _merge(points, page.get("MetricDataResults", []))
    # A query the replies never mention was not answered: unknown, not clean.
    return [points.get(q["Id"], ([], [], "missing from the reply")) for q in queries]


def _merge(points: dict[str, Points], results: Any) -> None:
    for result in results:
        stamps, values, _ = points.setdefault(result["Id"], ([], [], "Complete"))
        stamps.extend(result.get("Timestamps", []))
        values.extend(result.get("Values", []))
        points[result["Id"]] = (stamps, values, str(result.get("StatusCode", "Complete")))


# At most this many points per query, so a batch of 500 fits one GetMetricData reply of
# 100,800 points and a poll of n instances costs ceil(n / 500) calls
# (docs/aws-behaviour.md#rate-limits).
MAX_POINTS = 200
DAY = 86400.0


def rejection_period(start: datetime, end: datetime, now: datetime) -> int:
    """The finest Period CloudWatch keeps for data as old as ``start``, coarse enough that
    the window has at most MAX_POINTS points: 1-minute points live 15 days, 5-minute 63
    days, 1-hour 455 days (docs/aws-behaviour.md#usage-metrics)."""
    age = (now - start).total_seconds()
    step = 60 if age <= 15 * DAY else 300 if age <= 63 * DAY else 3600
    window = max((end - start).total_seconds(), 1.0)
    return step * max(1, math.ceil(window / MAX_POINTS / step))


def get_rejections(
    client: CloudWatchClient,
    since: Mapping[str, datetime],
    until: datetime | None = None,
) -> dict[str, Rejections]:
    """MetadataNoTokenRejected for each instance from its ``since`` (its change) to
    ``until`` (now); raises AwsError. One GetMetricData call per 500 instances.

    Every query of a call shares its StartTime, the earliest change of the batch; a point
    counts for an instance if its period ends after that instance's change. Before its
    change an instance allowed IMDSv1, so nothing was refused then: a period that straddles
    the change counts only refusals made after it.
    """
    end = until or datetime.now(UTC)
    ids = sorted(since, key=lambda i: (since[i], i))
    result: dict[str, Rejections] = {}
    for batch in _batches(ids):
        start = min(since[i] for i in batch)
        # GetMetricData refuses an empty window; a poll right after a change reads a minute.
        stop = max(end, start + timedelta(seconds=60))
        period = rejection_period(start, stop, datetime.now(UTC))
        queries = [_query(i, iid, "MetadataNoTokenRejected", period) for i, iid in enumerate(batch)]
        for instance_id, (stamps, values, status) in zip(
            batch, _read(client, queries, start, stop), strict=True
        ):
            after = since[instance_id] - timedelta(seconds=period)
            kept = [(t, v) for t, v in zip(stamps, values, strict=False) if t > after]
            result[instance_id] = summarize_rejections(kept, status)
    return result


def summarize_rejections(points: Sequence[tuple[datetime, float]], status: str) -> Rejections:
    """Pure: one query's points after the change -> Rejections; a failed query is unknown."""
    if status not in ("Complete", "PartialData"):
        return Rejections("unknown", error=f"GetMetricData status {status}")
    count = float(sum(v for _, v in points))
    if status == "PartialData" and count == 0:
        # As for usage: PartialData as the last word means part of the window was unread.
        return Rejections("unknown", error="GetMetricData ended with PartialData: points missing")
    refused = sorted(t.astimezone(UTC) for t, v in points if v > 0)
    if not refused:
        return Rejections("none", 0.0, len(points))
    return Rejections("rejected", count, len(points), refused[0], refused[-1])


# DescribeAlarms takes at most 100 names per call, and answers composite alarms only if
# asked for them (docs/aws-behaviour.md#usage-metrics).
ALARM_BATCH = 100


def get_alarm_states(client: CloudWatchClient, names: Sequence[str]) -> dict[str, str]:
    """StateValue (OK, ALARM, INSUFFICIENT_DATA) of each named alarm, metric or
    composite, that exists; a name missing from the result does not exist. Raises AwsError."""
    states: dict[str, str] = {}
    unique = sorted(set(names))
    with aws_errors("DescribeAlarms"):
        for start in range(0, len(unique), ALARM_BATCH):
            pages = client.get_paginator("describe_alarms").paginate(
                AlarmNames=unique[start : start + ALARM_BATCH],
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            )
            for page in pages:
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    states[str(alarm["AlarmName"])] = str(alarm["StateValue"])
    return states
