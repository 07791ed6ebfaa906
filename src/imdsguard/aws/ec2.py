"""EC2 adapters: Regions, instances, AMIs, IMDS defaults. get_* call AWS; parse_* are pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors
from imdsguard.errors import AwsError
from imdsguard.model.launch import AccountImdsDefaults, Image
from imdsguard.model.scan import Instance, MetadataOptions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

# DescribeInstances with MaxResults stays in the paginated bucket (100, +20/s) instead of
# the unpaginated one (50, +10/s). See docs/aws-behaviour.md#rate-limits.
PAGE_SIZE = 1000
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


def parse_metadata_options(raw: Mapping[str, Any] | None) -> MetadataOptions:
    """Pure: MetadataOptions dict -> dataclass, filling documented defaults."""
    raw = raw or {}
    default = MetadataOptions()
    return MetadataOptions(
        http_tokens=str(raw.get("HttpTokens", default.http_tokens)),
        http_endpoint=str(raw.get("HttpEndpoint", default.http_endpoint)),
        hop_limit=int(raw.get("HttpPutResponseHopLimit", default.hop_limit)),
        state=str(raw.get("State", default.state)),
        http_protocol_ipv6=str(raw.get("HttpProtocolIpv6", default.http_protocol_ipv6)),
        instance_metadata_tags=str(raw.get("InstanceMetadataTags", default.instance_metadata_tags)),
    )


def parse_tags(raw: Any) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in raw or () if "Key" in t}


def parse_instance(raw: Mapping[str, Any]) -> Instance:
    """Pure: one DescribeInstances instance dict -> Instance."""
    tags = parse_tags(raw.get("Tags"))
    launch_time = raw.get("LaunchTime")
    profile = raw.get("IamInstanceProfile") or {}
    return Instance(
        instance_id=str(raw["InstanceId"]),
        instance_state=str((raw.get("State") or {}).get("Name", "unknown")),
        metadata=parse_metadata_options(raw.get("MetadataOptions")),
        name=tags.get("Name"),
        iam_instance_profile=profile.get("Arn"),
        launch_time=launch_time if isinstance(launch_time, datetime) else None,
        image_id=raw.get("ImageId"),
        instance_type=raw.get("InstanceType"),
        tags=tags,
    )


def get_instances(client: EC2Client) -> Iterator[Instance]:
    """Stream every instance in the client's Region, page by page."""
    paginator = client.get_paginator("describe_instances")
    with aws_errors("DescribeInstances"):
        for page in paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
            for reservation in page.get("Reservations", []):
                for raw in reservation.get("Instances", []):
                    yield parse_instance(raw)


def get_instance(client: EC2Client, instance_id: str) -> Instance | None:
    """Re-read one instance; ``None`` if AWS no longer knows it."""
    try:
        with aws_errors("DescribeInstances"):
            reply = client.describe_instances(InstanceIds=[instance_id])
    except AwsError as exc:
        if exc.code == "InvalidInstanceID.NotFound":
            return None
        raise
    for reservation in reply.get("Reservations", []):
        for raw in reservation.get("Instances", []):
            return parse_instance(raw)
    return None


def parse_image(raw: Mapping[str, Any]) -> Image:
    """Pure: one DescribeImages entry -> Image."""
    return Image(
        image_id=str(raw["ImageId"]),
        name=raw.get("Name"),
        imds_support=raw.get("ImdsSupport"),
        state=str(raw.get("State", "available")),
        creation_date=raw.get("CreationDate"),
    )


def get_owned_images(client: EC2Client) -> Iterator[Image]:
    """Every AMI the account owns in the client's Region (DescribeImages has no
    ImdsSupport filter, docs/aws-behaviour.md#the-api, so each one is judged client-side)."""
    paginator = client.get_paginator("describe_images")
    with aws_errors("DescribeImages"):
        for page in paginator.paginate(Owners=["self"], PaginationConfig={"PageSize": PAGE_SIZE}):
            for raw in page.get("Images", []):
                yield parse_image(raw)


def _preference(value: Any) -> str | None:
    """``no-preference`` (or absent) means the defaults leave the choice to the next rule."""
    return None if value in (None, "", "no-preference") else str(value)


def parse_account_defaults(raw: Mapping[str, Any], region: str) -> AccountImdsDefaults:
    """Pure: a GetInstanceMetadataDefaults reply -> AccountImdsDefaults.

    The botocore model puts ManagedBy/ManagedExceptionMessage inside AccountLevel, but
    AWS's own documentation example shows them at the top level, so both are read.
    """
    level = raw.get("AccountLevel") or {}
    hop = level.get("HttpPutResponseHopLimit")
    return AccountImdsDefaults(
        region=region,
        http_tokens=_preference(level.get("HttpTokens")),
        http_endpoint=_preference(level.get("HttpEndpoint")),
        hop_limit=int(hop) if hop not in (None, -1) else None,
        instance_metadata_tags=_preference(level.get("InstanceMetadataTags")),
        http_tokens_enforced=_preference(level.get("HttpTokensEnforced")),
        managed_by=level.get("ManagedBy") or raw.get("ManagedBy"),
        managed_exception_message=level.get("ManagedExceptionMessage")
        or raw.get("ManagedExceptionMessage"),
    )


def get_account_defaults(client: EC2Client, region: str) -> AccountImdsDefaults:
    """The account's IMDS defaults in ``region``; a failed read raises (never 'no findings')."""
    with aws_errors("GetInstanceMetadataDefaults"):
        reply = client.get_instance_metadata_defaults()
    return parse_account_defaults(reply, region)
