"""``imdsguard guardrails``: print the SCP or IAM policy that keeps IMDSv1 from coming back."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imdsguard.commands.common import add_partition_arg, positive_int
from imdsguard.options import GuardrailOptions


def run(args: argparse.Namespace) -> int:
    from imdsguard.guardrails import render

    options = GuardrailOptions(
        format=args.format,
        max_hop_limit=args.max_hop_limit,
        allow_roles=tuple(args.allow_role or ()),
        pin_template_versions=args.pin_template_versions,
        partition=args.partition,
    )
    sys.stdout.write(render(options))
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "guardrails",
        help="print a policy (SCP or IAM) that denies launching or switching back to IMDSv1",
        description="Print a Deny-only policy document: launches and metadata changes must "
        "require IMDSv2, role credentials fetched through IMDSv1 are refused, account IMDS "
        "defaults and launch configurations are reserved to the allowed admin roles, and Auto "
        "Scaling groups must use launch templates. Offline: calls no AWS API.",
    )
    parser.add_argument(
        "--format",
        choices=("scp", "iam"),
        default="scp",
        help="scp: minified, checked against the 5,120-byte SCP quota (default); "
        "iam: indented, for an IAM managed policy or permissions boundary",
    )
    parser.add_argument(
        "--max-hop-limit",
        type=positive_int,
        help="also deny launches whose metadata hop limit exceeds N (2 suits containers)",
    )
    parser.add_argument(
        "--allow-role",
        action="append",
        metavar="ARN",
        help="role ARN (wildcards allowed) still permitted to change account IMDS defaults "
        "and create launch configurations; repeatable (default: nobody)",
    )
    parser.add_argument(
        "--pin-template-versions",
        action="store_true",
        help="also require Auto Scaling groups to name a launch-template version number, "
        "not $Latest/$Default (then new versions reach groups only by an explicit update)",
    )
    add_partition_arg(parser)
    parser.set_defaults(handler=run)
