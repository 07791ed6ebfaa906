"""Words every report shares about a finding: title, ARN, short detail, remediation, id."""

from __future__ import annotations

from dataclasses import dataclass

from imdsguard.model.scan import ALL_REGIONS, Finding, ScopeOutcome
from imdsguard.report.details import details
from imdsguard.rules import compliance as c

# Where a reader learns how to fix each kind; the AWS user guide page for the setting.
_IMDS_GUIDE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html"
)
_NEW_GUIDE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html"
)


@dataclass(frozen=True, slots=True)
class KindText:
    noun: str
    title: str
    remediation: str
    url: str


KINDS: dict[str, KindText] = {
    c.INSTANCE: KindText(
        "EC2 instance",
        "EC2 instances should use IMDSv2",
        "Set HttpTokens=required (imdsguard fix, or ModifyInstanceMetadataOptions) once "
        "MetadataNoToken shows no IMDSv1 callers; no reboot is needed.",
        _IMDS_GUIDE,
    ),
    c.LAUNCH_TEMPLATE: KindText(
        "launch template",
        "EC2 launch templates should require IMDSv2",
        "Create a launch template version with MetadataOptions.HttpTokens=required and make "
        "it the default version.",
        _NEW_GUIDE,
    ),
    c.LAUNCH_CONFIGURATION: KindText(
        "launch configuration",
        "Auto Scaling launch configurations should require IMDSv2",
        "Launch configurations cannot be changed: move the Auto Scaling group to a launch "
        "template that requires IMDSv2.",
        _NEW_GUIDE,
    ),
    c.AUTO_SCALING_GROUP: KindText(
        "Auto Scaling group",
        "Auto Scaling groups should launch instances that require IMDSv2",
        "Point the group at a launch template version that requires IMDSv2.",
        _NEW_GUIDE,
    ),
    c.IMAGE: KindText(
        "AMI",
        "AMIs should be registered with ImdsSupport v2.0",
        "Set ImdsSupport=v2.0 with ModifyImageAttribute (irreversible) once the software in "
        "the image uses IMDSv2.",
        _NEW_GUIDE,
    ),
    c.ACCOUNT_DEFAULTS: KindText(
        "account IMDS defaults",
        "Account-level IMDS defaults should require IMDSv2",
        "Set the Region's account defaults with ModifyInstanceMetadataDefaults "
        "HttpTokens=required, then consider HttpTokensEnforced.",
        _NEW_GUIDE,
    ),
}

_GENERIC = KindText(
    "resource",
    "Resources should require IMDSv2",
    "Require IMDSv2 (HttpTokens=required) for this resource.",
    _NEW_GUIDE,
)

SCOPE_ERROR_TITLE = "Account or Region could not be audited"
SCOPE_ERROR_REMEDIATION = (
    "Grant the scanning role read access (ec2:Describe*, autoscaling:Describe*) in this "
    "account and Region, or check that the Region is enabled, then scan again."
)


def kind(resource_type: str) -> KindText:
    return KINDS.get(resource_type, _GENERIC)


def short_type(resource_type: str) -> str:
    return resource_type.removeprefix("Aws")


def short_detail(finding: Finding) -> str:
    """A compact per-kind summary of the evidence, e.g. 'running tokens=optional hops=1'."""
    return " ".join(details(finding).split())


def finding_uid(finding: Finding) -> str:
    """Stable across scans, so aggregators update one finding instead of piling up copies."""
    s = finding.scope
    return f"imdsguard/{s.account_id}/{s.region}/{finding.resource_type}/{finding.resource_id}"


def scope_uid(outcome: ScopeOutcome) -> str:
    return f"imdsguard/{outcome.account_id}/{outcome.region}/scope-error"


def scope_label(outcome: ScopeOutcome) -> str:
    region = "all Regions" if outcome.region == ALL_REGIONS else outcome.region
    return f"{outcome.account_id} {region}"


def resource_arn(finding: Finding, partition: str = "aws") -> str:
    """The resource's ARN where AWS defines one; otherwise an account-scoped identifier."""
    s, rid, kind_ = finding.scope, finding.resource_id, finding.resource_type
    ec2 = f"arn:{partition}:ec2:{s.region}:{s.account_id}"
    asg = f"arn:{partition}:autoscaling:{s.region}:{s.account_id}"
    arns = {
        c.INSTANCE: f"{ec2}:instance/{rid}",
        c.LAUNCH_TEMPLATE: f"{ec2}:launch-template/{rid}",
        c.IMAGE: f"arn:{partition}:ec2:{s.region}::image/{rid}",
        c.LAUNCH_CONFIGURATION: f"{asg}:launchConfiguration:*:launchConfigurationName/{rid}",
        c.AUTO_SCALING_GROUP: f"{asg}:autoScalingGroup:*:autoScalingGroupName/{rid}",
    }
    return arns.get(kind_, f"AWS::::Account:{s.account_id}")
