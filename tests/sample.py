"""One fixed scan result for every report test: fixed ids and times, every status and kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from imdsguard.model import (
    ALL_REGIONS,
    Finding,
    Instance,
    JSONValue,
    MetadataOptions,
    ScanResult,
    Scope,
    ScopeOutcome,
)

GENERATED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
A = "111111111111"
B = "222222222222"
C = "333333333333"


@dataclass(frozen=True, slots=True)
class FakeKind:
    """Stands in for the kinds another module adds: only the Resource protocol matters."""

    RESOURCE_TYPE: ClassVar[str] = "Unset"
    resource_id: str
    name: str | None
    fields: tuple[tuple[str, JSONValue], ...]

    def evidence(self) -> dict[str, JSONValue]:
        return dict(self.fields)


class LaunchTemplate(FakeKind):
    RESOURCE_TYPE = "AwsEc2LaunchTemplate"


class LaunchConfiguration(FakeKind):
    RESOURCE_TYPE = "AwsAutoScalingLaunchConfiguration"


class AutoScalingGroup(FakeKind):
    RESOURCE_TYPE = "AwsAutoScalingAutoScalingGroup"


class Image(FakeKind):
    RESOURCE_TYPE = "AwsEc2Image"


class AccountDefaults(FakeKind):
    RESOURCE_TYPE = "AwsEc2AccountImdsDefaults"


def instance(iid: str, tokens: str, name: str | None = None, **kw: object) -> Instance:
    return Instance(
        instance_id=iid,
        instance_state=str(kw.get("state", "running")),
        metadata=MetadataOptions(http_tokens=tokens, hop_limit=int(str(kw.get("hops", 1)))),
        name=name,
        iam_instance_profile=kw.get("role"),  # type: ignore[arg-type]
        launch_time=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
        image_id="ami-0123456789abcdef0",
        instance_type="t3.micro",
    )


def sample_result() -> ScanResult:
    a_eu, a_us, b_eu = Scope(A, "eu-west-1"), Scope(A, "us-east-1"), Scope(B, "eu-west-1")
    role = f"arn:aws:iam::{A}:instance-profile/web"
    tokens = (("http_tokens", "optional"), ("http_endpoint", "enabled"), ("hop_limit", 1))
    findings = (
        Finding(
            a_eu,
            instance("i-0aaa00000000000a1", "required", "web", role=role),
            "PASS",
            "tokens-required",
        ),
        # Names with commas, quotes, newlines and markup test every escaping path.
        Finding(
            a_eu,
            instance("i-0aaa00000000000a2", "optional", 'legacy, "v1"\nbatch'),
            "FAIL",
            "tokens-optional",
        ),
        Finding(
            a_eu,
            LaunchTemplate("lt-0aaa0000000000001", "web-<lt>", tokens),
            "FAIL",
            "default-version-optional",
        ),
        Finding(
            a_us,
            instance("i-0aaa00000000000b1", "optional", "stopped-box", state="stopped", hops=2),
            "FAIL",
            "tokens-optional",
        ),
        Finding(a_us, LaunchConfiguration("old-lc", "old-lc", tokens), "FAIL", "tokens-optional"),
        Finding(
            a_us,
            AutoScalingGroup("web-asg", "web-asg", (("launch_source", "old-lc"),)),
            "FAIL",
            "launches-imdsv1",
        ),
        Finding(
            a_us,
            Image("ami-0123456789abcdef0", "golden", (("imds_support", None),)),
            "INFO",
            "imds-support-unset",
        ),
        Finding(
            a_us,
            AccountDefaults("account-defaults", None, (("http_tokens", "no-preference"),)),
            "FAIL",
            "defaults-not-required",
        ),
        Finding(b_eu, instance("i-0bbb00000000000a1", "required"), "PASS", "tokens-required"),
    )
    scopes = (
        ScopeOutcome(A, "eu-west-1", counts={"AwsEc2Instance": 2, "AwsEc2LaunchTemplate": 1}),
        ScopeOutcome(A, "us-east-1", counts={"AwsEc2Instance": 1}),
        ScopeOutcome(B, "ap-south-1", error="UnauthorizedOperation on DescribeInstances: denied"),
        ScopeOutcome(B, "eu-west-1", counts={"AwsEc2Instance": 1}),
        ScopeOutcome(C, ALL_REGIONS, error="AccessDenied on AssumeRole: not authorized"),
    )
    return ScanResult("0.1.0", GENERATED_AT, scopes, findings)
