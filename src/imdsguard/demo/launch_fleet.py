"""The demo's launch settings: templates, a launch configuration, groups, AMIs, defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imdsguard.aws.session import AccountAccess, SessionFactory

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

DEMO_AMI = "ami-0abcdef1234567890"  # moto does not check that AMIs exist


def _metadata(tokens: str | None, image_id: str = DEMO_AMI) -> dict[str, Any]:
    """Launch-template data; ``None`` leaves MetadataOptions out (AWS defaults apply)."""
    data: dict[str, Any] = {"ImageId": image_id, "InstanceType": "t3.micro"}
    if tokens is not None:
        data["MetadataOptions"] = {"HttpTokens": tokens, "HttpEndpoint": "enabled"}
    return data


def create_template(
    ec2: EC2Client, name: str, *tokens: str | None, default: int = 1, image_id: str = DEMO_AMI
) -> str:
    """A template whose versions 1..n have ``tokens``; ``default`` is made the default."""
    first, *rest = tokens
    reply = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData=_metadata(first, image_id),  # type: ignore[arg-type]
    )
    template_id = reply["LaunchTemplate"]["LaunchTemplateId"]
    for version_tokens in rest:
        # moto does not inherit SourceVersion (docs/aws-behaviour.md#the-emulator), so send the
        # full data.
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id,
            LaunchTemplateData=_metadata(version_tokens, image_id),  # type: ignore[arg-type]
        )
    if default != 1:
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(default))
    return template_id


def seed_launch_settings(
    factory: SessionFactory, access: AccountAccess, region: str, defaults_required: bool = False
) -> None:
    """One scope's worth of every launch-deciding kind, passing and failing."""
    ec2 = factory.ec2(access, region)
    autoscaling = factory.autoscaling(access, region)
    zones = [f"{region}a"]
    # Owned AMIs: one that asks for IMDSv2, one that does not. The launch configuration
    # uses the first, so its effective HttpTokens shows where each launch gets it from.
    golden = ec2.register_image(Name="golden-imdsv2", ImdsSupport="v2.0")["ImageId"]
    old = ec2.register_image(Name="golden-2019")["ImageId"]
    # Default v1 optional, latest v2 required: FAIL (Prowler would pass it).
    create_template(ec2, "web-lt", "optional", "required", image_id=old)
    api = create_template(ec2, "api-lt", "required", image_id=golden)
    # Default v1 required, but batch-asg is pinned to the optional v2: FAIL, naming the group.
    batch = create_template(ec2, "batch-lt", "required", "optional", "required", image_id=old)
    # No instances: moto's group instances would not inherit the template's
    # MetadataOptions (docs/aws-behaviour.md#the-emulator), so they would show a misleading IMDSv1
    # fleet.
    common: dict[str, Any] = {"MinSize": 0, "MaxSize": 2, "AvailabilityZones": zones}
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="batch-asg",
        LaunchTemplate={"LaunchTemplateId": batch, "Version": "2"},
        **common,
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="api-asg",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": api, "Version": "$Default"},
                "Overrides": [{"InstanceType": "t3.small"}],
            }
        },
        **common,
    )
    # No MetadataOptions: HttpTokens defaults to optional, and it can never be modified.
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="legacy-lc", ImageId=golden, InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="legacy-asg", LaunchConfigurationName="legacy-lc", **common
    )
    if defaults_required:
        ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpEndpoint="enabled")
