"""Runs a step over many changes: scopes in parallel, writes paced per scope, results journaled.

apply.py and rollback.py supply the step (call the change's applier's apply or rollback);
this module owns the concurrency, the pacing, the throttling and denial policy and the
journal records, and gives each applier a ``StepContext`` (its appliers/interface.Context).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, Protocol, TypeVar, cast

from imdsguard.aws.errors import DENIED, THROTTLING
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.remediation import Change, ChangeResult, Outcome, settings_json
from imdsguard.model.scan import JSONValue, Scope
from imdsguard.options import ApplyOptions, ExecutorOptions
from imdsguard.plan.planfile import change_json
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers.interface import Applier, ScopeClients
from imdsguard.remediate.appliers.registry import applier_for
from imdsguard.remediate.pacing import TokenBucket

# If throttling outlives botocore's own retries (another tool spending the same bucket),
# we empty our bucket and wait for fresh tokens; this many rounds before giving up.
THROTTLE_ROUNDS = 30
# Tokens our bucket starts short of the server's (at most 1 s of EC2's 5/s refill).
HEADROOM = 5.0
# DryRun probes per resource kind and scope: a probe on an instance that vanished since
# the plan (InvalidInstanceID.NotFound) says nothing about permissions, so try another.
PROBES = 3
# A probe answer that refuses the whole scope although it is no denial: the endpoint
# executed the DryRun, so it may have APPLIED it; never probe another one.
DRY_RUN_IGNORED = "DryRunIgnored"

T = TypeVar("T")


class ScopeDenied(Exception):
    """A read or write was refused for lack of permission: stop the scope, not the change."""

    def __init__(self, error: AwsError) -> None:
        super().__init__(str(error))
        self.error = error


def outlast_throttling(
    call: Callable[[], T], before: Callable[[], object], after: Callable[[], object]
) -> T:
    """The one policy for reads and writes: a denial stops the scope (ScopeDenied);
    throttling that outlives botocore's retries runs ``after`` (wait, or empty the bucket)
    and tries again, up to THROTTLE_ROUNDS; any other failure is raised as it is."""
    for _ in range(THROTTLE_ROUNDS):
        before()
        try:
            return call()
        except AwsError as exc:
            if exc.code in DENIED:
                raise ScopeDenied(exc) from exc
            if exc.code not in THROTTLING:
                raise
            after()
    raise AwsError("RequestLimitExceeded", f"still throttled after {THROTTLE_ROUNDS} rounds")


Run = Literal["apply", "rollback"]


class JournalSink(Protocol):
    """Where the engine's records go: the run's journal (remediate/journal.py), or, in a
    Dask task, a list the client journals (remediate/dask_scopes.py)."""

    def append(self, record_type: str, **fields: JSONValue) -> None: ...


class WriteDeferred(Exception):
    """Raised by a JournalSink that may not take an intent: the change's write is left to
    a later task, submitted once the client has journaled the intent."""


def journal_intent(journal: JournalSink, run: Run, change: Change) -> None:
    """The record that must be durable before ``change``'s first write is sent."""
    if run == "apply":  # the whole change: resume and rollback rebuild it from here
        journal.append("intent", key=change.key, change=change_json(change))
    else:
        journal.append("rollback-intent", key=change.key)


