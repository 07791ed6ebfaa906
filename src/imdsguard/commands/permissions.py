"""``imdsguard permissions``: print the least-privilege IAM policy or member-role template."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imdsguard.commands.common import add_partition_arg, resource_list
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.options import PermissionsOptions


def run(args: argparse.Namespace) -> int:
    from imdsguard.permissions import cloudformation, policy_json, terraform

    options = PermissionsOptions(
        command=args.scope,
        kinds=args.kinds,
        format=args.format,
        partition=args.partition,
        role_name=args.role_name,
        rollback=args.rollback,
        security_hub=args.security_hub,
    )
    if options.format == "cloudformation":
        sys.stdout.write(cloudformation.render(options))
        # The notes go to stderr, so stdout stays a template to redirect into a file.
        sys.stderr.write(cloudformation.STACKSETS_NOTES)
    elif options.format == "terraform":
        sys.stdout.write(terraform.render(options))
    else:
        sys.stdout.write(policy_json(options))
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "permissions",
        help="print the least-privilege IAM policy (or member-role template) a command needs",
        description="Print exactly the IAM permissions imdsguard calls, derived from its kind "
        "table: 'scan' for scan and plan (read-only), 'apply' for apply and rollback, 'all' "
        "for both. json: the caller's IAM policy; cloudformation / terraform: the role to "
        "create in every member account. Offline: calls no AWS API. See docs/permissions.md.",
    )
    parser.add_argument("scope", choices=("scan", "apply", "all"), help="which commands to cover")
    parser.add_argument(
        "--kinds",
        type=resource_list,
        default=RESOURCE_NAMES,
        metavar="KINDS",
        help="comma-separated kinds, as scan's --resources (default all)",
    )
    parser.add_argument(
        "--format",
        choices=("json", "cloudformation", "terraform"),
        default="json",
        help="json: an IAM policy document (default); cloudformation / terraform: a "
        "member-account role taking the trusted principal and an optional ExternalId",
    )
    add_partition_arg(parser)
    parser.add_argument(
        "--role-name",
        help="allow sts:AssumeRole only into this role (as scan's --role-name; default any)",
    )
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="also allow rollback to restore HttpTokens=optional: drops the condition that "
        "ModifyInstanceMetadataOptions may only set HttpTokens=required",
    )
    parser.add_argument(
        "--security-hub",
        action="store_true",
        help="also allow scan --security-hub to import findings (securityhub:BatchImportFindings)",
    )
    parser.set_defaults(handler=run)
