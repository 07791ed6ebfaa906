"""Roll back a journal: restore every resource that was, or may have been, changed."""

from __future__ import annotations

from collections import Counter

from imdsguard.aws.session import SessionFactory
from imdsguard.model.remediation import Change, ChangeResult, RunResult
from imdsguard.options import ApplyOptions
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
    )
    results = engine.run(changes, max_scopes)
    return RunResult(
        results=tuple(results),
        scope_errors=tuple(engine.scope_errors),
        success=("restored",),
        notes=tuple(note.format(n=n) for note, n in left.items()),
    )
