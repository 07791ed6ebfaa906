"""A staged rollout (docs/rollout.md): the plan's instance changes in waves (plan/waves.py),
each applied exactly as ``apply`` applies a plan (run_apply: journal, pacing, verify),
then soaked (soak.py). A poll that is not clean halts it: no further wave starts, and with
``--on-breakage rollback`` the instances that refused IMDSv1 calls are rolled back at
once. Each Region's final step (launch settings, then the account default and its
enforcement) runs only after every wave soaked clean.

The journal records the rollout itself (journal.ROLLOUT_RECORDS), so ``--resume``
continues the same waves, and a soak cut short re-checks from each change until now,
then waits out only what remains of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from imdsguard.aws.session import SessionFactory
from imdsguard.model.kinds import ACCOUNT_DEFAULTS
from imdsguard.model.remediation import Change, ChangeResult, Outcome, Plan, Rejections, RunResult
from imdsguard.model.rollout import Breakage, Halt, RolloutResult, WaveSummary
from imdsguard.model.scan import JSONValue, Scope
from imdsguard.options import ApplyOptions, RolloutOptions
from imdsguard.plan.waves import Wave
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers.interface import Applier
from imdsguard.remediate.apply import run_apply
from imdsguard.remediate.engine import Engine, StepContext
from imdsguard.remediate.journal import Journal, JournalState
from imdsguard.remediate.rollout_journal import (
    Recorded,
    rejections_from_json,
    rollout_json,
    schedule_for,
)
from imdsguard.remediate.soak import Poll, Watcher, quiet_running, regions_of, soak

Say = Callable[[str], None]
Changed = dict[str, tuple[Change, datetime]]


def _recorded(state: JournalState | None, change: Change, why: str) -> ChangeResult:
    """A change this run does not attempt, as the journal left it (``why`` if untouched)."""
    settled = state.settled(change.key) if state else None
    if settled is not None:
        return ChangeResult(change, *settled)
    outcome, reason = (state.outcomes if state else {}).get(change.key, ("skipped", why))
    return ChangeResult(change, cast(Outcome, outcome), reason)


def _rollback(applier: Applier, ctx: StepContext, change: Change) -> ChangeResult:
    return applier.rollback(ctx, change)


@dataclass
class _Rollout:
    factory: SessionFactory
    plan: Plan
    journal: Journal
    options: ApplyOptions
    rollout: RolloutOptions
    progress: ProgressSink
    role_name: str | None
    external_id: str | None
    max_scopes: int
    state: JournalState | None
    say: Say
    watcher: Watcher
    recorded: Recorded
    results: list[ChangeResult] = field(default_factory=list)
    changed: Changed = field(default_factory=dict)
    halt: Halt | None = None
    scope_errors: list[tuple[Scope, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def _halted_in(self) -> int | None:
        """The wave this rollout halted in, in this run or (journaled) an earlier one."""
        if self.halt is not None:
            return self.halt.wave
        return int(self.recorded.halt["wave"]) if self.recorded.halt is not None else None

    def wave(self, wave: Wave, total: int) -> WaveSummary:
        """Apply one wave (unless the journal has it all), then soak it or halt."""
        n, size = wave.number, len(wave.changes)
        halted = self._halted_in()
        if halted is not None and n > halted:
            why = f"not started: the rollout halted in wave {halted}"
            self.results.extend(_recorded(self.state, c, why) for c in wave.changes)
            return WaveSummary(n, wave.label, size, 0, "not started")
        done = n in self.recorded.clean or halted is not None
        results = (
            [_recorded(self.state, c, "not attempted") for c in wave.changes]
            if done
            else self._apply_wave(wave, total)
        )
        self.results.extend(results)
        since = self.recorded.started.get(n, datetime.now(UTC))
        applied = [r.change for r in results if r.outcome == "applied"]
        self.changed.update({c.key: (c, since) for c in applied})
        if n in self.recorded.clean:
            return WaveSummary(n, wave.label, size, len(applied), "clean")
        if self.recorded.halt is not None:
            self.halt = _resume_halt(self, self.recorded.halt)
            return WaveSummary(n, wave.label, size, len(applied), "halted")
        poll = _soak(self, n)
        if poll.clean:
            self.journal.append("soak-end", wave=n, clean=True)
            return WaveSummary(n, wave.label, size, len(applied), "clean")
        self.halt = _halt(self, poll, n)
        return WaveSummary(n, wave.label, size, len(applied), "halted")

    def _apply_wave(self, wave: Wave, total: int) -> list[ChangeResult]:
        n = wave.number
        if n not in self.recorded.started:
            self.recorded.started[n] = datetime.now(UTC)
            self.journal.append("wave-start", wave=n, label=wave.label, instances=len(wave.changes))
        self.say(f"wave {n}/{total} ({wave.label}): {len(wave.changes)} instance(s)")
        results = self.apply(wave.changes)
        if n not in self.recorded.ended:
            outcomes: dict[str, JSONValue] = dict(Counter(str(r.outcome) for r in results))
            self.journal.append("wave-end", wave=n, outcomes=outcomes)
        return results

    def apply(self, changes: Sequence[Change]) -> list[ChangeResult]:
        part = replace(self.plan, changes=tuple(changes), held=(), migrations=(), scope_errors=())
        run = run_apply(
            self.factory,
            part,
            self.journal,
            options=self.options,
            progress=self.progress,
            role_name=self.role_name,
            external_id=self.external_id,
            max_scopes=self.max_scopes,
            state=self.state,
        )
        self.scope_errors.extend(run.scope_errors)
        return list(run.results)

    def roll_back(self, changes: Sequence[Change]) -> dict[str, ChangeResult]:
        engine = Engine(
            self.factory,
            self.journal,
            self.options,
            _rollback,
            "rollback",
            self.progress,
            self.role_name,
            self.external_id,
        )
        results = engine.run(changes, self.max_scopes)
        self.scope_errors.extend(engine.scope_errors)
        return {r.change.key: r for r in results}

    def final(self, changes: Sequence[Change]) -> list[ChangeResult]:
        """Launch settings first, then the account defaults; enforcement only where the
        Region's launchers all pass when checked again (run_apply, gate.py)."""
        launch = [c for c in changes if c.kind != ACCOUNT_DEFAULTS.plan_kind]
        defaults = [c for c in changes if c.kind == ACCOUNT_DEFAULTS.plan_kind]
        return (self.apply(launch) if launch else []) + (self.apply(defaults) if defaults else [])


