"""``imdsguard demo``: scan a sample estate in an embedded emulator (no AWS account)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imdsguard.commands.common import (
    EXIT_CODES_HELP,
    add_history_args,
    add_output_args,
    add_resource_args,
)

# The embedded emulator keeps every account in memory and seeds them one by one.
MAX_ACCOUNTS = 2000
NEXT_STEPS = """Next, try:
  imdsguard demo --plan                what a fix would change, what it holds
  imdsguard demo --output-dir reports  every format: json, csv, junit, html, ...
  imdsguard demo --status all          the passing findings too
On your own account: imdsguard plan --output plan.json, then
imdsguard apply plan.json (it prints its journal), and
imdsguard rollback JOURNAL puts everything back."""


def run(args: argparse.Namespace) -> int:
    from imdsguard.commands.plan import run_demo_plan
    from imdsguard.commands.scan import run_scan_command
    from imdsguard.demo import run_demo

    code = run_demo(args, run_demo_plan if args.plan else run_scan_command)
    if not args.quiet:
        print(NEXT_STEPS, file=sys.stderr)
    return code


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="scan a sample fleet in an embedded AWS emulator (no AWS account needed)",
        description="Start an AWS emulator (moto) on 127.0.0.1, seed a sample estate of "
        "two accounts and three Regions, and scan it exactly as `scan` would. Unlike `scan`, "
        "the demo stores nothing in the scan history unless --db is given.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_resource_args(parser)
    add_output_args(parser)
    add_history_args(parser, by_default=False)
    parser.add_argument(
        "--plan",
        action="store_true",
        help="instead of the scan, show what `plan --container-hop-limit` would change",
    )
    parser.add_argument(
        "--accounts",
        dest="org_accounts",
        metavar="N",
        type=_organization_size,
        help="instead of the sample estate, an organization of N accounts (the management "
        f"account and N-1 members, 1-{MAX_ACCOUNTS}) with a few instances in each of two "
        "Regions; the scan enters each member with AssumeRole",
    )
    parser.set_defaults(handler=run)


def _organization_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_ACCOUNTS:
        raise argparse.ArgumentTypeError(f"expected a number of accounts, 1-{MAX_ACCOUNTS}")
    return size
