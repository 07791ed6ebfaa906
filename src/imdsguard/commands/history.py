"""``imdsguard history``: list the stored scans with their summaries, newest first."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imdsguard.commands.common import add_db_arg, positive_int, print_renderable


def run(args: argparse.Namespace) -> int:
    from imdsguard.history.report import history_json, history_table
    from imdsguard.history.store import default_path, open_history

    path = (args.db or default_path()).expanduser()
    if not path.exists():
        # Reading must not create a database; an absent one simply holds no scans.
        entries = []
    else:
        with open_history(path, create=False) as history:
            entries = history.list_scans(args.limit)
    if args.format == "json":
        sys.stdout.write(history_json(entries))
    elif entries:
        print_renderable(history_table(entries))
    else:
        print(f"imdsguard: no scans stored in {path}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "history",
        help="list stored scans with their summaries",
        description="List the scans stored by `imdsguard scan`, newest first.",
        epilog="exit codes:\n  0  listed (an empty or absent history lists nothing)\n"
        "  2  usage error, or the database cannot be read",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_arg(parser)
    parser.add_argument(
        "--limit", type=positive_int, default=20, help="show at most N scans (default 20)"
    )
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )
    parser.set_defaults(handler=run)
