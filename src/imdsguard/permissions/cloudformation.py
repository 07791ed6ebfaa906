"""PURE: the member-account role as a CloudFormation template (JSON), for one stack or a StackSet.

The trusted principal (the audit account or role) and an optional ExternalId are
parameters; with ``permissions all`` a ``Variant`` parameter chooses read-only or
remediation. ARNs use the ``AWS::Partition`` pseudo parameter, so one template serves
every partition. tests/test_permissions.py validates it with cfn-lint.
"""

from __future__ import annotations

import json
from typing import Any

from imdsguard import __version__
from imdsguard.guardrails import document
from imdsguard.options import EXTERNAL_ID, PermissionsOptions
from imdsguard.permissions import ASSUME_ROLE, parts

DEFAULT_ROLE_NAME = "imdsguard-audit"
# An account root, role or user ARN in any partition.
PRINCIPAL_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+)$"

STACKSETS_NOTES = """\
Deploy the role to every member account with a service-managed StackSet:
  aws cloudformation create-stack-set --stack-set-name imdsguard-member-role \\
    --template-body file://imdsguard-role.json --capabilities CAPABILITY_NAMED_IAM \\
    --permission-model SERVICE_MANAGED \\
    --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\
    --parameters ParameterKey=TrustedPrincipalArn,ParameterValue=AUDIT_ROLE_ARN
  aws cloudformation create-stack-instances --stack-set-name imdsguard-member-role \\
    --deployment-targets OrganizationalUnitIds=ROOT_OR_OU_ID --regions us-east-1
IAM is global: deploy to one Region only. A service-managed StackSet never deploys to
the management account; create a plain stack there if it is to be scanned.
See docs/permissions.md.
"""


def _trust(principal: Any, external_id: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": ASSUME_ROLE,
        "Condition": {
            "Fn::If": [
                "HasExternalId",
                {"StringEquals": {"sts:ExternalId": external_id}},
                {"Ref": "AWS::NoValue"},
            ]
        },
    }
    return {"Version": "2012-10-17", "Statement": [statement]}


def template(options: PermissionsOptions) -> dict[str, Any]:
    member = parts(options, member=True)
    both = bool(member.write) and options.command == "all"
    parameters: dict[str, Any] = {
        "TrustedPrincipalArn": {
            "Type": "String",
            "Description": "who may assume the role: the audit account (arn:...:root) or role",
            "AllowedPattern": PRINCIPAL_PATTERN,
        },
        "ExternalId": {
            "Type": "String",
            "Default": "",
            "Description": "optional: the ExternalId imdsguard passes (--external-id)",
            "AllowedPattern": f"^$|{EXTERNAL_ID.pattern}",
        },
        "RoleName": {
            "Type": "String",
            "Default": DEFAULT_ROLE_NAME,
            "Description": "the role name imdsguard assumes (--role-name)",
        },
    }
    conditions: dict[str, Any] = {
        "HasExternalId": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]}
    }
    policies: list[Any] = [
        {"PolicyName": "imdsguard-read", "PolicyDocument": document(member.read)}
    ]
    if member.write:
        remediate = {"PolicyName": "imdsguard-remediate", "PolicyDocument": document(member.write)}
        if both:
            parameters["Variant"] = {
                "Type": "String",
                "Default": "read-only",
                "AllowedValues": ["read-only", "remediation"],
                "Description": "read-only: scan and plan; remediation: also apply and rollback",
            }
            conditions["Remediation"] = {"Fn::Equals": [{"Ref": "Variant"}, "remediation"]}
            policies.append({"Fn::If": ["Remediation", remediate, {"Ref": "AWS::NoValue"}]})
        else:
            policies.append(remediate)
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": {"Ref": "RoleName"},
            "Description": "imdsguard: audit (and optionally fix) IMDSv1 in this account",
            "AssumeRolePolicyDocument": _trust(
                {"Ref": "TrustedPrincipalArn"}, {"Ref": "ExternalId"}
            ),
            "Policies": policies,
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"imdsguard {__version__} member-account role "
        f"(imdsguard permissions {options.command}); see docs/permissions.md",
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": {"ImdsguardRole": role},
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["ImdsguardRole", "Arn"]}}},
    }


def render(options: PermissionsOptions) -> str:
    return json.dumps(template(options), indent=2) + "\n"
