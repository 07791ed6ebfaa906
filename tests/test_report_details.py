"""The table's one-line details for every resource kind (pure)."""

from __future__ import annotations

import pytest

from imdsguard.model.effective import EffectiveTokens
from imdsguard.model.launch import (
    AccountImdsDefaults,
    AutoScalingGroup,
    Image,
    LaunchConfiguration,
    LaunchSource,
    LaunchTemplate,
    TemplateVersion,
)
from imdsguard.model.scan import Finding, Instance, MetadataOptions, Resource, Scope
from imdsguard.report.details import DETAILS, details

REQUIRED = MetadataOptions(http_tokens="required")
EXPLICIT_REQUIRED = EffectiveTokens("required", "explicit")
FROM_DEFAULT = EffectiveTokens("required", "account-default")
FROM_AMI = EffectiveTokens("required", "ami")
OPTIONAL = MetadataOptions()
RESOURCES: list[tuple[Resource, str]] = [
    (
        Instance("i-1", "running", REQUIRED, iam_instance_profile="arn:profile"),
        "running tokens=required hops=1 role",
    ),
    (
        LaunchTemplate(
            "lt-1",
            "batch",
            1,
            3,
            (
                TemplateVersion(1, REQUIRED, True, effective=EXPLICIT_REQUIRED),
                TemplateVersion(
                    2, OPTIONAL, True, ("batch-asg", "etl-asg"), effective=FROM_DEFAULT
                ),
                TemplateVersion(3, REQUIRED, True, effective=EXPLICIT_REQUIRED),
            ),
        ),
        "default v1 required, latest v3 required; "
        "v2 optional (effective required via account-default) used by batch-asg,etl-asg",
    ),
    (
        LaunchTemplate("lt-2", None, 1, 1, (TemplateVersion(1, OPTIONAL, False),)),
        "default v1 optional (effective unknown), latest v1 optional",
    ),
    (
        LaunchConfiguration("lc", OPTIONAL, False, ("legacy-asg",), effective=FROM_AMI),
        "http_tokens=optional (not set; effective required via ami); used by legacy-asg",
    ),
    (
        LaunchConfiguration("lc", REQUIRED, True, effective=EXPLICIT_REQUIRED),
        "http_tokens=required; used by no group",
    ),
    (
        AutoScalingGroup(
            "asg",
            (
                LaunchSource(
                    "launch-template", "lt-1", "LaunchTemplate", "2", 2, "optional", "enabled"
                ),
                LaunchSource("launch-configuration", "gone", "LaunchConfigurationName"),
            ),
        ),
        "lt-1 v2 via LaunchTemplate: optional (effective unknown); "
        "gone via LaunchConfigurationName: NOT FOUND",
    ),
    (Image("ami-1", "golden", None), "ImdsSupport=unset"),
    (
        AccountImdsDefaults("eu-west-1", "required", hop_limit=2, managed_by="declarative-policy"),
        "tokens=required, hop_limit=2, enforced=unset, "
        "managed_by=declarative-policy (account cannot change)",
    ),
]


def test_every_kind_has_details() -> None:
    assert set(DETAILS) == {type(r).RESOURCE_TYPE for r, _ in RESOURCES}


@pytest.mark.parametrize(("resource", "expected"), RESOURCES)
def test_details_line(resource: Resource, expected: str) -> None:
    finding = Finding(Scope("123456789012", "eu-west-1"), resource, "FAIL", "x")
    assert details(finding) == expected
