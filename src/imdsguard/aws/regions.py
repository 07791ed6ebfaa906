"""EC2 DescribeRegions: the account's Regions and their opt-in status, per partition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})


def get_region_opt_in(client: EC2Client) -> dict[str, str]:
    """Every Region of the endpoint's partition with its opt-in status."""
    with aws_errors("DescribeRegions"):
        regions = client.describe_regions(AllRegions=True)["Regions"]
    return {r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") for r in regions}


def enabled_regions(opt_in: Mapping[str, str], partition_of: Any, partition: str) -> list[str]:
    """Pure: the enabled Regions of ``partition`` (moto mixes in cn/gov).

    A Region this botocore cannot place (``None``, e.g. one newer than the installed
    endpoint data) is kept: scanning it may fail, and that failure is a scope error,
    whereas dropping it would silently leave an enabled Region unaudited.
    """
    return sorted(
        name
        for name, status in opt_in.items()
        if status in ENABLED_OPT_IN and partition_of(name) in (partition, None)
    )
