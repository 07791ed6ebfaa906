"""Apply a plan: each change's applier re-reads, skips or marks drift, journals its intent,
writes and verifies (remediate/appliers/); the engine runs them, paced per scope.

Enforcement (HttpTokensEnforced on an account default) runs after every other change,
and only where the Region's launchers all pass when checked again (gate.py).
"""

from __future__ import annotations

from imdsguard.aws.session import SessionFactory
from imdsguard.model.remediation import Change, ChangeResult, Plan, RunResult
from imdsguard.options import ApplyOptions, ExecutorOptions
from imdsguard.plan.enforce import enforces
from imdsguard.progress import ProgressSink
from imdsguard.remediate import gate
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
    results = engine.run([c for c in todo if not enforces(c)], max_scopes)
    last = [c for c in todo if enforces(c)]
    if last:
        ready, skipped = gate.hold_back(factory, last, role_name, external_id)
        results += skipped + (engine.run(ready, max_scopes) if ready else [])
    order = {c.key: n for n, c in enumerate(plan.changes)}
    return RunResult(
        results=tuple(done + sorted(results, key=lambda r: order[r.change.key])),
        scope_errors=plan.scope_errors + tuple(engine.scope_errors),
        held=plan.held + plan.migrations,
    )
