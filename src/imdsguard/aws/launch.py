"""Launch-template and Auto Scaling adapters. get_* call AWS; parse_* are pure transforms."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from imdsguard.aws.ec2 import parse_metadata_options
from imdsguard.aws.errors import aws_errors
from imdsguard.collect.launch import GroupRecord, TemplateRef, TemplateSummary, VersionRecord
from imdsguard.model.launch import LaunchConfiguration

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client

# DescribeLaunchTemplates accepts MaxResults 1-200. moto answers at most MaxResults (15 when
# unset) and never sends a NextToken (docs/aws-behaviour.md#the-emulator), so asking for the AWS
# maximum keeps
# up to 200 templates per Region visible in the emulator; AWS itself paginates.
TEMPLATE_PAGE_SIZE = 200
# moto also caps DescribeLaunchTemplateVersions at 15 when MaxResults is unset, and AWS
# refuses MaxResults together with explicit Versions, so explicit versions go in batches.
VERSION_BATCH = 15
VERSION_NOT_FOUND = "InvalidLaunchTemplateId.VersionNotFound"
ASG_PAGE_SIZE = 100  # DescribeAutoScalingGroups MaxRecords maximum


def parse_template(raw: Mapping[str, Any]) -> TemplateSummary:
    """Pure: one DescribeLaunchTemplates entry -> TemplateSummary."""
    return TemplateSummary(
        template_id=str(raw["LaunchTemplateId"]),
        name=raw.get("LaunchTemplateName"),
        default_version=int(raw.get("DefaultVersionNumber", 1)),
        latest_version=int(raw.get("LatestVersionNumber", 1)),
    )


def parse_template_version(raw: Mapping[str, Any]) -> VersionRecord:
    """Pure: one DescribeLaunchTemplateVersions entry -> VersionRecord."""
    metadata = (raw.get("LaunchTemplateData") or {}).get("MetadataOptions")
    return VersionRecord(
        template_id=str(raw["LaunchTemplateId"]),
        number=int(raw["VersionNumber"]),
        metadata=parse_metadata_options(metadata),
        metadata_specified=bool(metadata),
    )


def _ref(spec: Mapping[str, Any] | None, via: str) -> TemplateRef | None:
    if not spec or not (spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")):
        return None
    return TemplateRef(
        via=via,
        version=str(spec.get("Version") or "$Default"),
        template_id=spec.get("LaunchTemplateId"),
        template_name=spec.get("LaunchTemplateName"),
    )


def parse_group(raw: Mapping[str, Any]) -> GroupRecord:
    """Pure: one DescribeAutoScalingGroups entry -> GroupRecord.

    A group launches from a launch configuration, a launch template, or a
    MixedInstancesPolicy whose template any override may replace per instance type.
    """
    refs = [_ref(raw.get("LaunchTemplate"), "LaunchTemplate")]
    mixed = (raw.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    refs.append(_ref(mixed.get("LaunchTemplateSpecification"), "MixedInstancesPolicy"))
    refs.extend(
        _ref(o.get("LaunchTemplateSpecification"), "MixedInstancesPolicy.Overrides")
        for o in mixed.get("Overrides") or ()
    )
    unique = tuple(dict.fromkeys(r for r in refs if r is not None))
    return GroupRecord(
        name=str(raw["AutoScalingGroupName"]),
        launch_configuration=raw.get("LaunchConfigurationName") or None,
        templates=unique,
    )


def parse_launch_configuration(raw: Mapping[str, Any]) -> LaunchConfiguration:
    """Pure: one DescribeLaunchConfigurations entry -> LaunchConfiguration."""
    metadata = raw.get("MetadataOptions")
    created = raw.get("CreatedTime")
    return LaunchConfiguration(
        name=str(raw["LaunchConfigurationName"]),
        metadata=parse_metadata_options(metadata),
        metadata_specified=bool(metadata),
        created_time=created if isinstance(created, datetime) else None,
    )


def get_launch_templates(client: EC2Client) -> list[TemplateSummary]:
    """Every launch template in the client's Region, paginated."""
    paginator = client.get_paginator("describe_launch_templates")
    with aws_errors("DescribeLaunchTemplates"):
        return [
            parse_template(raw)
            for page in paginator.paginate(PaginationConfig={"PageSize": TEMPLATE_PAGE_SIZE})
            for raw in page.get("LaunchTemplates", [])
        ]


def get_template_versions(
    client: EC2Client, template_id: str, numbers: tuple[int, ...]
) -> list[VersionRecord]:
    """The given versions of one template; versions that no longer exist are left out.

    AWS fails the whole call if one explicit version was deleted (a group can still point
    at it); then each version is asked for alone so the others are still read.
    """
    records: list[VersionRecord] = []
    with aws_errors("DescribeLaunchTemplateVersions"):
        for start in range(0, len(numbers), VERSION_BATCH):
            batch = numbers[start : start + VERSION_BATCH]
            try:
                records.extend(_describe_versions(client, template_id, batch))
            except ClientError as exc:
                if _code(exc) != VERSION_NOT_FOUND:
                    raise
                records.extend(_versions_one_by_one(client, template_id, batch))
    return records


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe_versions(
    client: EC2Client, template_id: str, numbers: tuple[int, ...]
) -> Iterator[VersionRecord]:
    paginator = client.get_paginator("describe_launch_template_versions")
    pages = paginator.paginate(LaunchTemplateId=template_id, Versions=[str(n) for n in numbers])
    for page in pages:
        for raw in page.get("LaunchTemplateVersions", []):
            yield parse_template_version(raw)


def _versions_one_by_one(
    client: EC2Client, template_id: str, numbers: tuple[int, ...]
) -> list[VersionRecord]:
    records: list[VersionRecord] = []
    for number in numbers:
        try:
            records.extend(_describe_versions(client, template_id, (number,)))
        except ClientError as exc:
            if _code(exc) != VERSION_NOT_FOUND:
                raise
    return records


def get_auto_scaling_groups(client: AutoScalingClient) -> list[GroupRecord]:
    """Every Auto Scaling group in the client's Region, paginated."""
    paginator = client.get_paginator("describe_auto_scaling_groups")
    with aws_errors("DescribeAutoScalingGroups"):
        return [
            parse_group(raw)
            for page in paginator.paginate(PaginationConfig={"PageSize": ASG_PAGE_SIZE})
            for raw in page.get("AutoScalingGroups", [])
        ]


def get_launch_configurations(client: AutoScalingClient) -> list[LaunchConfiguration]:
    """Every launch configuration in the client's Region, paginated."""
    paginator = client.get_paginator("describe_launch_configurations")
    with aws_errors("DescribeLaunchConfigurations"):
        return [
            parse_launch_configuration(raw)
            for page in paginator.paginate(PaginationConfig={"PageSize": ASG_PAGE_SIZE})
            for raw in page.get("LaunchConfigurations", [])
        ]
