"""The sample estate the demo seeds: a declarative fleet, and the code that plants it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.demo.launch_fleet import DEMO_AMI, seed_launch_settings
from imdsguard.model.scan import HttpTokens, Switch

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import TagTypeDef

DEMO_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
DEMO_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True, slots=True)
class Group:
    """``count`` identical instances of one workload."""

    name: str
    count: int
    tokens: HttpTokens = "optional"
    endpoint: Switch = "enabled"
    hop_limit: int = 1
    role: bool = False
    then: str = "run"  # run | stop | terminate
    imdsv1_calls: int | None = None  # MetadataNoToken sum to publish; None = no data points
    tags: dict[str, str] = field(default_factory=dict)


SAMPLE: tuple[Group, ...] = (
    Group("web", 3, tokens="required", role=True, imdsv1_calls=None),
    Group("legacy-billing", 1, role=True, imdsv1_calls=42),
    Group("reporting", 2, role=True, imdsv1_calls=0),
    Group("eks-node", 2, imdsv1_calls=0, tags={"eks:cluster-name": "prod"}),
    Group("batch", 1, then="stop"),
    Group("bastion", 1, endpoint="disabled"),
    Group("decommissioned", 1, then="terminate"),
)


def _instance_profile(factory: SessionFactory, access: AccountAccess) -> str:
    iam = factory.iam(access)
    existing = iam.list_instance_profiles()["InstanceProfiles"]
    if existing:
        return existing[0]["Arn"]
    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName="app-profile")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app-role")
    return profile["Arn"]


def seed_scope(
    factory: SessionFactory, access: AccountAccess, region: str, groups: tuple[Group, ...] = SAMPLE
) -> list[str]:
    """Launch ``groups`` in one account and Region; return the instance ids."""
    ec2 = factory.ec2(access, region)
    cloudwatch = factory.cloudwatch(access, region)
    # IAM only when a group needs a role: an organization's many accounts need none.
    profile_arn = _instance_profile(factory, access) if any(g.role for g in groups) else ""
    ids: list[str] = []
    now = datetime.now(UTC)
    for group in groups:
        tags: list[TagTypeDef] = [{"Key": "Name", "Value": group.name}]
        tags += [{"Key": k, "Value": v} for k, v in group.tags.items()]
        kwargs = {}
        if group.role:
            kwargs["IamInstanceProfile"] = {"Arn": profile_arn}
        reply = ec2.run_instances(
            ImageId=DEMO_AMI,
            InstanceType="t3.micro",
            MinCount=group.count,
            MaxCount=group.count,
            MetadataOptions={
                "HttpTokens": group.tokens,
                "HttpEndpoint": group.endpoint,
                "HttpPutResponseHopLimit": group.hop_limit,
            },
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            **kwargs,  # type: ignore[arg-type]
        )
        group_ids = [i["InstanceId"] for i in reply["Instances"]]
        ids.extend(group_ids)
        if group.then == "stop":
            ec2.stop_instances(InstanceIds=group_ids)
        elif group.then == "terminate":
            ec2.terminate_instances(InstanceIds=group_ids)
        if group.imdsv1_calls is not None:
            cloudwatch.put_metric_data(
                Namespace="AWS/EC2",
                MetricData=[
                    {
                        "MetricName": "MetadataNoToken",
                        "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                        "Timestamp": now - timedelta(hours=3),
                        "Value": float(group.imdsv1_calls),
                        "Unit": "None",
                    }
                    for iid in group_ids
                ],
            )
    return ids


def seed_estate(factory: SessionFactory) -> list[str]:
    """An organization of two accounts; the sample fleet and launch settings in three Regions."""
    org = factory.organizations()
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="workloads", Email="workloads@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]
    own = AccountAccess(factory.identity().account_id)
    accounts = [own, factory.assume(member_id, DEMO_ROLE, None)]
    for access in accounts:
        for region in DEMO_REGIONS:
            seed_scope(factory, access, region)
        # Launch settings in one Region per account keep the demo fast; account defaults
        # are required only in the caller's, so every other Region's defaults FAIL.
        seed_launch_settings(
            factory, access, DEMO_REGIONS[0], defaults_required=access is accounts[0]
        )
    return [a.account_id for a in accounts]
