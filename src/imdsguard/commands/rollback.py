"""``imdsguard rollback JOURNAL...``: put everything the journals changed back as it was (not
AMIs); several journals in the order remediate/rollback_order.py gives."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imdsguard.commands.common import (
    add_aws_args,
    add_executor_args,
    aws_options,
    executor_options,
    positive_int,
    print_renderable,
    session_factory,
)
from imdsguard.commands.remediation_args import (
    ROLLBACK_EXIT_HELP,
    add_write_args,
    apply_options,
)
from imdsguard.errors import UsageError
from imdsguard.model.scan import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from rich.console import RenderableType

    from imdsguard.aws.session import SessionFactory
    from imdsguard.options import ExecutorOptions
    from imdsguard.remediate.journal import Journal, JournalState
    from imdsguard.remediate.rollback_order import Step


def run(args: argparse.Namespace) -> int:
    from imdsguard.remediate.journal import EmptyJournal, Journal, intent_times, read_records
    from imdsguard.remediate.rollback_order import ToUndo, order

    executor = executor_options(args)
    opened: dict[Path, Journal] = {}
    undo: list[ToUndo] = []
    # Two journals of one plan (applied twice) share its lock: they are rolled back one
    # after another by this run, never at once.
    plan_locks: dict[str, Any] = {}
    try:
        for path in _unique(args.journals):
            try:
                journal, state = Journal.reopen(path, plan_locks)
            except EmptyJournal as exc:
                print(f"imdsguard: {exc}; nothing to roll back", file=sys.stderr)
                continue
            opened[path] = journal
            undo.append(ToUndo(path, state, intent_times(path, read_records(path)[0])))
        steps = order(undo)
        return _roll_back(args, executor, steps, opened) if steps else EXIT_OK
    finally:
        for journal in opened.values():
            journal.close()


def _unique(journals: list[str]) -> list[Path]:
    """Each file once, however it is spelled: a second open of one journal would wait for
    its own lock."""
    seen: dict[Path, Path] = {}
    for name in journals:
        seen.setdefault(Path(name).resolve(), Path(name))
    return list(seen.values())


def _roll_back(
    args: argparse.Namespace,
    executor: ExecutorOptions,
    steps: list[Step],
    opened: dict[Path, Journal],
) -> int:
    """Each journal in ``steps`` order, once the whole order is known to be possible."""
    from imdsguard.remediate.rollback import enforcement_block

    if len(steps) > 1:
        print_renderable(order_renderable(steps))
    factory = session_factory(aws_options(args))
    factory.identity()

    def block(remaining: list[Step]) -> str | None:
        return enforcement_block(
            factory, remaining, role_name=args.role_name, external_id=args.external_id, warn=_warn
        )

    why = block(steps)
    if why is not None:
        raise UsageError(f"{why}. Nothing was rolled back.")
    code = EXIT_OK
    for number, step in enumerate(steps):
        if number:
            why = block(steps[number:])
            if why is not None:  # an earlier step left enforcement on after all
                print(f"imdsguard: stopped before {step.undo.path}: {why}", file=sys.stderr)
                return max(code, EXIT_FINDINGS)
        # Said once nothing stands in the way: only then is anything appended.
        print(f"imdsguard: journal {step.undo.path} (rollback records appended)", file=sys.stderr)
        again = "imdsguard rollback " + " ".join(str(s.undo.path) for s in steps[number:])
        journal = opened[step.undo.path]
        code = max(code, _one(args, executor, factory, journal, step.undo.state, again=again))
    return code


def _warn(message: str) -> None:
    print(f"imdsguard: {message}", file=sys.stderr)


def _one(
    args: argparse.Namespace,
    executor: ExecutorOptions,
    factory: SessionFactory,
    journal: Journal,
    state: JournalState,
    *,
    again: str,
) -> int:
    from imdsguard.commands.apply import print_run, saying_on_ctrl_c
    from imdsguard.progress import progress_sink
    from imdsguard.remediate.rollback import run_rollback

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
    print_run(result, "restored")
    return result.exit_code()


def order_renderable(steps: list[Step]) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from imdsguard.report.style import add_column, new_table

    table = new_table("Rollback order", ("#",))
    table.add_column("Journal", no_wrap=True)  # whole, to be copied into a command line
    add_column(table, "Changes")
    add_column(table, "Why here")
    for number, step in enumerate(steps, start=1):
        kinds = Counter(c.kind for c in step.undo.changes)
        changes = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        table.add_row(str(number), str(step.undo.path), changes, step.why)
    return Group(table, Text(f"Rolling back {len(steps)} journals in this order", style="bold"))


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "rollback",
        help="undo what journals changed (idempotent, resumable; AMIs excepted)",
        description="Restore the exact previous metadata options (tokens, endpoint, hop "
        "limit) of every instance the journal's apply changed or may have changed, the "
        "previous default version of every launch template (no version is deleted) and "
        "the previous account defaults, and verify them. AMI ImdsSupport cannot be "
        "undone and is left as is. Safe to run again. Several journals are rolled back "
        "one after the other, in an order shown before anything is written: a journal "
        "that enforced IMDSv2 (HttpTokensEnforced) first, then launch settings, then "
        "instances; where two changed the same resource, the later one first.",
        epilog=ROLLBACK_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "journals",
        nargs="+",
        metavar="JOURNAL",
        help="journals written by apply; several are rolled back in the order shown first",
    )
    add_aws_args(parser)
    group = parser.add_argument_group("accounts")
    group.add_argument("--role-name", help="role to assume in other accounts (default: plan's)")
    group.add_argument("--external-id", help="external id for AssumeRole")
    group.add_argument("--max-workers", type=positive_int, default=8, help="scopes in parallel")
    add_executor_args(parser)
    add_write_args(parser)
    parser.set_defaults(handler=run)
