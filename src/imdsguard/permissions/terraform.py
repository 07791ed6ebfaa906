"""PURE: the member-account role as Terraform (HCL): aws_iam_policy_document, role, policies.

The same statements as the CloudFormation template (``permissions.parts(member=True)``),
with the same inputs as variables; ``remediation`` attaches the write policy when both
are generated (``permissions all``).
"""

from __future__ import annotations

import json
from typing import Any

from imdsguard import __version__
from imdsguard.guardrails import Statement
from imdsguard.options import PermissionsOptions
from imdsguard.permissions import ASSUME_ROLE, parts
from imdsguard.permissions.cloudformation import DEFAULT_ROLE_NAME


def _string(value: str) -> str:
    # JSON string syntax is HCL's for plain text; "${" and "%{" would start a template.
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def _list(values: Any) -> str:
    items = [values] if isinstance(values, str) else list(values)
    if len(items) == 1:
        return f"[{_string(items[0])}]"
    return "[\n" + "".join(f"      {_string(v)},\n" for v in items) + "    ]"


def _statement(s: Statement) -> list[str]:
    lines = [
        "  statement {",
        f"    sid       = {_string(s['Sid'])}",
        f"    effect    = {_string(s['Effect'])}",
        f"    actions   = {_list(s['Action'])}",
        f"    resources = {_list(s['Resource'])}",
    ]
    for test, keys in s.get("Condition", {}).items():
        for variable, values in keys.items():
            lines += [
                "    condition {",
                f"      test     = {_string(test)}",
                f"      variable = {_string(variable)}",
                f"      values   = {_list(values)}",
                "    }",
            ]
    return [*lines, "  }"]


def _document(name: str, statements: list[Statement]) -> list[str]:
    body = [line for s in statements for line in _statement(s)]
    return [f'data "aws_iam_policy_document" "{name}" {{', *body, "}", ""]


def _role_policy(name: str, count: str | None = None) -> list[str]:
    lines = [f'resource "aws_iam_role_policy" "{name}" {{']
    if count:
        lines.append(f"  count  = {count}")
    lines += [
        f'  name   = "imdsguard-{name}"',
        "  role   = aws_iam_role.imdsguard.id",
        f"  policy = data.aws_iam_policy_document.{name}.json",
        "}",
        "",
    ]
    return lines


HEADER = """\
variable "trusted_principal_arn" {
  type        = string
  description = "Who may assume the role: the audit account (arn:...:root) or role."
}

variable "external_id" {
  type        = string
  default     = null
  description = "Optional: the ExternalId imdsguard passes (--external-id)."
}

variable "role_name" {
  type        = string
  default     = "%s"
  description = "The role name imdsguard assumes (--role-name)."
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["%s"]
    principals {
      type        = "AWS"
      identifiers = [var.trusted_principal_arn]
    }
    dynamic "condition" {
      for_each = var.external_id == null ? [] : [var.external_id]
      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
}

resource "aws_iam_role" "imdsguard" {
  name               = var.role_name
  description        = "imdsguard: audit (and optionally fix) IMDSv1 in this account"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

output "role_arn" {
  value = aws_iam_role.imdsguard.arn
}
"""

REMEDIATION_VARIABLE = """\
variable "remediation" {
  type        = bool
  default     = false
  description = "false: scan and plan only; true: also apply and rollback."
}
"""


def render(options: PermissionsOptions) -> str:
    member = parts(options, member=True)
    both = bool(member.write) and options.command == "all"
    lines = [
        f"# imdsguard {__version__}: imdsguard permissions {options.command} --format terraform",
        "# The member-account role; see docs/permissions.md.",
        "",
        HEADER % (DEFAULT_ROLE_NAME, ASSUME_ROLE),
    ]
    if both:
        lines.append(REMEDIATION_VARIABLE)
    lines += _document("read", member.read) + _role_policy("read")
    if member.write:
        lines += _document("remediate", member.write)
        lines += _role_policy("remediate", "var.remediation ? 1 : 0" if both else None)
    return "\n".join(lines).rstrip("\n") + "\n"
