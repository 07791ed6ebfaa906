"""``imdsguard status JOURNAL...``: is every change the journals applied still in place, and
has any instance refused IMDSv1 calls since? For cron and CI in the weeks after a rollout."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from imdsguard.commands.common import (
    add_aws_args,
    aws_options,
    console,
    positive_int,
    print_renderable,
    session_factory,
    write_text,
)

STATUS_EXIT_HELP = """exit codes:
  0  every change is still in place (or its resource is gone), and no instance has
     refused an IMDSv1 call (MetadataNoTokenRejected) since its change
  1  a change was set back (IMDSv1 allowed again), or an instance refused IMDSv1
     calls since its change: something there still needs IMDSv1
  2  usage error: a missing, empty or damaged journal, a bad option
  3  something could not be read (a resource, the metrics, an account), or a change is
     unfinished: it is never reported in place (wins over 1)
  4  internal error (a bug; rerun with --debug for the traceback)
"""


def run(args: argparse.Namespace) -> int:
    from imdsguard.remediate.status import applied_changes
    from imdsguard.remediate.status_read import check_status
    from imdsguard.report.status import status_json, status_renderable

    journals = [Path(j) for j in dict.fromkeys(args.journals)]
    applied = [entry for path in journals for entry in applied_changes(path)]
    factory = session_factory(aws_options(args))
    factory.identity()
    result = check_status(
        factory,
        journals,
        applied,
        role_name=args.role_name,
        external_id=args.external_id,
        max_scopes=args.max_workers,
    )
    if args.format == "json":
        text = status_json(result)
    elif args.output:
        buffer = io.StringIO()
        console(buffer).print(status_renderable(result))
        text = buffer.getvalue()
    else:
        print_renderable(status_renderable(result))
        return result.exit_code()
    write_text(text, args.output)
    if args.output:
        print(f"imdsguard: {result.summary()}; written to {args.output}", file=sys.stderr)
    return result.exit_code()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "status",
        help="after a rollout: is every applied change still in place, did anything break?",
        description="For every change the journals applied and did not roll back, re-read "
        "the resource now: still in place, set back (a regression, shown with what it has "
        "now), or gone (a terminated instance, a deleted template). For instances, also "
        "count the IMDSv1 calls EC2 refused (MetadataNoTokenRejected) since the change. "
        "Reads only; meant for a cron job or a CI schedule in the weeks after a rollout.",
        epilog=STATUS_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("journals", nargs="+", metavar="JOURNAL", help="journals written by apply")
    add_aws_args(parser)
    group = parser.add_argument_group("accounts")
    group.add_argument("--role-name", help="role to assume in other accounts (default: plan's)")
    group.add_argument("--external-id", help="external id for AssumeRole")
    group.add_argument("--max-workers", type=positive_int, default=8, help="scopes in parallel")
    group = parser.add_argument_group("output")
    group.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )
    group.add_argument("--output", metavar="FILE", help="write the output to FILE")
    parser.set_defaults(handler=run)
