"""The compliance mapping, severities and the --compliance filter (pure)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from imdsguard.errors import UsageError
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.report import describe
from imdsguard.rules import compliance
from tests.sample import sample_result


@pytest.mark.parametrize(
    ("framework", "control"),
    [
        ("cis-2.0", "5.6"),
        ("cis-3.0", "5.6"),
        ("cis-4.0.1", "5.7"),
        ("cis-5.0", "5.7"),
        ("cis-6.0", "6.7"),
        ("cis-7.0", "6.7"),
        ("fsbp", "EC2.8"),
        ("pci-4.0.1", "2.2.6"),
    ],
)
def test_instance_controls_per_framework(framework: str, control: str) -> None:
    found = compliance.controls_in("AwsEc2Instance", framework)
    assert [c.control for c in found] == [control]


def test_nist_controls_include_the_audit_files_cm_7_b() -> None:
    found = compliance.controls_in("AwsEc2Instance", "nist-800-53")
    assert [c.control for c in found] == ["AC-3", "AC-6", "CM-7 b"]


@pytest.mark.parametrize(
    ("kind", "fsbp", "severity", "in_cis"),
    [
        ("AwsEc2Instance", ["EC2.8"], "High", True),
        ("AwsEc2LaunchTemplate", ["EC2.170"], "Low", False),
        ("AwsAutoScalingLaunchConfiguration", ["AutoScaling.3"], "High", False),
        ("AwsAutoScalingAutoScalingGroup", [], "Medium", False),
        ("AwsEc2Image", [], "Low", False),
        ("AwsEc2AccountImdsDefaults", [], "Medium", False),
    ],
)
def test_each_kind_maps_to_its_controls_and_severity(
    kind: str, fsbp: list[str], severity: str, in_cis: bool
) -> None:
    assert [c.control for c in compliance.controls_in(kind, "fsbp")] == fsbp
    assert compliance.severity(kind) == severity
    assert bool(compliance.controls_in(kind, "cis-5.0")) is in_cis
    assert compliance.controls_in(kind, "nist-800-53")
    assert describe.kind(kind).title != describe.kind("Unknown").title


def test_unknown_kind_has_no_controls_and_a_visible_severity() -> None:
    assert compliance.controls("SomethingNew") == ()
    assert compliance.severity("SomethingNew") == "Medium"


def test_filter_keeps_evidence_for_the_framework_and_every_scope_error() -> None:
    result = sample_result()
    cis = compliance.filter_result(result, "cis-5.0")
    assert {f.resource_type for f in cis.findings} == {"AwsEc2Instance"}
    assert len(cis.findings) == 4
    assert cis.scope_errors == result.scope_errors
    assert cis.exit_code() == result.exit_code()
    assert (
        compliance.title(cis)
        == "imdsguard IMDS audit: CIS AWS Foundations Benchmark v5.0.0 evidence"
    )
    fsbp = compliance.filter_result(result, "fsbp")
    assert {f.resource_type for f in fsbp.findings} == {
        "AwsEc2Instance",
        "AwsEc2LaunchTemplate",
        "AwsAutoScalingLaunchConfiguration",
    }


def test_filter_rejects_an_unknown_framework_with_the_known_ids() -> None:
    with pytest.raises(UsageError, match=r"cis-5\.0"):
        compliance.filter_result(sample_result(), "cis-9")


@pytest.mark.parametrize(
    ("framework", "needed"),
    [
        *((f"cis-{v}", ("instances",)) for v in ("2.0", "3.0", "4.0.1", "5.0", "6.0", "7.0")),
        ("fsbp", ("instances", "launch-templates", "launch-configurations")),
        ("nist-800-53", RESOURCE_NAMES),
        ("pci-4.0.1", RESOURCE_NAMES),
    ],
)
def test_each_framework_needs_the_kinds_its_controls_cover(
    framework: str, needed: tuple[str, ...]
) -> None:
    assert compliance.required_kinds(framework) == needed


@pytest.mark.parametrize(
    ("framework", "kinds", "message"),
    [
        (
            "cis-5.0",
            ("launch-templates",),
            "needs instances scanned, which --resources leaves out; "
            "use --resources instances,launch-templates",
        ),
        ("cis-2.0", (), "needs instances scanned"),
        (
            "fsbp",
            ("instances", "amis"),
            "needs launch-templates, launch-configurations scanned, which --resources leaves "
            "out; use --resources instances,launch-templates,launch-configurations,amis",
        ),
        ("nist-800-53", ("instances",), "auto-scaling-groups, amis, account-defaults"),
        ("cis-5.0", None, "does not record which resource kinds"),
    ],
)
def test_a_framework_without_its_kinds_is_refused(
    framework: str, kinds: tuple[str, ...] | None, message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        compliance.require_kinds(framework, kinds)
    result = replace(sample_result(), kinds=kinds)
    with pytest.raises(UsageError, match=re.escape(message)):
        compliance.filter_result(result, framework)


@pytest.mark.parametrize("framework", sorted(compliance.FRAMEWORKS))
def test_a_framework_with_its_kinds_is_accepted(framework: str) -> None:
    compliance.require_kinds(framework, compliance.required_kinds(framework))
    compliance.require_kinds(framework, RESOURCE_NAMES)
