"""Pure rules for the launch-deciding kinds, as parameter tables (no AWS)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from imdsguard.model.launch import (
    AccountImdsDefaults,
    AutoScalingGroup,
    Image,
    LaunchConfiguration,
    LaunchSource,
    LaunchTemplate,
    TemplateVersion,
)
from imdsguard.model.scan import HttpTokens, MetadataOptions, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import evaluate

SCOPE = Scope("123456789012", "eu-west-1")
REQUIRED = MetadataOptions(http_tokens="required")
OPTIONAL = MetadataOptions(http_tokens="optional")
DISABLED = MetadataOptions(http_tokens="optional", http_endpoint="disabled")
REQUIRED_OFF = MetadataOptions(http_tokens="required", http_endpoint="disabled")


def version(number: int, md: MetadataOptions, *groups: str) -> TemplateVersion:
    return TemplateVersion(number, md, metadata_specified=True, used_by=groups)


def template(default: int, latest: int, *versions: TemplateVersion) -> LaunchTemplate:
    return LaunchTemplate("lt-1", "web", default, latest, versions)


@pytest.mark.parametrize(
    ("lt", "expected"),
    [
        (template(1, 1, version(1, REQUIRED)), ("PASS", "tokens-required")),
        (template(1, 1, version(1, OPTIONAL)), ("FAIL", "default-version-tokens-optional")),
        # Prowler's bug: a required LATEST must not hide an optional DEFAULT.
        (
            template(1, 2, version(1, OPTIONAL), version(2, REQUIRED)),
            ("FAIL", "default-version-tokens-optional"),
        ),
        # A version no group uses and that is not the default does not fail...
        (
            template(1, 3, version(1, REQUIRED), version(3, REQUIRED)),
            ("PASS", "tokens-required"),
        ),
        # ...but one a group launches does.
        (
            template(
                1, 3, version(1, REQUIRED), version(2, OPTIONAL, "batch"), version(3, REQUIRED)
            ),
            ("FAIL", "group-version-tokens-optional"),
        ),
        (
            template(1, 2, version(1, REQUIRED), version(2, OPTIONAL)),
            ("INFO", "latest-version-tokens-optional"),
        ),
        # Fail closed when the default version could not be read.
        (template(4, 4), ("FAIL", "default-version-unreadable")),
        # Judged on HttpTokens, as AWS Config's EC2.170 rule: a disabled endpoint alone
        # does not pass, and one that also requires tokens says so in its reason.
        (template(1, 1, version(1, DISABLED)), ("FAIL", "default-version-tokens-optional")),
        (template(1, 1, version(1, REQUIRED_OFF)), ("PASS", "imds-disabled")),
        (
            template(1, 2, version(1, REQUIRED), version(2, DISABLED, "batch")),
            ("FAIL", "group-version-tokens-optional"),
        ),
    ],
)
def test_launch_template_rule(lt: LaunchTemplate, expected: tuple[str, str]) -> None:
    finding = evaluate(SCOPE, lt, EvaluationOptions())
    assert finding is not None
    assert (finding.status, finding.reason) == expected


@pytest.mark.parametrize("md", [DISABLED, REQUIRED_OFF])
def test_imds_disabled_fail_fails_a_disabled_endpoint_with_that_reason(md: MetadataOptions) -> None:
    fail = EvaluationOptions(imds_disabled="fail")
    launch_config = LaunchConfiguration("lc", md, metadata_specified=True)
    source = LaunchSource("launch-configuration", "lc", "LaunchConfigurationName")
    group = AutoScalingGroup(
        "asg", (replace(source, http_tokens=md.http_tokens, http_endpoint=md.http_endpoint),)
    )
    for resource in (template(1, 1, version(1, md)), launch_config, group):
        finding = evaluate(SCOPE, resource, fail)
        assert finding is not None
        assert (finding.status, finding.reason) == ("FAIL", "imds-disabled"), resource


def test_failing_group_version_evidence_names_the_groups() -> None:
    lt = template(1, 3, version(1, REQUIRED), version(2, OPTIONAL, "a-asg", "b-asg"))
    ev = lt.evidence()
    assert ev["used_by_groups"] == ["a-asg", "b-asg"]
    versions = ev["versions"]
    assert isinstance(versions, list)
    assert versions[1] == {
        "version": 2,
        "is_default": False,
        "is_latest": False,
        "http_tokens": "optional",
        "http_endpoint": "enabled",
        "hop_limit": 1,
        "metadata_options_set": True,
        "image_id": None,
        # Built outside the scan's join: nothing past the version's own setting was read.
        "effective_http_tokens": None,
        "effective_source": "unknown",
        "effective_reason": "account default and AMI not read",
        "used_by_groups": ["a-asg", "b-asg"],
    }


@pytest.mark.parametrize(
    ("md", "specified", "expected"),
    [
        (MetadataOptions(), False, ("FAIL", "tokens-optional")),  # missing = optional
        (OPTIONAL, True, ("FAIL", "tokens-optional")),
        (REQUIRED, True, ("PASS", "tokens-required")),
        (DISABLED, True, ("FAIL", "tokens-optional")),
        (REQUIRED_OFF, True, ("PASS", "imds-disabled")),
    ],
)
def test_launch_configuration_rule(
    md: MetadataOptions, specified: bool, expected: tuple[str, str]
) -> None:
    config = LaunchConfiguration("lc", md, specified, used_by=("legacy-asg",))
    finding = evaluate(SCOPE, config, EvaluationOptions())
    assert finding is not None
    assert (finding.status, finding.reason) == expected
    assert config.evidence()["used_by_groups"] == ["legacy-asg"]
    assert "launch template" in str(config.evidence()["remediation"])


def lt_source(tokens: HttpTokens | None) -> LaunchSource:
    return LaunchSource("launch-template", "lt-1", "LaunchTemplate", "$Default", 1, tokens)


def lc_source(tokens: HttpTokens | None) -> LaunchSource:
    return LaunchSource("launch-configuration", "lc", "LaunchConfigurationName", None, None, tokens)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ((lt_source("required"),), ("PASS", "tokens-required")),
        ((lt_source("optional"),), ("FAIL", "launches-tokens-optional")),
        ((lc_source("optional"),), ("FAIL", "launches-tokens-optional")),
        # A mixed-instances override on an optional template taints the whole group.
        ((lt_source("required"), lt_source("optional")), ("FAIL", "launches-tokens-optional")),
        ((lt_source(None),), ("FAIL", "launch-source-missing")),
        ((), ("FAIL", "launch-source-missing")),
        (
            (replace(lt_source("optional"), http_endpoint="disabled"),),
            ("FAIL", "launches-tokens-optional"),
        ),
        ((replace(lt_source("required"), http_endpoint="disabled"),), ("PASS", "imds-disabled")),
        (
            (replace(lt_source("required"), http_endpoint="disabled"), lc_source("required")),
            ("PASS", "tokens-required"),
        ),
    ],
)
def test_auto_scaling_group_rule(
    sources: tuple[LaunchSource, ...], expected: tuple[str, str]
) -> None:
    group = AutoScalingGroup("asg", sources)
    finding = evaluate(SCOPE, group, EvaluationOptions())
    assert finding is not None
    assert (finding.status, finding.reason) == expected
    assert group.evidence()["requires_tokens"] is (expected[0] == "PASS")


@pytest.mark.parametrize(
    ("support", "strict", "expected"),
    [
        ("v2.0", False, ("PASS", "imds-support-v2")),
        ("v2.0", True, ("PASS", "imds-support-v2")),
        (None, False, ("INFO", "imds-support-unset")),
        (None, True, ("FAIL", "imds-support-unset")),
    ],
)
def test_image_rule(support: str | None, strict: bool, expected: tuple[str, str]) -> None:
    finding = evaluate(
        SCOPE, Image("ami-1", "golden", support), EvaluationOptions(strict_amis=strict)
    )
    assert finding is not None
    assert (finding.status, finding.reason) == expected


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ("required", ("PASS", "default-tokens-required")),
        ("optional", ("FAIL", "default-tokens-optional")),
        (None, ("FAIL", "default-tokens-unset")),
    ],
)
def test_account_defaults_rule(tokens: HttpTokens | None, expected: tuple[str, str]) -> None:
    finding = evaluate(SCOPE, AccountImdsDefaults("eu-west-1", tokens), EvaluationOptions())
    assert finding is not None
    assert (finding.status, finding.reason) == expected


def test_declarative_policy_defaults_say_the_account_cannot_change_them() -> None:
    managed = AccountImdsDefaults("eu-west-1", "optional", managed_by="declarative-policy")
    ev = managed.evidence()
    assert ev["account_can_change"] is False
    assert "cannot change" in str(ev["note"])
    finding = evaluate(SCOPE, managed, EvaluationOptions())
    assert finding is not None
    assert finding.status == "FAIL"
    own = AccountImdsDefaults("eu-west-1", "required", managed_by="account").evidence()
    assert (own["account_can_change"], own["note"]) == (True, None)
