"""Apply a plan: re-read, skip or mark drift, journal intent, write the full set, verify."""

from __future__ import annotations

from functools import partial

from imdsguard.aws.session import SessionFactory
from imdsguard.errors import AwsError
from imdsguard.model.remediation import (
    Change,
    ChangeResult,
    Plan,
    RunResult,
    same_settings,
    settings_json,
)
from imdsguard.model.scan import MetadataOptions
from imdsguard.options import ApplyOptions
from imdsguard.plan.planfile import change_json
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers import steps_for
from imdsguard.remediate.engine import Engine, StepContext, settle
from imdsguard.remediate.journal import Journal, JournalState


def apply_step(ctx: StepContext, change: Change, prior_intents: frozenset[str]) -> ChangeResult:
    own = steps_for(change.kind)
    if own is not None:  # launch templates, account defaults, AMIs
        result: ChangeResult = own.apply(ctx, change, change.key in prior_intents)
        return result
    observed = ctx.read(change)
    current = observed.options
    if current is None:
        return ChangeResult(change, "skipped", f"gone: {observed.why}")
    if change.key in prior_intents and same_settings(current, change.after):
        # A killed run journaled the intent and its write went through: verify, record,
        # and do not write a second time.
        return settle(ctx, change, change.after, "applied", "written by the interrupted run")
    if current.http_tokens == "required":
        return ChangeResult(change, "skipped", "already compliant", current)
    if not same_settings(current, change.before):
        return ChangeResult(change, "drifted", _diff(change.before, current), current)
    # Write-ahead: the intent is on disk before the API can act on it.
    ctx.journal.append("intent", key=change.key, change=change_json(change))
    try:
        ctx.write(change, change.after)
    except AwsError as exc:
        gone = ctx.read(change)
        if gone.options is None:  # InvalidInstanceID.NotFound: it vanished under us
            return ChangeResult(change, "skipped", f"gone: {gone.why}")
        return ChangeResult(change, "failed", str(exc), gone.options)
    return settle(ctx, change, change.after, "applied", "")


def _diff(before: MetadataOptions, current: MetadataOptions) -> str:
    was, now = settings_json(before), settings_json(current)
    changed = [f"{k} {was[k]}->{now[k]}" for k in was if was[k] != now[k]]
    return "changed since the plan: " + ", ".join(changed)


def run_apply(
    factory: SessionFactory,
    plan: Plan,
    journal: Journal,
    *,
    options: ApplyOptions,
    progress: ProgressSink,
    role_name: str | None = None,
    external_id: str | None = None,
    max_scopes: int = 8,
    state: JournalState | None = None,
) -> RunResult:
    """Execute ``plan`` (or, with ``state`` from a journal, what it left unfinished)."""
    done: list[ChangeResult] = []
    todo: list[Change] = []
    for change in plan.changes:
        settled = state.settled(change.key) if state else None
        if settled is not None:
            done.append(ChangeResult(change, *settled))
        else:
            todo.append(change)
    step = partial(apply_step, prior_intents=frozenset(state.intents if state else ()))
    engine = Engine(factory, journal, options, step, "outcome", progress, role_name, external_id)
    results = engine.run(todo, max_scopes)
    return RunResult(
        results=tuple(done + results),
        scope_errors=plan.scope_errors + tuple(engine.scope_errors),
        held=plan.held + plan.migrations,
    )
