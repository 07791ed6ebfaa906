"""Roll back a journal: restore every resource that was, or may have been, changed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from imdsguard.aws.account_defaults import get_account_defaults
from imdsguard.aws.instances import get_instances_by_id
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError, UsageError
from imdsguard.model.kinds import INSTANCES
from imdsguard.model.remediation import Change, ChangeResult, RunResult, same_settings
from imdsguard.model.scan import Scope
from imdsguard.options import ApplyOptions, ExecutorOptions
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers.interface import Applier
from imdsguard.remediate.appliers.registry import applier_for
from imdsguard.remediate.engine import Engine, StepContext
from imdsguard.remediate.journal import Journal, JournalState, default_path
from imdsguard.remediate.rollback_order import ENFORCED, Step, enforces
from imdsguard.remediate.status import applied_changes


def _rollback(applier: Applier, ctx: StepContext, change: Change) -> ChangeResult:
    """Idempotent: already-restored resources are verified, not written again."""
    return applier.rollback(ctx, change)


def run_rollback(
    factory: SessionFactory,
    state: JournalState,
    journal: Journal,
    *,
    options: ApplyOptions,
    progress: ProgressSink,
    role_name: str | None = None,
    external_id: str | None = None,
    max_scopes: int = 8,
    executor: ExecutorOptions | None = None,
) -> RunResult:
    """Every change with an intent record is restored to its ``before`` settings.

    Except kinds AWS cannot undo (``Applier.irreversible``: AMIs): they are left alone,
    and the result says so once per kind. A change that turned HttpTokensEnforced on (a
    rollout's final step) is restored first, before the others start: while it is on,
    AWS refuses to set the journal's instances back to optional
    (docs/aws-behaviour.md#the-api).
    """
    changes: list[Change] = []
    left: Counter[str] = Counter()
    for change in state.intents.values():
        note = applier_for(change.kind).irreversible
        if note is None:
            changes.append(change)
        else:
            left[note] += 1
    engine = Engine(
        factory,
        journal,
        options,
        _rollback,
        "rollback",
        progress,
        role_name or state.plan.role_name,
        external_id,
        executor or ExecutorOptions(),
    )
    first = [c for c in changes if enforces(c)]
    results = engine.run(first, max_scopes) if first else []
    results += engine.run([c for c in changes if not enforces(c)], max_scopes)
    unaccounted, errors = _unaccounted(
        factory, state, role_name or state.plan.role_name, external_id
    )
    return RunResult(
        results=tuple(results) + tuple(unaccounted),
        scope_errors=tuple(engine.scope_errors) + tuple(errors),
        success=("restored",),
        notes=tuple(note.format(n=n) for note, n in left.items()),
    )


def _unaccounted(
    factory: SessionFactory, state: JournalState, role_name: str | None, external_id: str | None
) -> tuple[list[ChangeResult], list[tuple[Scope, str]]]:
    """Instances the plan would change, with no record at all in this journal, that have
    the plan's new settings all the same: changed by a run whose records are lost (a
    damaged journal, or another journal). Reported and left alone, never exit 0.

    A crash leaves a prefix of the journal, so a plan change without records is
    normally one the run never reached; this re-read tells the two apart.
    """
    silent = [
        c
        for c in state.plan.changes
        if c.kind == INSTANCES.plan_kind and c.key not in state.intents
        and c.key not in state.outcomes
    ]  # fmt: skip
    by_scope: dict[Scope, list[Change]] = defaultdict(list)
    for change in silent:
        by_scope[change.scope].append(change)
    found: list[ChangeResult] = []
    errors: list[tuple[Scope, str]] = []
    for scope, changes in sorted(by_scope.items()):
        try:
            access = account_access(factory, scope.account_id, role_name, external_id)
            ec2 = factory.ec2(access, scope.region)
            current = get_instances_by_id(ec2, [c.resource_id for c in changes])
        except AwsError as exc:
            errors.append((scope, f"cannot check the changes this journal has no record of: {exc}"))
            continue
        for change in changes:
            inst = current.get(change.resource_id)
            if inst is None or same_settings(inst.metadata, change.before):
                continue
            if same_settings(inst.metadata, change.after):
                why = (
                    "the journal has no record of this change, yet the instance has the "
                    "plan's new settings: left alone (a damaged journal, or another run)"
                )
                found.append(ChangeResult(change, "failed", why, inst.metadata))
    return found, errors


def enforcement_block(
    factory: SessionFactory,
    steps: Sequence[Step],
    *,
    role_name: str | None,
    external_id: str | None,
    warn: Callable[[str], None],
) -> str | None:
    """Why rolling back ``steps`` in this order would ask AWS to set instances back to
    HttpTokens=optional where HttpTokensEnforced is on (AWS refuses it:
    docs/aws-behaviour.md#the-api), or None. Reads each such Region's account defaults
    once, before anything is written.

    A Region whose defaults cannot be read is not checked (``warn`` says so): AWS itself
    refuses the write there if it is enforced, so nothing unsafe is written either way.
    """
    undone: set[Scope] = set()  # Regions whose enforcement this step or an earlier one undoes
    enforced: dict[Scope, bool] = {}
    for step in steps:
        role = role_name or step.undo.state.plan.role_name
        # A journal undoes its own enforcement before its instances (run_rollback).
        undone |= step.undo.enforced_scopes()
        for scope in sorted(step.undo.optional_scopes() - undone):
            if scope not in enforced:
                enforced[scope] = _enforced(factory, scope, role, external_id, warn)
            if enforced[scope]:
                return _undo_first(scope, step.undo.path, [s.undo.path for s in steps])
    return None


def _enforced(
    factory: SessionFactory,
    scope: Scope,
    role_name: str | None,
    external_id: str | None,
    warn: Callable[[str], None],
) -> bool:
    try:
        access = account_access(factory, scope.account_id, role_name, external_id)
        ec2 = factory.ec2(access, scope.region)
        return get_account_defaults(ec2, scope.region).http_tokens_enforced == ENFORCED
    except AwsError as exc:
        warn(
            f"cannot check whether {scope.account_id}/{scope.region} enforces IMDSv2 ({exc}); "
            "rolling back anyway: AWS refuses HttpTokens=optional there if it does"
        )
        return False


def _undo_first(scope: Scope, path: Path, given: Sequence[Path]) -> str:
    where = f"{scope.account_id}/{scope.region}"
    head = (
        f"{path} sets instances in {where} back to HttpTokens=optional, but HttpTokensEnforced "
        "is enabled there and AWS refuses that"
    )
    enforcer = _enforcing_journal(scope, given)
    if enforcer is None:
        return (
            f"{head}; no journal in {default_path().parent} enforced it: turn it off first "
            f"(ModifyInstanceMetadataDefaults HttpTokensEnforced=disabled in {scope.region} "
            f"of account {scope.account_id}), then run this rollback again"
        )
    paths = " ".join(str(p) for p in (enforcer, *given))
    return f"{head}; {enforcer} enforced it: roll both back, in order: imdsguard rollback {paths}"


def _enforcing_journal(scope: Scope, given: Sequence[Path]) -> Path | None:
    """The most recent journal in the state directory that enforced ``scope`` and has not
    been rolled back; damaged or foreign files there are passed over."""
    found: list[tuple[datetime, Path]] = []
    skip = {p.resolve() for p in given}
    for path in sorted(default_path().parent.glob("*.jsonl")):
        if path.resolve() in skip:
            continue
        try:
            changes = applied_changes(path)
        except UsageError:
            continue
        found.extend(
            (a.since, path) for a in changes if a.change.scope == scope and enforces(a.change)
        )
    return max(found)[1] if found else None
