"""What the next launch effectively gets, end to end on the moto server (and the fault proxy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imdsguard.aws.session import SessionFactory
from imdsguard.model.launch import LaunchConfiguration, LaunchTemplate
from imdsguard.model.scan import Finding, JSONValue, ScanResult
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import own
from tests.faultproxy import FaultProxy, deny

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

REGION = "eu-west-1"
LAUNCH = ("launch-templates", "launch-configurations", "auto-scaling-groups")


def scan(factory: SessionFactory, *kinds: str) -> ScanResult:
    return run_scan(factory, ScopeOptions(regions=(REGION,)), EvaluationOptions(), kinds=kinds)


def template(ec2: EC2Client, name: str, image_id: str, metadata: dict[str, str] | None) -> None:
    data: dict[str, Any] = {"ImageId": image_id, "InstanceType": "t3.micro"}
    if metadata is not None:
        data["MetadataOptions"] = metadata
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)  # type: ignore[arg-type]


def templates(result: ScanResult) -> dict[str, Finding]:
    return {f.name or "": f for f in result.findings if isinstance(f.resource, LaunchTemplate)}


def effective(finding: Finding) -> tuple[JSONValue, JSONValue]:
    evidence = finding.resource.evidence()
    return evidence["default_effective_http_tokens"], evidence["default_effective_source"]


def only_version(finding: Finding) -> dict[str, JSONValue]:
    versions = finding.resource.evidence()["versions"]
    assert isinstance(versions, list)
    [version] = versions
    assert isinstance(version, dict)
    return version


def image(ec2: EC2Client, name: str, **kw: Any) -> str:
    return ec2.register_image(Name=name, **kw)["ImageId"]


def test_the_account_default_decides_a_template_that_sets_no_tokens(
    factory: SessionFactory,
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    ami = image(ec2, "golden")
    template(ec2, "bare", ami, None)
    template(ec2, "endpoint-only", ami, {"HttpEndpoint": "enabled"})
    template(ec2, "explicit-optional", ami, {"HttpTokens": "optional"})
    ec2.modify_instance_metadata_defaults(HttpTokens="required")
    found = templates(scan(factory, "launch-templates"))
    assert effective(found["bare"]) == ("required", "account-default")
    # MetadataOptions without HttpTokens does not set tokens: per field, not per block.
    assert effective(found["endpoint-only"]) == ("required", "account-default")
    # An explicit setting wins over a required default.
    assert effective(found["explicit-optional"]) == ("optional", "explicit")
    # Verdicts stay on the setting itself, as EC2.170 judges it.
    assert {f.status for f in found.values()} == {"FAIL"}


def test_the_ami_decides_when_no_default_is_set(factory: SessionFactory) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template(ec2, "on-v2", image(ec2, "golden-v2", ImdsSupport="v2.0"), None)
    template(ec2, "on-plain", image(ec2, "golden-2019"), None)
    template(ec2, "on-deregistered", "ami-0000000000000dead", None)
    found = templates(scan(factory, "launch-templates"))
    assert effective(found["on-v2"]) == ("required", "ami")
    assert effective(found["on-plain"]) == ("optional", "aws-default")
    assert effective(found["on-deregistered"]) == (None, "unknown")
    version = only_version(found["on-deregistered"])
    assert version["effective_reason"] == (
        "AMI ami-0000000000000dead not found: deregistered or not shared with the account"
    )


def test_launch_configurations_and_groups_carry_the_effective_value(
    factory: SessionFactory,
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    asg = factory.autoscaling(own(factory), REGION)
    asg.create_launch_configuration(
        LaunchConfigurationName="legacy-lc",
        ImageId=image(ec2, "golden-v2", ImdsSupport="v2.0"),
        InstanceType="t3.micro",
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="legacy-asg",
        LaunchConfigurationName="legacy-lc",
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    result = scan(factory, *LAUNCH)
    by_type = {f.resource_type: f for f in result.findings}
    config = by_type["AwsAutoScalingLaunchConfiguration"]
    assert isinstance(config.resource, LaunchConfiguration)
    assert (config.status, config.resource.effective.source) == ("FAIL", "ami")
    sources = by_type["AwsAutoScalingAutoScalingGroup"].resource.evidence()["launch_sources"]
    assert isinstance(sources, list)
    assert isinstance(sources[0], dict)
    assert (sources[0]["effective_http_tokens"], sources[0]["effective_source"]) == (
        "required",
        "ami",
    )


def test_unreadable_defaults_make_the_effective_value_unknown_not_a_scope_error(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template(ec2, "bare", image(ec2, "golden-v2", ImdsSupport="v2.0"), None)
    template(ec2, "explicit", image(ec2, "golden"), {"HttpTokens": "required"})
    proxy.rules.append(deny("GetInstanceMetadataDefaults", frozenset({REGION})))
    result = scan(proxied_factory, "launch-templates")
    [scope] = result.scopes
    assert scope.error is None  # no verdict depends on the defaults
    found = templates(result)
    # The AMI says v2.0, but an unread default could say optional: never guessed.
    assert effective(found["bare"]) == (None, "unknown")
    version = only_version(found["bare"])
    assert str(version["effective_reason"]).startswith(
        "account default not read: UnauthorizedOperation"
    )
    assert effective(found["explicit"]) == ("required", "explicit")
    # The AMIs are not read once the defaults are unknown.
    assert proxy.calls[("DescribeImages", REGION)] == 0


def test_defaults_and_amis_are_read_once_per_scope_and_only_when_needed(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    ami = image(ec2, "golden")
    for n in range(3):
        template(ec2, f"bare-{n}", ami, None)
    scan(proxied_factory, *LAUNCH)
    assert proxy.calls[("GetInstanceMetadataDefaults", REGION)] == 1
    assert proxy.calls[("DescribeImages", REGION)] == 1
    proxy.calls.clear()
    ec2.modify_instance_metadata_defaults(HttpTokens="required")
    scan(proxied_factory, *LAUNCH)
    # A default that decides leaves no AMI to read.
    assert proxy.calls[("DescribeImages", REGION)] == 0


def test_the_account_defaults_kind_and_the_launch_precedence_share_one_read(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template(ec2, "bare", image(ec2, "golden"), None)
    ec2.modify_instance_metadata_defaults(HttpTokens="required")
    result = scan(proxied_factory, *LAUNCH, "account-defaults")
    assert proxy.calls[("GetInstanceMetadataDefaults", REGION)] == 1
    assert effective(templates(result)["bare"]) == ("required", "account-default")
    [defaults] = [f for f in result.findings if f.resource_type == "AwsEc2AccountImdsDefaults"]
    assert defaults.status == "PASS"


def test_one_failed_defaults_read_is_the_kinds_scope_error_and_the_launches_unknown(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template(ec2, "bare", image(ec2, "golden"), None)
    proxy.rules.append(deny("GetInstanceMetadataDefaults", frozenset({REGION})))
    result = scan(proxied_factory, *LAUNCH, "account-defaults")
    assert proxy.calls[("GetInstanceMetadataDefaults", REGION)] == 1
    [scope] = result.scopes
    assert str(scope.error).startswith("account-defaults: UnauthorizedOperation")
    assert effective(templates(result)["bare"]) == (None, "unknown")