def run_rollout(
    factory: SessionFactory,
    plan: Plan,
    journal: Journal,
    *,
    options: ApplyOptions,
    rollout: RolloutOptions,
    progress: ProgressSink,
    role_name: str | None = None,
    external_id: str | None = None,
    max_scopes: int = 8,
    state: JournalState | None = None,
    say: Say = lambda _: None,
) -> RolloutResult:
    """Run (or, with ``state`` from a rollout journal, continue) the rollout of ``plan``."""
    if state is None or not state.rollout:
        journal.append("rollout", **rollout_json(rollout))
    watcher = Watcher(factory, regions_of(plan.changes), rollout.alarms, role_name, external_id)
    watcher.check_alarms()
    run = _Rollout(
        factory, plan, journal, options, rollout, progress, role_name, external_id, max_scopes,
        state, say, watcher, Recorded.read(state.rollout if state else []),
    )  # fmt: skip
    plan_schedule = schedule_for(plan.changes, rollout)
    summaries = [run.wave(wave, len(plan_schedule.waves)) for wave in plan_schedule.waves]
    if run.halt is None:
        if not run.recorded.final and plan_schedule.final:
            journal.append("final-start")
        run.results.extend(run.final(plan_schedule.final))
    else:
        why = f"not run: the rollout halted in wave {run.halt.wave}"
        run.results.extend(_recorded(state, c, why) for c in plan_schedule.final)
    result = RunResult(
        results=tuple(run.results),
        scope_errors=plan.scope_errors + tuple(run.scope_errors),
        held=plan.held + plan.migrations,
    )
    return RolloutResult(result, tuple(summaries), run.halt, tuple(run.warnings))


