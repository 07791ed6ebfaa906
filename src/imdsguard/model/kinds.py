"""The one table of resource kinds: every name a kind goes by, its labels and its IAM actions.

A kind is named four ways, and each name is part of an output format, so none may change:
its ``--resources`` name (``amis``; also in JSON ``scan_options`` and the scan history), its
resource type (``AwsEc2Image``, the dataclass's ``RESOURCE_TYPE``; in every report), and its
plan kind (``image``; ``kind`` of plan-file and journal entries). Everything else that needs
one of these, or a label, derives it from ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from imdsguard.model.launch import (
    AccountImdsDefaults,
    AutoScalingGroup,
    Image,
    LaunchConfiguration,
    LaunchTemplate,
)
from imdsguard.model.scan import Instance, Resource

ResourceName = Literal[
    "instances",
    "launch-templates",
    "launch-configurations",
    "auto-scaling-groups",
    "amis",
    "account-defaults",
]
PlanKind = Literal[
    "instance",
    "launch-template",
    "launch-configuration",
    "auto-scaling-group",
    "image",
    "account-defaults",
]
Severity = Literal["Critical", "High", "Medium", "Low", "Informational"]
# "service:Operation". For every service imdsguard calls, the IAM prefix is botocore's
# service name and the IAM action is the API operation name (tests/test_kinds.py checks both
# against the code in aws/).
IamAction = str

# Where a reader learns how to fix each kind: the AWS user guide page for the setting.
INSTANCE_GUIDE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html"
)
LAUNCH_GUIDE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html"
)
_EC2 = "arn:{partition}:ec2:{region}:{account}"
_ASG = "arn:{partition}:autoscaling:{region}:{account}"


@dataclass(frozen=True, slots=True)
class Kind:
    """One resource kind a scan judges."""

    name: ResourceName
    model: type[Resource]
    # ``Change.kind`` / ``Hold.kind`` in plans and journals (migrations use it too).
    plan_kind: PlanKind
    # apply changes it (one applier in remediate/appliers); otherwise plan only advises.
    remediable: bool
    # Must every one pass before ``plan --enforce`` may set HttpTokensEnforced? Enforcement
    # makes each IMDSv1 launch fail (docs/aws-behaviour.md#the-api), so everything that
    # launches instances must already require tokens.
    gates_enforcement: bool
    severity: Severity
    label: str  # the table's Type column: short, so nothing else wraps
    noun: str  # "EC2 instance i-0abc: FAIL ..." in OCSF and ASFF
    counted: str  # "3 launch template(s)" in plan reasons
    title: str
    remediation: str
    guide: str
    # str.format template over partition, region, account and id; None: no AWS ARN exists.
    arn: str | None
    # What scan reads, and what apply re-reads, for this kind alone.
    reads: tuple[IamAction, ...]
    # What apply and rollback (and their DryRun checks) call to change it, reads included.
    writes: tuple[IamAction, ...] = ()
    # What the guardrail policy (guardrails.py) conditions besides ``writes``: how anyone
    # else brings IMDSv1 back with this kind. imdsguard never calls these.
    guarded: tuple[IamAction, ...] = ()

    @property
    def resource_type(self) -> str:
        return self.model.RESOURCE_TYPE

    @property
    def change_kind(self) -> PlanKind | None:
        """The kind of its changes, or None when imdsguard never changes it."""
        return self.plan_kind if self.remediable else None


# Severity: instance, template and launch configuration follow FSBP. The rest are our
# choice: an ASG keeps launching what its template says (between Low and High), account
# defaults decide every launch that sets nothing itself, and an AMI flag only sets a
# default that any template or launch parameter overrides.
INSTANCES = Kind(
    name="instances",
    model=Instance,
    plan_kind="instance",
    remediable=True,
    gates_enforcement=True,
    severity="High",
    label="Instance",
    noun="EC2 instance",
    counted="instance(s)",
    title="EC2 instances should use IMDSv2",
    remediation="Set HttpTokens=required (imdsguard fix, or ModifyInstanceMetadataOptions) "
    "once MetadataNoToken shows no IMDSv1 callers; no reboot is needed.",
    guide=INSTANCE_GUIDE,
    arn=_EC2 + ":instance/{id}",
    reads=("ec2:DescribeInstances",),
    writes=("ec2:ModifyInstanceMetadataOptions",),
    guarded=("ec2:RunInstances",),
)
LAUNCH_TEMPLATES = Kind(
    name="launch-templates",
    model=LaunchTemplate,
    plan_kind="launch-template",
    remediable=True,
    gates_enforcement=True,
    severity="Low",
    label="LaunchTemplate",
    noun="launch template",
    counted="launch template(s)",
    title="EC2 launch templates should require IMDSv2",
    remediation="Create a launch template version with MetadataOptions.HttpTokens=required "
    "and make it the default version.",
    guide=LAUNCH_GUIDE,
    arn=_EC2 + ":launch-template/{id}",
    # Groups are read too: a template is judged on the versions groups launch.
    reads=(
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribeLaunchTemplateVersions",
        "autoscaling:DescribeAutoScalingGroups",
    ),
    writes=("ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate"),
)
LAUNCH_CONFIGURATIONS = Kind(
    name="launch-configurations",
    model=LaunchConfiguration,
    plan_kind="launch-configuration",
    remediable=False,
    gates_enforcement=True,
    severity="High",
    label="LaunchConfig",
    noun="launch configuration",
    counted="launch configuration(s)",
    title="Auto Scaling launch configurations should require IMDSv2",
    remediation="Launch configurations cannot be changed: move the Auto Scaling group to a "
    "launch template that requires IMDSv2.",
    guide=LAUNCH_GUIDE,
    arn=_ASG + ":launchConfiguration:*:launchConfigurationName/{id}",
    reads=("autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeAutoScalingGroups"),
    guarded=("autoscaling:CreateLaunchConfiguration",),
)
AUTO_SCALING_GROUPS = Kind(
    name="auto-scaling-groups",
    model=AutoScalingGroup,
    plan_kind="auto-scaling-group",
    remediable=False,
    gates_enforcement=True,
    severity="Medium",
    label="ASG",
    noun="Auto Scaling group",
    counted="Auto Scaling group(s)",
    title="Auto Scaling groups should launch instances that require IMDSv2",
    remediation="Point the group at a launch template version that requires IMDSv2.",
    guide=LAUNCH_GUIDE,
    arn=_ASG + ":autoScalingGroup:*:autoScalingGroupName/{id}",
    # A group is judged on what it launches from: its templates and launch configurations.
    reads=(
        "autoscaling:DescribeAutoScalingGroups",
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribeLaunchTemplateVersions",
        "autoscaling:DescribeLaunchConfigurations",
    ),
    guarded=("autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup"),
)
AMIS = Kind(
    name="amis",
    model=Image,
    plan_kind="image",
    remediable=True,
    gates_enforcement=False,
    severity="Low",
    label="AMI",
    noun="AMI",
    counted="AMI(s)",
    title="AMIs should be registered with ImdsSupport v2.0",
    remediation="Set ImdsSupport=v2.0 with ModifyImageAttribute (irreversible) once the "
    "software in the image uses IMDSv2.",
    guide=LAUNCH_GUIDE,
    arn="arn:{partition}:ec2:{region}::image/{id}",
    reads=("ec2:DescribeImages",),
    # DescribeImageAttribute: apply's DryRun check reads the description to re-set it
    # (never ImdsSupport); scan never calls it, so it is not in the read-only policy.
    writes=("ec2:ModifyImageAttribute", "ec2:DescribeImageAttribute"),
)
ACCOUNT_DEFAULTS = Kind(
    name="account-defaults",
    model=AccountImdsDefaults,
    plan_kind="account-defaults",
    remediable=True,
    gates_enforcement=False,
    severity="Medium",
    label="AccountDefaults",
    noun="account IMDS defaults",
    counted="account default(s)",
    title="Account-level IMDS defaults should require IMDSv2",
    remediation="Set the Region's account defaults with ModifyInstanceMetadataDefaults "
    "HttpTokens=required, then consider HttpTokensEnforced.",
    guide=LAUNCH_GUIDE,
    arn=None,
    reads=("ec2:GetInstanceMetadataDefaults",),
    writes=("ec2:ModifyInstanceMetadataDefaults",),
)

# In --resources (and report) order.
KINDS: tuple[Kind, ...] = (
    INSTANCES,
    LAUNCH_TEMPLATES,
    LAUNCH_CONFIGURATIONS,
    AUTO_SCALING_GROUPS,
    AMIS,
    ACCOUNT_DEFAULTS,
)
RESOURCE_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
RESOURCE_TYPES: tuple[str, ...] = tuple(k.resource_type for k in KINDS)
BY_NAME: Mapping[str, Kind] = {k.name: k for k in KINDS}
BY_TYPE: Mapping[str, Kind] = {k.resource_type: k for k in KINDS}
# The kinds a plan's or journal's changes may have; each has one applier (remediate/appliers).
CHANGE_KINDS: tuple[PlanKind, ...] = tuple(k.plan_kind for k in KINDS if k.remediable)


# The commands whose AWS calls a generated policy covers (src/imdsguard/permissions/):
# plan also scans; publish is ``scan --security-hub``.
Stage = Literal["scan", "plan", "apply", "rollback", "publish"]


@dataclass(frozen=True, slots=True)
class Operation:
    """An AWS call that belongs to no one kind."""

    action: IamAction
    purpose: str
    # Which commands call it (the IAM-enforced tests in tests/test_permissions_iam.py
    # prove each command's policy is enough).
    stages: tuple[Stage, ...]
    # What fails without it (docs/permissions.md).
    without: str
    # Made only with the caller's own credentials, never in a member account's role.
    caller_only: bool = False


_EVERY_RUN: tuple[Stage, ...] = ("scan", "plan", "apply", "rollback")
_ACCOUNT = "every kind: the whole account is a scope error"
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "sts:GetCallerIdentity",
        "the caller's own account and partition",
        _EVERY_RUN,
        "nothing: AWS allows it to every principal",
    ),
    Operation(
        "sts:AssumeRole",
        "enter every other account (`--accounts`, `--organization`)",
        (*_EVERY_RUN, "publish"),
        _ACCOUNT + " (every account but the caller's)",
        caller_only=True,
    ),
    Operation(
        "organizations:ListAccounts",
        "`--organization`: the organization's accounts",
        ("scan", "plan"),
        "every kind: one scope error, nothing scanned",
        caller_only=True,
    ),
    Operation(
        "ec2:DescribeRegions",
        "each account's enabled Regions",
        ("scan", "plan"),
        _ACCOUNT + " (without `--regions`)",
    ),
    Operation(
        "cloudwatch:GetMetricData",
        "`plan`: IMDSv1 use (MetadataNoToken) per instance; `apply --waves`/`--soak` and "
        "`status`: IMDSv1 calls refused since each change (MetadataNoTokenRejected)",
        ("plan", "apply"),
        "`instances`: held as usage-unknown, and the scope is an error; a rollout halts",
    ),
    Operation(
        "cloudwatch:DescribeAlarms",
        "`apply --halt-on-alarm`: the alarms' states, in the caller's own account",
        ("apply",),
        "a rollout with `--halt-on-alarm` does not start",
        caller_only=True,
    ),
    # The launch kinds' evidence, not their verdicts: what a launch effectively gets
    # (docs/resources.md#what-a-launch-actually-gets). Without them it reads `unknown`.
    Operation(
        "ec2:DescribeImages",
        "read AMIs; `plan --container-hop-limit`: the instances' AMI names; `scan`: the AMIs "
        "launch settings use, for their effective HttpTokens",
        ("scan", "plan"),
        "`amis` (and `plan --container-hop-limit`'s AMI names; launch settings' "
        "`effective_http_tokens` is unknown)",
    ),
    Operation(
        "ec2:GetInstanceMetadataDefaults",
        "read account defaults; `scan`: the Region's account default, for launch settings' "
        "effective HttpTokens; `rollback`: whether the Region enforces IMDSv2, before "
        "setting instances back to optional",
        ("scan", "plan", "rollback"),
        "`account-defaults` (and launch settings' `effective_http_tokens` is unknown; "
        "`rollback` cannot check for enforcement, and says so)",
    ),
    Operation(
        "securityhub:BatchImportFindings",
        "`scan --security-hub`: import the findings",
        ("publish",),
        "no kind: the findings are not imported, exit 3",
    ),
)
