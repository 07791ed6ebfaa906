"""Auto Scaling: DescribeAutoScalingGroups and DescribeLaunchConfigurations.

get_* call AWS; parse_* are pure transforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors
from imdsguard.aws.instances import parse_explicit_tokens, parse_metadata_options
from imdsguard.model.launch import GroupRecord, LaunchConfiguration, TemplateRef

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

ASG_PAGE_SIZE = 100  # DescribeAutoScalingGroups MaxRecords maximum


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
        image_id=raw.get("ImageId") or None,
        explicit_tokens=parse_explicit_tokens(metadata),
    )


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