def _soak(run: _Rollout, n: int) -> Poll:
    changed = run.changed
    until = run.recorded.soaking.get(n)
    resumed = until is not None
    if until is None:
        until = datetime.now(UTC) + timedelta(seconds=run.rollout.soak_seconds)
        run.journal.append(
            "soak-start", wave=n, until=until.isoformat(), seconds=run.rollout.soak_seconds
        )
    run.say(f"wave {n}: soaking until {until:%H:%M:%S} UTC, watching {len(changed)} instance(s)")
    poll = soak(
        run.watcher,
        changed,
        journal=run.journal,
        wave=n,
        until=until,
        poll_seconds=run.rollout.poll_seconds,
        now_first=resumed,
    )
    if poll.clean and not run.factory.endpoint_overridden:
        quiet = quiet_running(poll, changed)
        if quiet:
            names = ", ".join(changed[k][0].resource_id for k in quiet[:5])
            run.warnings.append(
                f"wave {n}: no MetadataNoTokenRejected data points at all for {len(quiet)} "
                f"running instance(s) ({names}): CloudWatch may not have delivered them "
                "yet, so the soak proves little for them; check them again later"
            )
    return poll


def _halt(run: _Rollout, poll: Poll, n: int) -> Halt:
    breaking = poll.with_status("rejected")
    run.journal.append(
        "halt",
        wave=n,
        reasons=list(poll.reasons()),
        on_breakage=run.rollout.on_breakage,
        rejected={k: poll.rejections[k].as_json() for k in breaking},
        unknown={k: poll.rejections[k].error for k in poll.with_status("unknown")},
    )
    rejected = {k: poll.rejections[k] for k in breaking}
    unknown = {k: str(poll.rejections[k].error) for k in poll.with_status("unknown")}
    return _account(run, _Halted(n, tuple(poll.reasons()), rejected, unknown))


def _resume_halt(run: _Rollout, record: Mapping[str, Any]) -> Halt:
    """A halted rollout resumed: it stays halted; an interrupted rollback is finished."""
    rejected = {k: rejections_from_json(v) for k, v in record.get("rejected", {}).items()}
    unknown = {k: str(v) for k, v in record.get("unknown", {}).items()}
    reasons = tuple(str(r) for r in record.get("reasons", []))
    return _account(run, _Halted(int(record["wave"]), reasons, rejected, unknown))


@dataclass(frozen=True, slots=True)
class _Halted:
    """Why a wave halted, as a poll or the journal's halt record says."""

    wave: int
    reasons: tuple[str, ...]
    rejected: Mapping[str, Rejections]
    unknown: Mapping[str, str]


def _account(run: _Rollout, halted: _Halted) -> Halt:
    """Roll back exactly the instances that refused calls (unless --on-breakage halt)."""
    n, reasons, rejected, changed = halted.wave, halted.reasons, halted.rejected, run.changed
    changes = {k: changed[k][0] for k in rejected if k in changed}
    if run.state is not None:  # after a resume, from their journaled intents
        changes |= {k: run.state.intents[k] for k in rejected if k in run.state.intents}
    run.say(f"wave {n}: halted: {'; '.join(reasons)}")
    undone: dict[str, ChangeResult] = {}
    if run.rollout.on_breakage == "rollback" and changes:
        undone = run.roll_back([changes[k] for k in sorted(changes)])
    breakage = tuple(Breakage(changes[k], rejected[k], undone.get(k)) for k in sorted(changes))
    lost = tuple((changed[k][0], why) for k, why in sorted(halted.unknown.items()) if k in changed)
    return Halt(n, reasons, breakage, lost)
