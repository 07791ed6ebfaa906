"""The guardrail policy: valid JSON, within the SCP quota, accepted by IAM, documented keys only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from imdsguard.aws.session import SessionFactory
from imdsguard.errors import UsageError
from imdsguard.guardrails import SCP_MAX_BYTES, policy, render
from imdsguard.options import GuardrailOptions
from tests.conftest import CliResult

# docs/aws-behaviour.md#guardrails, plus aws:PrincipalArn (global key) and the two Auto Scaling
# keys of AWS's
# "Require a launch template and a version number" example (EC2 Auto Scaling user guide).
DOCUMENTED_KEYS = {
    "ec2:MetadataHttpTokens",
    "ec2:MetadataHttpPutResponseHopLimit",
    "ec2:MetadataHttpEndpoint",
    "ec2:Attribute/HttpTokens",
    "ec2:RoleDelivery",
    "autoscaling:MetadataHttpTokens",
    "aws:PrincipalArn",
    "autoscaling:LaunchConfigurationName",
    "autoscaling:LaunchTemplateVersionSpecified",
}
FULL = GuardrailOptions(
    max_hop_limit=2,
    allow_roles=("arn:aws:iam::*:role/ImdsAdmin", "arn:aws:iam::123456789012:role/platform/*"),
    pin_template_versions=True,
)
VARIANTS = [
    GuardrailOptions(),
    FULL,
    GuardrailOptions(format="iam"),
    GuardrailOptions(max_hop_limit=1),
]


def condition_keys(document: dict[str, Any]) -> Iterator[str]:
    for statement in document["Statement"]:
        for operands in statement.get("Condition", {}).values():
            yield from operands


def by_sid(options: GuardrailOptions) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy(options)["Statement"]}


@pytest.mark.parametrize("options", VARIANTS)
def test_policy_is_deny_only_json_with_documented_keys(options: GuardrailOptions) -> None:
    document = json.loads(render(options))
    assert document["Version"] == "2012-10-17"
    assert {s["Effect"] for s in document["Statement"]} == {"Deny"}
    assert set(condition_keys(document)) <= DOCUMENTED_KEYS


@pytest.mark.parametrize("options", VARIANTS)
def test_scp_fits_the_quota_as_aws_counts_it(options: GuardrailOptions) -> None:
    scp = render(GuardrailOptions("scp", options.max_hop_limit, options.allow_roles))
    # Saved through the API, the document counts byte for byte: no whitespace to spare.
    assert "\n" not in scp.rstrip("\n")
    assert ": " not in scp
    assert len(scp.rstrip("\n").encode()) <= SCP_MAX_BYTES


def test_too_many_admin_roles_are_refused_for_an_scp_but_not_for_iam() -> None:
    roles = tuple(f"arn:aws:iam::{n:012d}:role/ImdsAdministratorRole" for n in range(120))
    with pytest.raises(UsageError, match="5120-byte quota"):
        render(GuardrailOptions("scp", allow_roles=roles))
    assert json.loads(render(GuardrailOptions("iam", allow_roles=roles)))


def test_statements_say_what_the_issue_asks() -> None:
    sids = by_sid(FULL)
    launch = sids["RequireImdsV2AtLaunch"]
    assert (launch["Action"], launch["Resource"]) == (
        "ec2:RunInstances",
        "arn:aws:ec2:*:*:instance/*",
    )
    assert launch["Condition"] == {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}
    modify = sids["RequireImdsV2OnModify"]["Condition"]
    assert modify["Null"] == {"ec2:Attribute/HttpTokens": "false"}
    assert sids["DenyImdsV1RoleCredentials"]["Condition"] == {
        "NumericLessThan": {"ec2:RoleDelivery": "2.0"}
    }
    assert sids["CapImdsHopLimit"]["Condition"] == {
        "NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "2"}
    }
    admins = {"ArnNotLike": {"aws:PrincipalArn": list(FULL.allow_roles)}}
    assert sids["ProtectImdsAccountDefaults"]["Condition"] == admins
    assert sids["DenyLaunchConfigurations"]["Condition"] == admins
    assert "RequirePinnedTemplateVersions" in sids


def test_without_admin_roles_nobody_may_change_defaults_or_create_launch_configurations() -> None:
    sids = by_sid(GuardrailOptions())
    assert "Condition" not in sids["ProtectImdsAccountDefaults"]
    assert "Condition" not in sids["DenyLaunchConfigurations"]
    assert not {"CapImdsHopLimit", "RequirePinnedTemplateVersions"} & set(sids)
    one = by_sid(GuardrailOptions(allow_roles=("arn:aws:iam::*:role/ImdsAdmin",)))
    assert one["ProtectImdsAccountDefaults"]["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ImdsAdmin"}
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_hop_limit": 65},
        {"allow_roles": ("ImdsAdmin",)},
        {"allow_roles": ("arn:aws:iam::*:user/alice",)},
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        GuardrailOptions(**kwargs)


@pytest.mark.parametrize("options", [GuardrailOptions(), FULL])
def test_iam_accepts_the_policy(factory: SessionFactory, options: GuardrailOptions) -> None:
    iam = factory.iam(None)
    reply = iam.create_policy(
        PolicyName=f"imdsv2-{len(options.allow_roles)}", PolicyDocument=render(options)
    )
    assert reply["Policy"]["Arn"]


def test_iam_rejects_a_malformed_policy(factory: SessionFactory) -> None:
    """Control for the test above: moto's IAM does validate documents."""
    broken = policy(GuardrailOptions())
    broken["Statement"][0]["Effect"] = "Maybe"
    with pytest.raises(ClientError, match="MalformedPolicyDocument"):
        factory.iam(None).create_policy(PolicyName="broken", PolicyDocument=json.dumps(broken))


def test_cli_prints_a_minified_scp_or_an_indented_iam_policy(cli: Callable[..., CliResult]) -> None:
    scp = cli("guardrails", "--max-hop-limit", "2", "--allow-role", "arn:aws:iam::*:role/ImdsAdmin")
    assert scp.code == 0
    assert scp.out.count("\n") == 1
    assert "CapImdsHopLimit" in json.loads(scp.out)["Statement"][3]["Sid"]
    iam = cli("guardrails", "--format", "iam")
    assert iam.code == 0
    assert iam.out.startswith('{\n  "Version"')
    bad = cli("guardrails", "--allow-role", "ImdsAdmin")
    assert (bad.code, bad.out) == (2, "")
    assert "bad --allow-role" in bad.err