@dataclass
class _ScopeState:
    """What one scope's workers share: its clients, a context and a bucket per kind, and
    Context.shared's objects."""

    clients: ScopeClients
    objects: dict[str, object] = field(default_factory=dict)
    # Reentrant: a ``make`` may itself get another shared object.
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def get(self, key: str, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self.objects:
                self.objects[key] = make()
            return cast(T, self.objects[key])


@dataclass(frozen=True, slots=True)
class StepContext:
    """The engine's ``Context`` for one kind in one scope: its clients, the bucket its
    writes spend, the journal, and the throttling and denial policy."""

    clients: ScopeClients
    verify_timeout: float
    bucket: TokenBucket
    journal: JournalSink
    run: Run
    state: _ScopeState
    # The client journaled every intent before this (Dask write) task was sent, so the
    # task may be a re-run whose earlier attempt wrote: apply treats it as resumed.
    intent_journaled: bool = False

    def read(self, call: Callable[[], T]) -> T:
        return outlast_throttling(call, before=lambda: None, after=lambda: time.sleep(1.0))

    def write(self, call: Callable[[], T]) -> T:
        return outlast_throttling(call, before=self.bucket.acquire, after=self.bucket.drain)

    def intend(self, change: Change) -> None:
        journal_intent(self.journal, self.run, change)

    def shared(self, key: str, make: Callable[[], T]) -> T:
        return self.state.get(key, make)


# What to do with one change: the applier's apply (with resume facts) or its rollback.
Step = Callable[[Applier, StepContext, Change], ChangeResult]


class _Stopped(Exception):
    """The run was interrupted: abandon the scope's queue (nothing journaled for it)."""


def _probe(ctx: StepContext, applier: Applier, candidates: list[Change]) -> _Refusal | None:
    """DryRun ``applier``'s kind, paced and with throttling waited out like a write.

    Only a denial (or an endpoint that ignores DryRun) refuses the scope. Anything else,
    such as a resource gone since the plan, says nothing about permissions: try the next
    candidate, and if none answers, go on without a probe; a denied write still stops
    the scope, after its intent is journaled.
    """
    for change in candidates:
        try:
            ctx.write(partial(applier.dry_run, ctx.clients, change))
            return None
        except ScopeDenied as exc:
            return _Refusal("denied", f"permission check failed: {exc.error}")
        except AwsError as exc:
            if exc.code == DRY_RUN_IGNORED:
                return _Refusal("failed", f"permission check unusable: {exc}")
    return None


@dataclass(frozen=True, slots=True)
class _Refusal:
    """Why a permission check skips a whole scope, and the outcome its changes get."""

    outcome: Outcome
    why: str


@dataclass
class Engine:
    factory: SessionFactory
    journal: JournalSink
    options: ApplyOptions
    step: Step
    run_type: Run
    progress: ProgressSink
    role_name: str | None = None
    external_id: str | None = None
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    intent_journaled: bool = False
    scope_errors: list[tuple[Scope, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, changes: Sequence[Change], max_scopes: int) -> list[ChangeResult]:
        by_scope: dict[Scope, list[Change]] = defaultdict(list)
        for change in changes:
            by_scope[change.scope].append(change)
        self.progress.add_total(len(changes))
        if self.executor.name == "dask":
            from imdsguard.remediate.dask_scopes import run_on_dask

            results = run_on_dask(self, sorted(by_scope.items()), max_scopes)
        else:
            results = self._run_local(sorted(by_scope.items()), max_scopes)
        order = {c.key: i for i, c in enumerate(changes)}
        return sorted(results, key=lambda r: order[r.change.key])

    def _run_local(
        self, work: list[tuple[Scope, list[Change]]], max_scopes: int
    ) -> list[ChangeResult]:
        with ThreadPoolExecutor(max_workers=max_scopes) as pool:
            futures = [pool.submit(self.run_scope, s, c) for s, c in work]
            try:
                return [r for f in futures for r in f.result()]
            except KeyboardInterrupt:
                # Queued changes would otherwise all still run while the pool shuts down.
                # Changes in flight finish and are journaled; the rest is for --resume.
                self._stop.set()
                raise

    def failed_scope(self, scope: Scope, changes: Sequence[Change], why: str) -> list[ChangeResult]:
        """A scope that could not be run at all: a scope error, and every change failed
        (a resumed run tries them again)."""
        self._scope_error(scope, why)
        return [self._finish(ChangeResult(c, "failed", why)) for c in changes]

    def _scope_error(self, scope: Scope, error: str) -> None:
        with self._lock:
            self.scope_errors.append((scope, error))
        self.journal.append("scope", account_id=scope.account_id, region=scope.region, error=error)

    def run_scope(self, scope: Scope, changes: list[Change]) -> list[ChangeResult]:
        """Every change of one scope, its writes paced by the scope's buckets."""
        try:
            access = account_access(
                self.factory, scope.account_id, self.role_name, self.external_id
            )
        except AwsError as exc:
            self._scope_error(scope, f"cannot enter account: {exc}")
            return [self._finish(ChangeResult(c, "failed", str(exc))) for c in changes]
        state = _ScopeState(ScopeClients(scope.region, self.factory.ec2(access, scope.region)))
        if self.options.check_permissions:
            refusal = self._dry_run(state, changes)
            if refusal is not None:
                self._scope_error(scope, refusal.why)
                return [
                    self._finish(ChangeResult(c, refusal.outcome, refusal.why)) for c in changes
                ]
        denied = threading.Event()
        workers = min(self.options.workers_per_scope, len(changes))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda c: self._one(state, c, denied), changes))

    def _context(self, state: _ScopeState, kind: str) -> tuple[Applier, StepContext]:
        """``kind``'s applier and its context in this scope (made once per scope)."""
        applier = applier_for(kind)
        return applier, state.get(f"context/{kind}", lambda: self._new_context(state, applier))

    def _new_context(self, state: _ScopeState, applier: Applier) -> StepContext:
        if applier.pace is None:  # the instance bucket, as configured, shared by such kinds
            capacity, rate = self.options.capacity, self.options.refill_per_second
            bucket = state.get(
                "bucket", lambda: TokenBucket(capacity, rate, headroom=min(HEADROOM, capacity / 4))
            )
        else:
            bucket = TokenBucket(*applier.pace)
        timeout = self.options.verify_timeout
        return StepContext(
            state.clients,
            timeout,
            bucket,
            self.journal,
            self.run_type,
            state,
            self.intent_journaled,
        )

    def _dry_run(self, state: _ScopeState, changes: list[Change]) -> _Refusal | None:
        """DryRun per resource kind in the scope; why the scope must be skipped, if so."""
        by_kind: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_kind[change.kind].append(change)
        for kind, items in sorted(by_kind.items()):
            applier, ctx = self._context(state, kind)
            refusal = _probe(ctx, applier, items[:PROBES])
            if refusal is not None:
                return refusal
        return None

    def _one(self, state: _ScopeState, change: Change, denied: threading.Event) -> ChangeResult:
        if self._stop.is_set():
            raise _Stopped
        if denied.is_set():
            return self._finish(ChangeResult(change, "denied", "not attempted: scope denied"))
        try:
            applier, ctx = self._context(state, change.kind)
            result = self.step(applier, ctx, change)
        except WriteDeferred:
            # A Dask decide task: no outcome yet; the task reports the change as deferred.
            return ChangeResult(change, "failed", "write deferred")
        except ScopeDenied as exc:
            with self._lock:
                first = not denied.is_set()
                denied.set()
            if first:  # one scope error per scope, however many writes were in flight
                self._scope_error(change.scope, f"permission denied: {exc.error}")
            result = ChangeResult(change, "denied", str(exc.error))
        except AwsError as exc:
            result = ChangeResult(change, "failed", str(exc))
        except Exception as exc:
            # A bug in one change must not end the run: journal it, the others go on.
            result = ChangeResult(change, "failed", f"{type(exc).__name__}: {exc}")
        return self._finish(result)

    def _finish(self, result: ChangeResult) -> ChangeResult:
        observed = settings_json(result.observed) if result.observed is not None else None
        # ``state`` only when a kind has one: instance outcome records stay as they were.
        extra: dict[str, JSONValue] = {"state": dict(result.state)} if result.state else {}
        self.journal.append(
            "outcome" if self.run_type == "apply" else "rollback-outcome",
            key=result.change.key,
            outcome=result.outcome,
            reason=result.reason,
            observed=observed,
            **extra,
        )
        self.progress.advance()
        return result
