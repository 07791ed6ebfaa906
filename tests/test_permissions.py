"""The generated policies and templates (pure), every partition, and the CLI face.

The policies are proven sufficient and minimal against IAM-enforcing moto in
tests/test_permissions_iam.py; here: their shape, the conditions moto does not evaluate,
cfn-lint on the CloudFormation template, and the ARNs of every partition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cfnlint.api import ManualArgs, lint

from imdsguard import guardrails, permissions
from imdsguard.aws.errors import translate
from imdsguard.model.kinds import KINDS, OPERATIONS
from imdsguard.options import PARTITIONS, GuardrailOptions, PermissionsOptions
from imdsguard.permissions import cloudformation, terraform
from imdsguard.report import asff, ocsf
from tests.conftest import CliResult
from tests.sample import sample_result

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "permissions.md"
BEGIN = (
    "<!-- permissions: generated from src/imdsguard/model/kinds.py by tests/test_permissions.py -->"
)
END = "<!-- /permissions -->"
# One Region per partition, so cfn-lint checks the template where each is deployed.
LINT_REGIONS = ["us-east-1", "cn-north-1", "us-gov-west-1"]


def _policy(command: str, **kwargs: Any) -> dict[str, Any]:
    options = PermissionsOptions(command=command, **kwargs)  # type: ignore[arg-type]
    document: dict[str, Any] = json.loads(permissions.policy_json(options))
    return document


def _actions(document: dict[str, Any]) -> set[str]:
    return permissions.actions_of(document["Statement"])


def test_the_scan_policy_is_every_read_and_no_write() -> None:
    actions = _actions(_policy("scan"))
    reads = {a for k in KINDS for a in k.reads}
    writes = {a for k in KINDS for a in k.writes} - reads
    assert reads <= actions
    assert not writes & actions
    assert "securityhub:BatchImportFindings" not in actions


def test_apply_for_one_kind_names_only_that_kind() -> None:
    document = _policy("apply", kinds=("instances",))
    assert _actions(document) == {
        "ec2:DescribeInstances",
        # rollback reads it before setting instances back to optional: AWS refuses that
        # where the Region's account default enforces IMDSv2.
        "ec2:GetInstanceMetadataDefaults",
        "ec2:ModifyInstanceMetadataOptions",
        "sts:GetCallerIdentity",
        "sts:AssumeRole",
        # A staged rollout's soak and --halt-on-alarm (docs/rollout.md).
        "cloudwatch:GetMetricData",
        "cloudwatch:DescribeAlarms",
    }
    [modify] = [s for s in document["Statement"] if s["Sid"] == "RequireImdsV2OnInstances"]
    assert modify["Condition"] == {"StringEquals": {"ec2:Attribute/HttpTokens": "required"}}
    rollback = _policy("apply", kinds=("instances",), rollback=True)
    assert not [s for s in rollback["Statement"] if "Condition" in s]


@pytest.mark.parametrize("partition", PARTITIONS)
def test_every_arn_is_in_the_partition(partition: str) -> None:
    document = _policy("all", partition=partition, role_name="security/imdsguard-audit")
    [assume] = [s for s in document["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == f"arn:{partition}:iam::*:role/security/imdsguard-audit"
    scp = json.loads(guardrails.render(GuardrailOptions(partition=partition)))  # type: ignore[arg-type]
    resources = {s["Resource"] for s in scp["Statement"]} - {"*"}
    assert resources == {f"arn:{partition}:ec2:*:*:instance/*"}
    result = sample_result()
    from dataclasses import replace

    result = replace(result, partition=partition)
    for doc in asff.findings(result):
        assert str(doc["ProductArn"]).startswith(f"arn:{partition}:securityhub:")
        for resource in doc["Resources"]:  # type: ignore[union-attr]
            rid = str(resource["Id"])  # type: ignore[index,call-overload]
            assert rid.startswith((f"arn:{partition}:", "AWS::::Account:"))
    events = [json.loads(line) for line in ocsf.format(result).splitlines()]
    partitions = {r["cloud_partition"] for e in events for r in e.get("resources", [])}
    assert partitions == {partition}


def test_the_default_partition_keeps_the_guardrail_unchanged() -> None:
    assert "arn:aws:ec2:*:*:instance/*" in guardrails.render(GuardrailOptions())


@pytest.mark.parametrize("command", ["scan", "apply", "all"])
def test_the_cloudformation_template_passes_cfn_lint(command: str) -> None:
    text = cloudformation.render(PermissionsOptions(command=command))  # type: ignore[arg-type]
    assert lint(text, config=ManualArgs(regions=LINT_REGIONS)) == []
    template = json.loads(text)
    assert {"TrustedPrincipalArn", "ExternalId"} <= set(template["Parameters"])
    assert ("Variant" in template["Parameters"]) == (command == "all")
    role = template["Resources"]["ImdsguardRole"]["Properties"]
    granted: set[str] = set()
    for entry in role["Policies"]:
        policy = entry["Fn::If"][1] if "Fn::If" in entry else entry
        granted |= permissions.actions_of(policy["PolicyDocument"]["Statement"])
    # The member role never enters accounts or lists the organization.
    caller_only = {o.action for o in OPERATIONS if o.caller_only}
    own = PermissionsOptions(command=command)  # type: ignore[arg-type]
    assert granted == permissions.actions_of(permissions.parts(own).statements) - caller_only


def test_the_template_variant_attaches_the_write_policy_only_for_remediation() -> None:
    template = cloudformation.template(PermissionsOptions(command="all"))
    [_, conditional] = template["Resources"]["ImdsguardRole"]["Properties"]["Policies"]
    condition, remediate, otherwise = conditional["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "Variant"}, "remediation"]}
    assert remediate["PolicyName"] == "imdsguard-remediate"
    assert otherwise == {"Ref": "AWS::NoValue"}


def test_the_terraform_names_every_member_action_once_per_document() -> None:
    options = PermissionsOptions(command="all")
    text = terraform.render(options)
    member = permissions.parts(options, member=True)
    for action in permissions.actions_of(member.statements):
        assert text.count(f'"{action}"') == 1, action
    assert text.count("{") == text.count("}")
    assert "count  = var.remediation ? 1 : 0" in text
    assert '"ec2:Attribute/HttpTokens"' in text


def test_a_denial_names_the_iam_action() -> None:
    error = {"Error": {"Code": "UnauthorizedOperation", "Message": "You are not authorized."}}
    exc = ClientError(error, "DescribeLaunchTemplates")  # type: ignore[arg-type]
    assert "ec2:DescribeLaunchTemplates" in str(translate(exc))
    dry_run = ClientError(error, "ModifyInstanceMetadataOptions")  # type: ignore[arg-type]
    assert "(missing permission ec2:ModifyInstanceMetadataOptions)" in str(
        translate(dry_run, "ModifyInstanceMetadataOptions(DryRun)")
    )
    named = {"Error": {"Code": "AccessDenied", "Message": "not authorized: sts:AssumeRole"}}
    assert str(translate(ClientError(named, "AssumeRole"))).count("sts:AssumeRole") == 1  # type: ignore[arg-type]


def test_the_cli_prints_each_format(cli: Callable[..., CliResult]) -> None:
    scan = cli("permissions", "scan")
    assert scan.code == 0
    assert json.loads(scan.out) == _policy("scan")
    template = cli("permissions", "all", "--format", "cloudformation")
    assert json.loads(template.out)["AWSTemplateFormatVersion"] == "2010-09-09"
    assert "StackSet" in template.err
    assert cli("permissions", "apply", "--kinds", "instances", "--format", "terraform").code == 0


@pytest.mark.parametrize(
    "argv",
    [
        ("permissions",),
        ("permissions", "fix"),
        ("permissions", "scan", "--kinds", "bogus"),
        ("permissions", "scan", "--partition", "aws-xx"),
        ("permissions", "apply", "--kinds", "launch-configurations"),
        ("permissions", "scan", "--role-name", "bad name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: tuple[str, ...], cli: Callable[..., CliResult]
) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("imdsguard: error: ")
    assert result.err.count("\n") == 1


def permission_table() -> str:
    rows = [
        BEGIN,
        "| action | commands | for | what fails without it |",
        "|---|---|---|---|",
        *(
            f"| `{g.action}` | {', '.join(g.commands)} | {g.purpose} | {g.without} |"
            for g in permissions.grants()
        ),
        END,
    ]
    return "\n".join(rows)


def test_the_docs_table_matches_the_kind_table() -> None:
    text = DOC.read_text()
    start, end = text.find(BEGIN), text.find(END)
    assert 0 <= start < end, f"{DOC.name} lost its {BEGIN!r} block"
    assert text[start : end + len(END)] == permission_table(), (
        f"replace the block with:\n{permission_table()}"
    )
