"""Words every report shares about a finding: title, ARN, short detail, remediation, id."""

from __future__ import annotations

from dataclasses import dataclass

from imdsguard.model.kinds import BY_TYPE, KINDS, LAUNCH_GUIDE
from imdsguard.model.scan import ALL_REGIONS, Finding, ScopeOutcome
from imdsguard.report.details import details


@dataclass(frozen=True, slots=True)
class KindText:
    noun: str
    title: str
    remediation: str
    url: str


KIND_TEXTS: dict[str, KindText] = {
    k.resource_type: KindText(k.noun, k.title, k.remediation, k.guide) for k in KINDS
}

_GENERIC = KindText(
    "resource",
    "Resources should require IMDSv2",
    "Require IMDSv2 (HttpTokens=required) for this resource.",
    LAUNCH_GUIDE,
)

SCOPE_ERROR_TITLE = "Account or Region could not be audited"
SCOPE_ERROR_REMEDIATION = (
    "Grant the scanning role read access (ec2:Describe*, autoscaling:Describe*) in this "
    "account and Region, or check that the Region is enabled, then scan again."
)


def kind(resource_type: str) -> KindText:
    return KIND_TEXTS.get(resource_type, _GENERIC)


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


def resource_arn(finding: Finding, partition: str) -> str:
    """The resource's ARN where AWS defines one; otherwise an account-scoped identifier."""
    s = finding.scope
    kind_ = BY_TYPE.get(finding.resource_type)
    if kind_ is None or kind_.arn is None:
        return f"AWS::::Account:{s.account_id}"
    return kind_.arn.format(
        partition=partition, region=s.region, account=s.account_id, id=finding.resource_id
    )
