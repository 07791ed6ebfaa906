"""``imdsguard diff``: what changed between two stored scans, regressions first."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imdsguard.commands.common import add_db_arg, print_renderable
from imdsguard.errors import UsageError

DIFF_EXIT_CODES = """exit codes:
  0  no new failures, and B read every scope and resource kind A read
  1  at least one new failure (a regression), or a re-judged resource failing in B
  2  usage error: unknown scan id, fewer than two scans, unreadable database
  3  incomplete: B has scope errors, or did not scan a scope or resource kind A
     scanned (wins over 1)
"""


def _scan_ids(args: argparse.Namespace, latest: list[int]) -> tuple[int, int]:
    """A and B from the arguments, defaulting to the two most recent scans."""
    if args.b is not None:
        return args.a, args.b
    if len(latest) < 2:
        raise UsageError("need two scans to compare; run `imdsguard scan` (see `history`)")
    if args.a is not None:
        return args.a, latest[0]
    return latest[1], latest[0]


def run(args: argparse.Namespace) -> int:
    from imdsguard.history.diff import diff
    from imdsguard.history.report import drift_json, drift_table
    from imdsguard.history.store import default_path, open_history

    path = (args.db or default_path()).expanduser()
    if not path.exists():
        raise UsageError(f"no history database at {path}; run `imdsguard scan` first")
    with open_history(path, create=False) as history:
        latest = [scan_id for scan_id, _ in history.list_scans(2)]
        a, b = (history.load(i) for i in _scan_ids(args, latest))
    drift = diff(a, b)
    heads = (a.scan_id, a.scan), (b.scan_id, b.scan)
    if args.format == "json":
        sys.stdout.write(drift_json(drift, *heads))
    else:
        print_renderable(drift_table(drift, *heads))
    return drift.exit_code()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "diff",
        help="compare two stored scans: new failures first, then fixes and changes",
        description="Compare scan A with scan B (ids from `imdsguard history`). With no ids, "
        "compare the two most recent scans; with one, compare it with the most recent. "
        "A resource missing from B is 'vanished' only if B read its kind and its scope "
        "cleanly; otherwise it is 'unknown'. A verdict moved by different evaluation options "
        "(--strict-amis, --imds-disabled) is 're-judged', not fixed or new.",
        epilog=DIFF_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", nargs="?", type=int, metavar="A", help="the earlier scan id")
    parser.add_argument("b", nargs="?", type=int, metavar="B", help="the later scan id")
    add_db_arg(parser)
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )
    parser.set_defaults(handler=run)
