"""Apply a plan: each change's applier re-reads, skips or marks drift, journals its intent,
writes and verifies (remediate/appliers/); the engine runs them, paced per scope."""

from __future__ import annotations

from imdsguard.aws.session import SessionFactory
from imdsguard.model.remediation import Change, ChangeResult, Plan, RunResult
from imdsguard.options import ApplyOptions, ExecutorOptions
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers.interface import Applier
from imdsguard.remediate.engine import Engine, StepContext
from imdsguard.remediate.journal import Journal, JournalState


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
    executor: ExecutorOptions | None = None,
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
    # A journaled intent without a final outcome: the interrupted run may have written it.
    prior_intents = frozenset(state.intents if state else ())

    def step(applier: Applier, ctx: StepContext, change: Change) -> ChangeResult:
        return applier.apply(ctx, change, change.key in prior_intents or ctx.intent_journaled)

    where = executor or ExecutorOptions()
    engine = Engine(
        factory, journal, options, step, "apply", progress, role_name, external_id, where
    )
    results = engine.run(todo, max_scopes)
    return RunResult(
        results=tuple(done + results),
        scope_errors=plan.scope_errors + tuple(engine.scope_errors),
        held=plan.held + plan.migrations,
    )
