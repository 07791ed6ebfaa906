"""One fixed scan result for every report test: fixed ids and times, every status and kind."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from imdsguard.model.effective import EffectiveTokens
from imdsguard.model.findings import FindingList
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.launch import (
    AccountImdsDefaults,
    AutoScalingGroup,
    Image,
    LaunchConfiguration,
    LaunchSource,
    LaunchTemplate,
    TemplateVersion,
)
from imdsguard.model.scan import (
    ALL_REGIONS,
    Finding,
    HttpTokens,
    Instance,
    MetadataOptions,
    Resource,
    ScanResult,
    Scope,
    ScopeOutcome,
)
from imdsguard.options import EvaluationOptions
from imdsguard.rules import evaluate

GENERATED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
A = "111111111111"
B = "222222222222"
C = "333333333333"


def instance(iid: str, tokens: HttpTokens, name: str | None = None, **kw: object) -> Instance:
    return Instance(
        instance_id=iid,
        instance_state=str(kw.get("state", "running")),
        metadata=MetadataOptions(http_tokens=tokens, hop_limit=int(str(kw.get("hops", 1)))),
        name=name,
        iam_instance_profile=kw.get("role"),  # type: ignore[arg-type]
        launch_time=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
        image_id=AMI,
        instance_type="t3.micro",
    )


AMI = "ami-0123456789abcdef0"


def launch_template() -> LaunchTemplate:
    """Default v1 allows IMDSv1, but the Region's default makes its launches require tokens;
    v2 (latest) requires tokens itself; v1 is what web-asg launches."""
    optional, required = MetadataOptions(), MetadataOptions(http_tokens="required")
    return LaunchTemplate(
        template_id="lt-0aaa0000000000001",
        name="web-<lt>",
        default_version=1,
        latest_version=2,
        versions=(
            TemplateVersion(
                1,
                optional,
                metadata_specified=False,
                used_by=("web-asg",),
                image_id=AMI,
                effective=EffectiveTokens("required", "account-default"),
            ),
            TemplateVersion(
                2,
                required,
                metadata_specified=True,
                image_id="resolve:ssm:/golden/ami",
                effective=EffectiveTokens("required", "explicit"),
            ),
        ),
    )


# us-east-1 has no account default and the AMI no ImdsSupport: AWS's default decides.
AWS_DEFAULT = EffectiveTokens("optional", "aws-default")


def judged(scope: Scope, resource: Resource, strict: bool = False) -> Finding:
    """The real pure rule decides every sample verdict, so golden files show true output."""
    finding = evaluate(scope, resource, EvaluationOptions(strict_amis=strict))
    assert finding is not None
    return finding


def sample_result() -> ScanResult:
    a_eu, a_us, b_eu = Scope(A, "eu-west-1"), Scope(A, "us-east-1"), Scope(B, "eu-west-1")
    role = f"arn:aws:iam::{A}:instance-profile/web"
    findings = (
        judged(a_eu, instance("i-0aaa00000000000a1", "required", "web", role=role)),
        # Names with commas, quotes, newlines and markup test every escaping path.
        # "[/prod]" is rich markup syntax: a report must print it, never parse it.
        judged(a_eu, instance("i-0aaa00000000000a2", "optional", 'legacy, "v1"\nbatch [/prod]')),
        judged(a_eu, launch_template()),
        judged(
            a_us,
            instance("i-0aaa00000000000b1", "optional", "stopped-box", state="stopped", hops=2),
        ),
        judged(
            a_us,
            LaunchConfiguration(
                "old-lc",
                MetadataOptions(),
                False,
                used_by=("old-asg",),
                image_id=AMI,
                effective=AWS_DEFAULT,
            ),
        ),
        judged(
            a_us,
            AutoScalingGroup(
                "old-asg",
                (
                    LaunchSource(
                        "launch-configuration",
                        "old-lc",
                        "LaunchConfigurationName",
                        http_tokens="optional",
                        http_endpoint="enabled",
                        effective=AWS_DEFAULT,
                    ),
                ),
            ),
        ),
        judged(a_us, Image(AMI, "golden", None)),
        judged(a_us, AccountImdsDefaults("us-east-1", managed_by="account")),
        judged(b_eu, instance("i-0bbb00000000000a1", "required")),
    )
    scopes = (
        ScopeOutcome(A, "eu-west-1", counts={"AwsEc2Instance": 2, "AwsEc2LaunchTemplate": 1}),
        ScopeOutcome(A, "us-east-1", counts={"AwsEc2Instance": 1}),
        ScopeOutcome(B, "ap-south-1", error="UnauthorizedOperation on DescribeInstances: denied"),
        ScopeOutcome(B, "eu-west-1", counts={"AwsEc2Instance": 1}),
        ScopeOutcome(C, ALL_REGIONS, error="AccessDenied on AssumeRole: not authorized"),
    )
    return ScanResult(
        "0.1.0",
        GENERATED_AT,
        scopes,
        FindingList(findings),
        kinds=RESOURCE_NAMES,
        evaluation=dataclasses.asdict(EvaluationOptions()),
    )
