"""Scans of the launch-deciding kinds against the moto server (plus the emulator extension)."""

from __future__ import annotations

from collections.abc import Callable

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.demo.launch_fleet import create_template, seed_launch_settings
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.scan import Finding, ScanResult
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.report import table
from imdsguard.scan import run_scan
from tests.conftest import CliResult, own, seed
from tests.faultproxy import Fault, FaultProxy, ProxyRequest, denied

REGION = "eu-west-1"
SCOPES = ScopeOptions(regions=(REGION,))
LAUNCH = ("launch-templates", "launch-configurations", "auto-scaling-groups")


def scan(factory: SessionFactory, *kinds: str, strict_amis: bool = False) -> ScanResult:
    options = EvaluationOptions(strict_amis=strict_amis)
    return run_scan(factory, SCOPES, options, kinds=kinds or RESOURCE_NAMES)


def by_name(result: ScanResult, resource_type: str) -> dict[str, Finding]:
    return {
        (f.name or f.resource_id): f for f in result.findings if f.resource_type == resource_type
    }


def test_every_launch_kind_is_judged_with_its_evidence(factory: SessionFactory) -> None:
    seed_launch_settings(factory, own(factory), REGION, defaults_required=True)
    result = scan(factory)
    templates = by_name(result, "AwsEc2LaunchTemplate")
    # Default optional, latest required: a FAIL (Prowler passes it).
    assert (templates["web-lt"].status, templates["web-lt"].reason) == (
        "FAIL",
        "default-version-tokens-optional",
    )
    assert (templates["api-lt"].status, templates["batch-lt"].status) == ("PASS", "FAIL")
    batch = templates["batch-lt"]
    assert batch.reason == "group-version-tokens-optional"
    versions = batch.resource.evidence()["versions"]
    assert isinstance(versions, list)
    v2 = next(v for v in versions if isinstance(v, dict) and v["version"] == 2)
    assert (v2["http_tokens"], v2["used_by_groups"]) == ("optional", ["batch-asg"])

    groups = by_name(result, "AwsAutoScalingAutoScalingGroup")
    assert {n: f.status for n, f in groups.items()} == {
        "api-asg": "PASS",
        "batch-asg": "FAIL",
        "legacy-asg": "FAIL",
    }
    configs = by_name(result, "AwsAutoScalingLaunchConfiguration")
    assert configs["legacy-lc"].status == "FAIL"
    assert configs["legacy-lc"].resource.evidence()["used_by_groups"] == ["legacy-asg"]

    images = by_name(result, "AwsEc2Image")
    assert {n: f.status for n, f in images.items()} == {
        "golden-imdsv2": "PASS",
        "golden-2019": "INFO",
    }
    [defaults] = by_name(result, "AwsEc2AccountImdsDefaults").values()
    assert (defaults.status, defaults.resource_id) == ("PASS", f"imds-defaults/{REGION}")
    [scope] = result.scopes
    assert scope.error is None
    assert scope.counts["AwsEc2LaunchTemplate"] == 3


def test_strict_amis_turns_images_without_v2_into_failures(factory: SessionFactory) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    image_id = ec2.register_image(Name="golden-2019")["ImageId"]
    [lenient] = scan(factory, "amis").findings
    [strict] = scan(factory, "amis", strict_amis=True).findings
    assert (lenient.status, strict.status) == ("INFO", "FAIL")
    # ImdsSupport persists through ModifyImageAttribute (emulator extension).
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})
    [fixed] = scan(factory, "amis", strict_amis=True).findings
    assert (fixed.status, fixed.resource.evidence()["imds_support"]) == ("PASS", "v2.0")


def test_account_defaults_report_enforcement_per_region(factory: SessionFactory) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    ec2.modify_instance_metadata_defaults(
        HttpTokens="required", HttpPutResponseHopLimit=2, HttpTokensEnforced="enabled"
    )
    result = run_scan(
        factory,
        ScopeOptions(regions=(REGION, "us-east-1")),
        EvaluationOptions(),
        kinds=("account-defaults",),
    )
    verdicts = {f.scope.region: f for f in result.findings}
    assert verdicts[REGION].status == "PASS"
    assert verdicts[REGION].resource.evidence()["http_tokens_enforced"] == "enabled"
    assert verdicts[REGION].resource.evidence()["hop_limit"] == 2
    assert (verdicts["us-east-1"].status, verdicts["us-east-1"].reason) == (
        "FAIL",
        "default-tokens-unset",
    )


