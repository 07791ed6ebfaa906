"""CloudWatch adapter: MetadataNoToken usage per instance, read with batched GetMetricData."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors
from imdsguard.model.remediation import Usage

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

# GetMetricData accepts at most 500 queries per call (docs/aws-behaviour.md#rate-limits).
BATCH = 500
# One-hour points stay available for 455 days, so any lookback fits; the point count per
# call can exceed 100,800, which GetMetricData pages with NextToken (the paginator follows).
PERIOD = 3600


def _query(index: int, instance_id: str) -> MetricDataQueryTypeDef:
    # moto ignores Namespace when Dimensions are given (docs/aws-behaviour.md#the-emulator):
    # harmless here, since
    # only AWS/EC2 publishes MetadataNoToken; real CloudWatch honours the Namespace.
    return {
        "Id": f"q{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/EC2",
                "MetricName": "MetadataNoToken",
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            },
            "Period": PERIOD,
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
    paginator = client.get_paginator("get_metric_data")
    for batch in _batches(list(instance_ids)):
        points: dict[str, tuple[list[datetime], list[float], str]] = {}
        with aws_errors("GetMetricData"):
            pages = paginator.paginate(
                MetricDataQueries=[_query(i, iid) for i, iid in enumerate(batch)],
                StartTime=start,
                EndTime=end,
            )
            for page in pages:
                _merge(points, page.get("MetricDataResults", []))
        for index, instance_id in enumerate(batch):
            # A query the replies never mention was not answered: unknown, not clean.
            stamps, values, status = points.get(f"q{index}", ([], [], "missing from the reply"))
            usage[instance_id] = summarize(stamps, values, status)
    return usage


def _merge(points: dict[str, tuple[list[datetime], list[float], str]], results: Any) -> None:
    for result in results:
        stamps, values, _ = points.setdefault(result["Id"], ([], [], "Complete"))
        stamps.extend(result.get("Timestamps", []))
        values.extend(result.get("Values", []))
        points[result["Id"]] = (stamps, values, str(result.get("StatusCode", "Complete")))
