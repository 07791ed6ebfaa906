"""Roll back a journal: restore every resource that was, or may have been, changed."""

from __future__ import annotations

from imdsguard.aws.session import SessionFactory
from imdsguard.errors import AwsError
from imdsguard.model.kinds import AMIS
from imdsguard.model.remediation import Change, ChangeResult, RunResult, same_settings
from imdsguard.options import ApplyOptions
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers import steps_for
from imdsguard.remediate.engine import Engine, StepContext, settle
from imdsguard.remediate.journal import Journal, JournalState

IRREVERSIBLE_NOTE = (
    "AMIs: {n} had ImdsSupport set to v2.0; AWS cannot undo that, so rollback leaves them "
    "as they are"
)


def rollback_step(ctx: StepContext, change: Change) -> ChangeResult:
    """Idempotent: already-restored resources are verified, not written again."""
    own = steps_for(change.kind)
    if own is not None:  # launch templates, account defaults
        result: ChangeResult = own.rollback(ctx, change)
        return result
    observed = ctx.read(change)
    current = observed.options
    if current is None:
        return ChangeResult(change, "skipped", f"gone: {observed.why}")
    if same_settings(current, change.before):
        return settle(ctx, change, change.before, "restored", "already as before")
    if not same_settings(current, change.after):
        # Someone changed it after us: restoring would clobber their change.
        return ChangeResult(change, "drifted", "changed since apply; left alone", current)
    ctx.journal.append("rollback-intent", key=change.key)
    try:
        ctx.write(change, change.before)
    except AwsError as exc:
        return ChangeResult(change, "failed", str(exc), current)
    return settle(ctx, change, change.before, "restored", "")


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
) -> RunResult:
    """Every change with an intent record is restored to its ``before`` settings.

    Except AMIs: ImdsSupport=v2.0 cannot be unset (docs/aws-behaviour.md#the-api), so they are left
    alone
    and the result says so.
    """
    changes = [c for c in state.intents.values() if c.kind != AMIS.plan_kind]
    images = len(state.intents) - len(changes)
    engine = Engine(
        factory,
        journal,
        options,
        rollback_step,
        "rollback-outcome",
        progress,
        role_name or state.plan.role_name,
        external_id,
    )
    results = engine.run(changes, max_scopes)
    return RunResult(
        results=tuple(results),
        scope_errors=tuple(engine.scope_errors),
        success=("restored",),
        notes=(IRREVERSIBLE_NOTE.format(n=images),) if images else (),
    )
