"""Roll back a journal: restore every resource that was, or may have been, changed."""

from __future__ import annotations

from collections import Counter, defaultdict

from imdsguard.aws.instances import get_instances_by_id
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.kinds import INSTANCES
from imdsguard.model.remediation import Change, ChangeResult, RunResult, same_settings
from imdsguard.model.scan import Scope
from imdsguard.options import ApplyOptions, ExecutorOptions
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers.interface import Applier
from imdsguard.remediate.appliers.registry import applier_for
from imdsguard.remediate.engine import Engine, StepContext
from imdsguard.remediate.journal import Journal, JournalState


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
    and the result says so once per kind.
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
    results = engine.run(changes, max_scopes)
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