def test_more_than_fifteen_templates_are_all_scanned(factory: SessionFactory) -> None:
    # moto answers 15 templates when MaxResults is unset, with no NextToken.
    ec2 = factory.ec2(own(factory), REGION)
    for n in range(17):
        create_template(ec2, f"template-{n:02d}", "required")
    result = scan(factory, "launch-templates")
    assert len(result.findings) == 17
    assert {f.status for f in result.findings} == {"PASS"}


def test_failed_account_defaults_read_is_a_scope_error(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    """Prowler reports 'no findings' here; an unread default must never look clean."""
    seed(factory, REGION, Group("web", 1, tokens="required"))

    def deny_defaults(req: ProxyRequest) -> Fault | None:
        return denied() if req.action == "GetInstanceMetadataDefaults" else None

    proxy.rules.append(deny_defaults)
    result = scan(proxied_factory, "instances", "account-defaults")
    [scope] = result.scopes
    assert scope.error is not None
    assert scope.error.startswith("account-defaults: UnauthorizedOperation")
    assert [f.resource_type for f in result.findings] == ["AwsEc2Instance"]
    assert result.exit_code() == 3


def test_one_failed_launch_read_fails_all_launch_kinds_of_the_scope(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    seed_launch_settings(factory, own(factory), REGION)

    def deny_versions(req: ProxyRequest) -> Fault | None:
        return denied() if req.action == "DescribeLaunchTemplateVersions" else None

    proxy.rules.append(deny_versions)
    result = scan(proxied_factory, *LAUNCH, "amis")
    [scope] = result.scopes
    assert scope.error is not None
    assert scope.error.startswith(f"{','.join(LAUNCH)}: UnauthorizedOperation")
    # Nothing is judged on half the data; the independent kind is still reported.
    assert {f.resource_type for f in result.findings} == {"AwsEc2Image"}


def test_launch_kinds_share_one_read_per_scope(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    seed_launch_settings(factory, own(factory), REGION)
    scan(proxied_factory, *LAUNCH)
    assert proxy.calls[("DescribeAutoScalingGroups", REGION)] == 1
    assert proxy.calls[("DescribeLaunchTemplates", REGION)] == 1
    assert proxy.calls[("DescribeLaunchConfigurations", REGION)] == 1


def test_resources_reads_only_what_the_selected_kinds_need(
    factory: SessionFactory, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    seed_launch_settings(factory, own(factory), REGION)
    result = scan(proxied_factory, "launch-configurations")
    assert {f.resource_type for f in result.findings} == {"AwsAutoScalingLaunchConfiguration"}
    assert proxy.calls[("DescribeLaunchTemplates", REGION)] == 0
    assert proxy.calls[("DescribeInstances", REGION)] == 0
    proxy.calls.clear()
    groups = scan(proxied_factory, "auto-scaling-groups")
    assert {f.resource_type for f in groups.findings} == {"AwsAutoScalingAutoScalingGroup"}
    # Only the two referenced templates' versions are read, not web-lt's.
    assert proxy.calls[("DescribeLaunchTemplateVersions", REGION)] == 2


def test_cli_rejects_unknown_kinds_and_scans_only_the_selected_ones(
    factory: SessionFactory,
    moto_url: str,
    cli: Callable[..., CliResult],
) -> None:
    rejected = cli("scan", "--endpoint-url", moto_url, "--resources", "instances,lambdas")
    assert rejected.code == 2
    assert "unknown kind(s) lambdas" in rejected.err
    factory.ec2(own(factory), REGION).register_image(Name="golden-2019")
    result = cli(
        "scan",
        "--endpoint-url",
        moto_url,
        "--regions",
        REGION,
        "--resources",
        "amis,account-defaults",
        "--strict-amis",
        "--format",
        "json",
    )
    assert result.code == 1
    findings = result.json()["findings"]
    assert isinstance(findings, list)
    assert sorted((f["resource_type"], f["status"]) for f in findings) == [
        ("AwsEc2AccountImdsDefaults", "FAIL"),
        ("AwsEc2Image", "FAIL"),
    ]


def test_table_report_shows_every_kind_with_its_details(factory: SessionFactory) -> None:
    seed_launch_settings(factory, own(factory), REGION, defaults_required=True)
    text = table.format(scan(factory), width=400)
    for label in ("LaunchTemplate", "ASG", "LaunchConfig", "AMI", "AccountDefaults"):
        assert f" {label} " in text
    assert "default v1 optional, latest v2 required" in text
    assert "v2 optional used by batch-asg" in text
    assert "tokens=required, hop_limit=unset, enforced=unset, managed_by=account" in text
