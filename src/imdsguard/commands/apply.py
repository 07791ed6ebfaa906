"""``imdsguard apply``: execute a plan (or plan and apply with --yes), journaled and verified."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from imdsguard.commands import amis_gate
from imdsguard.commands.common import (
    add_executor_args,
    add_scope_args,
    aws_options,
    executor_options,
    print_renderable,
    scope_options,
    session_factory,
)
from imdsguard.commands.remediation_args import (
    REMEDIATION_EXIT_HELP,
    ROLLOUT_FLAGS,
    add_plan_args,
    add_rollout_args,
    add_write_args,
    apply_options,
    plan_options,
    rollout_options,
)
from imdsguard.errors import UsageError
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.scan import EXIT_FINDINGS

if TYPE_CHECKING:
    from imdsguard.aws.session import SessionFactory
    from imdsguard.model.remediation import Plan, RunResult
    from imdsguard.model.rollout import RolloutResult
    from imdsguard.options import RolloutOptions
    from imdsguard.remediate.journal import Journal, JournalState


def print_run(result: RunResult, verb: str) -> None:
    from imdsguard.report.remediation import run_renderable

    print_renderable(run_renderable(result, verb))


@contextmanager
def saying_on_ctrl_c(message: str) -> Iterator[None]:
    """Print ``message`` the moment Ctrl-C arrives, then interrupt as Python would: the
    run may take a while to let its in-flight changes finish and journal them."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        print(f"imdsguard: {message}", file=sys.stderr, flush=True)
        raise KeyboardInterrupt

    # Only where Python's own handler is in place: an ignored SIGINT stays ignored.
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _confirmed(plan: Plan) -> bool:
    answer = input(f"Apply {len(plan.changes)} change(s)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


# Flags that only shape a new plan: with a plan file or a journal they would be ignored.
PLANNING_FLAGS = (
    "regions", "accounts", "organization", "config", "lookback_days", "include_in_use",
    "include_unknown", "exclude_tag", "exclude_ids", "hop_limit", "container_hop_limit",
    "enforce", "amis", "strict_amis",
)  # fmt: skip


def _refuse_ignored_flags(args: argparse.Namespace) -> None:
    given = [name for name in PLANNING_FLAGS if getattr(args, name) not in (None, False)]
    if tuple(args.resources) != RESOURCE_NAMES:
        given.append("resources")
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UsageError(f"{flags}: planning options do not apply to a plan file or --resume")


def _load(args: argparse.Namespace) -> tuple[SessionFactory, Plan, Journal, JournalState | None]:
    from imdsguard.commands.plan import make_plan, print_plan
    from imdsguard.plan import planfile
    from imdsguard.remediate import journal as journal_mod

    if args.resume or args.plan:
        _refuse_ignored_flags(args)
    if args.resume:
        if args.plan or args.journal:
            raise UsageError("--resume takes neither a plan file nor --journal")
        given = [n for n in ROLLOUT_FLAGS if getattr(args, n) is not None]
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            raise UsageError(f"{flags}: a resumed run keeps the rollout its journal records")
        try:
            journal, state = journal_mod.Journal.reopen(Path(args.resume))
        except journal_mod.EmptyJournal as exc:
            raise UsageError(
                f"{exc}; start the run again: imdsguard apply PLAN --journal {exc.path}"
            ) from exc
        factory = session_factory(aws_options(args))
        factory.identity()
        settled = frozenset(c.key for c in state.plan.changes if state.settled(c.key))
        plan = amis_gate.gate(state.plan, args.yes_irreversible, settled)
        return factory, plan, journal, state
    if args.plan:
        plan = planfile.load(args.plan)
        factory = session_factory(aws_options(args))
        factory.identity()
    else:
        if not args.yes and not sys.stdin.isatty():
            raise UsageError("nothing applied: give a plan file or --yes (stdin is no terminal)")
        factory, plan = make_plan(
            aws_options(args), scope_options(args), plan_options(args), args.quiet
        )
        print_plan(plan)
        if not args.yes and not _confirmed(plan):
            raise _Declined
    plan = amis_gate.gate(plan, args.yes_irreversible)
    path = Path(args.journal) if args.journal else journal_mod.default_path()
    version = journal_mod.JOURNAL_VERSION
    if rollout_options(args) is not None:
        version = journal_mod.ROLLOUT_JOURNAL_VERSION
    return factory, plan, journal_mod.Journal.create(path, plan, version=version), None


class _Declined(Exception):
    """The operator answered no at the prompt."""


def _rollout(args: argparse.Namespace, state: JournalState | None) -> RolloutOptions | None:
    if state is None or not state.rollout:
        return rollout_options(args) if state is None else None
    from imdsguard.remediate.rollout_journal import rollout_from_json

    return rollout_from_json(state.rollout[0])


# Under this, a soak can end before CloudWatch has delivered the refusals it is meant to
# see: the metric arrives minutes late (docs/rollout.md#how-long-to-soak).
SHORT_SOAK = 300.0


def _warn_short_soak(factory: SessionFactory, rollout: RolloutOptions) -> None:
    if rollout.soak_seconds < SHORT_SOAK and not factory.endpoint_overridden:
        print(
            f"imdsguard: warning: a soak of {rollout.soak_seconds:g}s is under 5 minutes: "
            "CloudWatch delivers MetadataNoTokenRejected minutes late, so refusals made "
            "during a wave may show only after its soak (docs/rollout.md#how-long-to-soak)",
            file=sys.stderr,
        )


# A staged rollout soaks and halts between waves in this process; its waves do not run
# on Dask (docs/organization-scale.md#apply-and-rollback).
DASK_ROLLOUT = (
    "--executor dask does not run a staged rollout (--waves, --wave-by, --soak, "
    "--poll-interval, --halt-on-alarm, --on-breakage); run it with --executor local"
)


def run(args: argparse.Namespace) -> int:
    from imdsguard.progress import progress_sink
    from imdsguard.remediate.apply import run_apply
    from imdsguard.remediate.rollout import run_rollout

    executor = executor_options(args)
    # Any rollout flag makes a rollout (--soak, --halt-on-alarm ... alone too): refused
    # before a rollout journal exists that a later --resume would read as a plain apply.
    if executor.name == "dask" and rollout_options(args) is not None:
        raise UsageError(DASK_ROLLOUT)
    try:
        factory, plan, journal, state = _load(args)
    except _Declined:
        print("imdsguard: nothing applied", file=sys.stderr)
        return EXIT_FINDINGS
    print(f"imdsguard: journal {journal.path}", file=sys.stderr)
    rollout: RolloutResult | None = None
    try:
        staged = _rollout(args, state)
        if staged is not None and executor.name == "dask":
            raise UsageError(DASK_ROLLOUT)  # resuming a rollout journal
        if staged is not None:
            _warn_short_soak(factory, staged)
        with (
            saying_on_ctrl_c("stopping after in-flight changes..."),
            progress_sink(enabled=not args.quiet, label="applying") as progress,
        ):
            common: dict[str, Any] = {
                "options": apply_options(args, check_permissions=args.check_permissions),
                "progress": progress,
                "role_name": args.role_name or plan.role_name,
                "external_id": args.external_id,
                "max_scopes": args.max_workers,
                "state": state,
            }
            if staged is None:
                result = run_apply(factory, plan, journal, executor=executor, **common)
            else:
                rollout = run_rollout(
                    factory, plan, journal, rollout=staged, say=_say(args.quiet), **common
                )
                result = rollout.run
    except KeyboardInterrupt:
        print(f"imdsguard: finish with: imdsguard apply --resume {journal.path}", file=sys.stderr)
        raise
    finally:
        journal.close()
    print_run(result, "applied")
    if rollout is not None:
        return _print_rollout(rollout, journal.path)
    if any(r.outcome == "applied" for r in result.results):
        print(f"journal: {journal.path} (undo with: imdsguard rollback {journal.path})")
    else:
        print(f"journal: {journal.path} (nothing was applied, so nothing to undo)")
    return result.exit_code()


def _say(quiet: bool) -> Any:
    def say(line: str) -> None:
        if not quiet:
            print(f"imdsguard: {line}", file=sys.stderr, flush=True)

    return say


def _print_rollout(rollout: RolloutResult, path: Path) -> int:
    from imdsguard.report.rollout import rollout_renderable

    print_renderable(rollout_renderable(rollout))
    for warning in rollout.warnings:
        print(f"imdsguard: warning: {warning}", file=sys.stderr)
    applied = any(r.outcome == "applied" for r in rollout.run.results)
    undo = f"undo with: imdsguard rollback {path}" if applied else "nothing is left applied"
    print(f"journal: {path} ({undo})")
    if rollout.halt is not None:
        print(f"imdsguard: halted: {'; '.join(rollout.halt.reasons)}", file=sys.stderr)
    return rollout.exit_code()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "apply",
        help="require IMDSv2: execute a plan file, or plan and apply with --yes",
        description="Execute exactly the changes of PLAN (from `imdsguard plan --output`), "
        "or plan and apply in one step. Every change is journaled before it is made, then "
        "verified. Without a plan file or --yes, asks for confirmation on a terminal.",
        epilog=REMEDIATION_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("plan", nargs="?", metavar="PLAN", help="plan file to execute")
    parser.add_argument("--yes", action="store_true", help="plan and apply without asking")
    parser.add_argument("--resume", metavar="JOURNAL", help="finish an interrupted run")
    parser.add_argument("--journal", help="journal path (default: under the state directory)")
    parser.add_argument(
        "--check-permissions",
        action="store_true",
        help="DryRun one change per scope first; skip scopes without permission",
    )
    parser.add_argument(
        "--yes-irreversible",
        action="store_true",
        help="confirm the AMI changes (--amis) without a prompt: ImdsSupport=v2.0 cannot be "
        "undone, and --yes alone never sets it",
    )
    add_scope_args(parser)
    add_executor_args(parser)
    add_plan_args(parser)
    add_write_args(parser)
    add_rollout_args(parser)
    parser.set_defaults(handler=run)
