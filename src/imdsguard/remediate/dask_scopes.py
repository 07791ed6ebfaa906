"""Apply and rollback on Dask: each scope owned by one task at a time, the journal the
client's alone (docs/organization-scale.md#dask).

A scope runs in two tasks. The *decide* task re-reads every change and settles what needs
no write (gone, compliant, drifted, a resumed write that went through); a change that
needs a write stops at its intent and comes back deferred. The client journals those
intents, fsynced, then submits the *write* task for them, which re-reads each change
again before writing: delivery is at-least-once, and a re-run of the task (its worker
died) finds its own earlier write and does not write twice. So the journal says what a
local run's says: an intent only for a change that was about to be written.

Workers never touch the journal: a task returns its records, and the client appends them.
Only the second task writes, so each scope's token bucket has one owner at a time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Literal

from imdsguard.aws.session import SessionSettings
from imdsguard.executor import worker_factory
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.model.scan import JSONValue, Scope
from imdsguard.options import ApplyOptions
from imdsguard.progress import Silent
from imdsguard.remediate.engine import Engine, Run, Step, WriteDeferred, journal_intent

Phase = Literal["decide", "write"]
INTENTS = frozenset({"intent", "rollback-intent"})
OUTCOMES = frozenset({"outcome", "rollback-outcome"})
Record = tuple[str, dict[str, JSONValue]]


@dataclass(frozen=True, slots=True)
class ScopeWork:
    """Everything a worker is sent for one scope's task: no credentials."""

    scope: Scope
    changes: tuple[Change, ...]
    phase: Phase
    settings: SessionSettings
    options: ApplyOptions
    step: Step
    run_type: Run
    role_name: str | None
    external_id: str | None


@dataclass(frozen=True, slots=True)
class ScopeReport:
    """What a task sends back: the records to journal, in order, and the changes whose
    write is deferred to the next task."""

    records: tuple[Record, ...]
    results: tuple[ChangeResult, ...]
    deferred: tuple[Change, ...]
    scope_errors: tuple[tuple[Scope, str], ...]


class _Recorder:
    """A task's JournalSink: keeps records for the client; an intent in a decide task
    defers the change, in a write task it is already journaled."""

    def __init__(self, phase: Phase) -> None:
        self.phase = phase
        self.records: list[Record] = []
        self.deferred: set[str] = set()
        self._lock = threading.Lock()

    def append(self, record_type: str, **fields: JSONValue) -> None:
        with self._lock:
            if record_type not in INTENTS:
                self.records.append((record_type, fields))
            elif self.phase == "decide":
                self.deferred.add(str(fields["key"]))
                raise WriteDeferred


def scope_task(work: ScopeWork) -> ScopeReport:
    """Runs on a worker: one scope's changes through an Engine of this process's own."""
    recorder = _Recorder(work.phase)
    # The permission probe is the decide task's: the write task only writes.
    options = (
        work.options if work.phase == "decide" else replace(work.options, check_permissions=False)
    )
    engine = Engine(
        worker_factory(work.settings),
        recorder,
        options,
        work.step,
        work.run_type,
        Silent(),
        work.role_name,
        work.external_id,
        intent_journaled=work.phase == "write",
    )
    results = engine.run_scope(work.scope, list(work.changes))
    return ScopeReport(
        records=tuple(recorder.records),
        results=tuple(r for r in results if r.change.key not in recorder.deferred),
        deferred=tuple(c for c in work.changes if c.key in recorder.deferred),
        scope_errors=tuple(engine.scope_errors),
    )


def run_on_dask(
    engine: Engine, work: list[tuple[Scope, list[Change]]], max_scopes: int
) -> list[ChangeResult]:
    """Engine.run's scopes as Dask tasks; results journaled here as each task completes."""
    from imdsguard.cluster import Tasks, connect, failure

    results: list[ChangeResult] = []
    with connect(engine.executor, max_scopes) as client:
        tasks: Tasks[ScopeWork, ScopeReport] = Tasks(client)
        for scope, changes in work:
            sent = ScopeWork(
                scope,
                tuple(changes),
                "decide",
                engine.factory.settings,
                engine.options,
                engine.step,
                engine.run_type,
                engine.role_name,
                engine.external_id,
            )
            tasks.submit(f"{engine.run_type}-decide", scope_task, sent, sent)
        try:
            for sent, report in tasks:
                if isinstance(report, BaseException):
                    results += engine.failed_scope(sent.scope, sent.changes, failure(report))
                    continue
                _journal(engine, report)
                results.extend(report.results)
                if report.deferred:
                    for change in report.deferred:
                        journal_intent(engine.journal, engine.run_type, change)
                    again = replace(sent, changes=report.deferred, phase="write")
                    tasks.submit(f"{engine.run_type}-write", scope_task, again, again)
        except KeyboardInterrupt:
            # Tasks not yet started never start; an intent journaled for a write task in
            # flight is for --resume (apply) or a second rollback to settle.
            tasks.cancel()
            raise
    return results


def _journal(engine: Engine, report: ScopeReport) -> None:
    for record_type, fields in report.records:
        engine.journal.append(record_type, **fields)
        if record_type in OUTCOMES:
            engine.progress.advance()
    engine.scope_errors.extend(report.scope_errors)
