"""``imdsguard plan``: what would change, what is held back and why; writes the plan file."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from imdsguard.commands.common import (
    add_quiet_arg,
    add_scope_args,
    aws_options,
    print_renderable,
    scope_options,
    session_factory,
    write_text,
)
from imdsguard.commands.remediation_args import PLAN_EXIT_HELP, add_plan_args, plan_options
from imdsguard.errors import UsageError

if TYPE_CHECKING:
    from imdsguard.aws.session import SessionFactory
    from imdsguard.model.remediation import Plan
    from imdsguard.options import AwsOptions, PlanOptions, ScopeOptions


def make_plan(
    aws: AwsOptions, scopes: ScopeOptions, options: PlanOptions, quiet: bool
) -> tuple[SessionFactory, Plan]:
    """Scan, read usage evidence, and plan: shared by ``plan``, ``apply`` and ``demo``."""
    from imdsguard.options import EvaluationOptions
    from imdsguard.plan import evidence
    from imdsguard.plan.build import build_plan
    from imdsguard.progress import progress_sink
    from imdsguard.scan import run_scan

    factory = session_factory(aws)
    unknown = sorted(set(scopes.regions or ()) - factory.known_regions())
    if unknown:
        raise UsageError(f"unknown Region name(s): {', '.join(unknown)}")
    factory.identity()  # fail fast, in one line, on missing or rejected credentials
    with progress_sink(enabled=not quiet) as progress:
        evaluation = EvaluationOptions(strict_amis=options.strict_amis)
        scan = run_scan(factory, scopes, evaluation, options.resources, progress=progress)
    found = evidence.gather(factory, scan, scopes, options)
    now = datetime.now(UTC)
    return factory, build_plan(scan, found, options, now, role_name=scopes.role_name)


def print_plan(plan: Plan, stream: Any = None) -> None:
    from imdsguard.report.remediation import plan_renderable

    print_renderable(plan_renderable(plan), stream)


def run_demo_plan(args: argparse.Namespace, aws: AwsOptions, scopes: ScopeOptions) -> int:
    """``demo --plan``: the plan for the sample estate, as ``plan --container-hop-limit``."""
    from imdsguard.options import PlanOptions

    _, plan = make_plan(aws, scopes, PlanOptions(container_hop_limit=True), quiet=True)
    print_plan(plan)
    return plan.exit_code()


def run(args: argparse.Namespace) -> int:
    from imdsguard.plan import planfile

    _, plan = make_plan(aws_options(args), scope_options(args), plan_options(args), args.quiet)
    if args.output == "-":
        write_text(planfile.dumps(plan), None)
        print_plan(plan, sys.stderr)
    else:
        if args.output:
            write_text(planfile.dumps(plan), args.output)
        print_plan(plan)
        if args.output:
            print(f"plan written to {args.output}; run: imdsguard apply {args.output}")
        elif plan.changes:
            print(
                "imdsguard: plan not saved; to apply exactly this plan, save it with "
                "--output plan.json, then run: imdsguard apply plan.json",
                file=sys.stderr,
            )
    return plan.exit_code()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "plan",
        help="plan the IMDSv2 change: what changes, what is held back (read-only)",
        description="Scan, read each candidate instance's MetadataNoToken usage, and plan "
        "which instances, launch templates, account defaults and (with --amis) AMIs to "
        "switch to IMDSv2, and which launch configurations and groups need a migration. "
        "Read-only.",
        epilog=PLAN_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_args(parser)
    add_plan_args(parser)
    parser.add_argument("--output", help="write the plan JSON here ('-' for stdout)")
    add_quiet_arg(parser, "no progress bar")
    parser.set_defaults(handler=run)
