"""PURE: the guardrail policy (SCP or IAM) that stops IMDSv1 from coming back, as JSON text.

Every statement follows one of AWS's published examples (docs/aws-behaviour.md#guardrails): the EC2
user
guide's IMDSv2 policy examples, and the EC2 Auto Scaling guide's "Require a launch
template and a version number".
"""

from __future__ import annotations

import json
from typing import Any

from imdsguard.errors import UsageError
from imdsguard.model.kinds import (
    ACCOUNT_DEFAULTS,
    AUTO_SCALING_GROUPS,
    INSTANCES,
    LAUNCH_CONFIGURATIONS,
    IamAction,
)
from imdsguard.options import GuardrailOptions

# AWS Organizations quota: SCP documents up to 5,120 bytes, counted exactly as saved
# through the API (the console strips whitespace, the API does not), so SCPs print minified.
SCP_MAX_BYTES = 5120
Statement = dict[str, Any]
# The actions come from the kind table (model/kinds.py): what launches or creates a kind
# (``guarded``), and what changes an existing one's settings (``writes``).
LAUNCH = INSTANCES.guarded
MODIFY_INSTANCE = INSTANCES.writes
MODIFY_DEFAULTS = ACCOUNT_DEFAULTS.writes
CREATE_LAUNCH_CONFIGURATION = LAUNCH_CONFIGURATIONS.guarded
CREATE_OR_UPDATE_GROUP = AUTO_SCALING_GROUPS.guarded


def statement(
    sid: str,
    effect: str,
    actions: tuple[IamAction, ...],
    condition: dict[str, Any] | None = None,
    resource: str = "*",
) -> Statement:
    """One policy statement; also the building block of permissions.py's Allow policies."""
    # One action is written as a string, as in AWS's examples.
    action: str | list[str] = actions[0] if len(actions) == 1 else list(actions)
    result: Statement = {"Sid": sid, "Effect": effect, "Action": action, "Resource": resource}
    if condition:
        result["Condition"] = condition
    return result


def document(statements: list[Statement]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _deny(sid: str, actions: tuple[IamAction, ...], condition: dict[str, Any] | None) -> Statement:
    return statement(sid, "Deny", actions, condition)


def _except_admins(allow_roles: tuple[str, ...]) -> dict[str, Any] | None:
    # No admin roles named: nobody may do it (no condition at all).
    if not allow_roles:
        return None
    roles: str | list[str] = allow_roles[0] if len(allow_roles) == 1 else list(allow_roles)
    return {"ArnNotLike": {"aws:PrincipalArn": roles}}


def statements(options: GuardrailOptions) -> list[Statement]:
    """The policy's statements, in the order a reader should meet them."""
    instance = f"arn:{options.partition}:ec2:*:*:instance/*"
    result = [
        {
            **_deny(
                "RequireImdsV2AtLaunch",
                LAUNCH,
                {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}},
            ),
            "Resource": instance,
        },
        # Null=false: only requests that set HttpTokens are judged; a hop-limit-only
        # change (HttpTokens absent) would otherwise match StringNotEquals and be denied.
        _deny(
            "RequireImdsV2OnModify",
            MODIFY_INSTANCE,
            {
                "StringNotEquals": {"ec2:Attribute/HttpTokens": "required"},
                "Null": {"ec2:Attribute/HttpTokens": "false"},
            },
        ),
        # Role credentials fetched through IMDSv1 carry RoleDelivery 1.0: refuse them.
        _deny(
            "DenyImdsV1RoleCredentials", ("*",), {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}
        ),
    ]
    if options.max_hop_limit is not None:
        limit = {"ec2:MetadataHttpPutResponseHopLimit": str(options.max_hop_limit)}
        cap = _deny("CapImdsHopLimit", LAUNCH, {"NumericGreaterThan": limit})
        result.append({**cap, "Resource": instance})
    admins = _except_admins(options.allow_roles)
    result += [
        _deny("ProtectImdsAccountDefaults", MODIFY_DEFAULTS, admins),
        # Launch configurations cannot be fixed after creation (docs/aws-behaviour.md#the-api).
        _deny("DenyLaunchConfigurations", CREATE_LAUNCH_CONFIGURATION, admins),
        _deny(
            "RequireLaunchTemplatesForGroups",
            CREATE_OR_UPDATE_GROUP,
            {"Null": {"autoscaling:LaunchConfigurationName": "false"}},
        ),
    ]
    if options.allow_roles:
        # Even the admins' launch configurations must require tokens.
        result.append(
            _deny(
                "RequireImdsV2InLaunchConfigurations",
                CREATE_LAUNCH_CONFIGURATION,
                {"StringNotEquals": {"autoscaling:MetadataHttpTokens": "required"}},
            )
        )
    if options.pin_template_versions:
        # Groups on $Latest/$Default skip the RunInstances permission check when a new
        # template version appears (EC2 Auto Scaling guide); pinned versions are checked.
        result.append(
            _deny(
                "RequirePinnedTemplateVersions",
                CREATE_OR_UPDATE_GROUP,
                {"Bool": {"autoscaling:LaunchTemplateVersionSpecified": "false"}},
            )
        )
    return result


def policy(options: GuardrailOptions) -> dict[str, Any]:
    return document(statements(options))


def render(options: GuardrailOptions) -> str:
    """The policy text: minified for an SCP (and checked against its quota), indented for IAM."""
    document = policy(options)
    if options.format == "iam":
        return json.dumps(document, indent=2) + "\n"
    text = json.dumps(document, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > SCP_MAX_BYTES:
        raise UsageError(
            f"the SCP would be {size} bytes, over the {SCP_MAX_BYTES}-byte quota: "
            "use fewer --allow-role ARNs (wildcards help) or --format iam"
        )
    return text + "\n"
