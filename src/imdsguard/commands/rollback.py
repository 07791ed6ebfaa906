"""``imdsguard rollback JOURNAL``: put everything a journal changed back as it was (not AMIs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from imdsguard.commands.common import (
    add_aws_args,
    add_executor_args,
    aws_options,
    executor_options,
    positive_int,
    session_factory,
)
from imdsguard.commands.remediation_args import (
    ROLLBACK_EXIT_HELP,
    add_write_args,
    apply_options,
)
from imdsguard.model.scan import EXIT_OK


def run(args: argparse.Namespace) -> int:
    from imdsguard.commands.apply import print_run, saying_on_ctrl_c
    from imdsguard.progress import progress_sink
    from imdsguard.remediate.journal import EmptyJournal, Journal
    from imdsguard.remediate.rollback import run_rollback

    executor = executor_options(args)
    try:
        journal, state = Journal.reopen(Path(args.journal))
    except EmptyJournal as exc:
        print(f"imdsguard: {exc}; nothing to roll back", file=sys.stderr)
        return EXIT_OK
    print(f"imdsguard: journal {journal.path} (rollback records appended)", file=sys.stderr)
    factory = session_factory(aws_options(args))
    factory.identity()
    again = f"imdsguard rollback {journal.path}"
    try:
        with (
            saying_on_ctrl_c(f"stopping after in-flight restores; continue with: {again}"),
            progress_sink(enabled=not args.quiet, label="rolling back") as progress,
        ):
            result = run_rollback(
                factory,
                state,
                journal,
                options=apply_options(args),
                progress=progress,
                role_name=args.role_name,
                external_id=args.external_id,
                max_scopes=args.max_workers,
                executor=executor,
            )
    finally:
        journal.close()
    print_run(result, "restored")
    return result.exit_code()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "rollback",
        help="undo what a journal changed (idempotent, resumable; AMIs excepted)",
        description="Restore the exact previous metadata options (tokens, endpoint, hop "
        "limit) of every instance the journal's apply changed or may have changed, the "
        "previous default version of every launch template (no version is deleted) and "
        "the previous account defaults, and verify them. AMI ImdsSupport cannot be "
        "undone and is left as is. Safe to run again.",
        epilog=ROLLBACK_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("journal", metavar="JOURNAL", help="journal written by apply")
    add_aws_args(parser)
    group = parser.add_argument_group("accounts")
    group.add_argument("--role-name", help="role to assume in other accounts (default: plan's)")
    group.add_argument("--external-id", help="external id for AssumeRole")
    group.add_argument("--max-workers", type=positive_int, default=8, help="scopes in parallel")
    add_executor_args(parser)
    add_write_args(parser)
    parser.set_defaults(handler=run)
