"""Runs a step over many changes: scopes in parallel, writes paced per scope, results journaled.

apply.py and rollback.py supply the step (what to do with one change); this module owns
the concurrency, the pacing, the throttling and denial policy, and the outcome records.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, TypeVar

from imdsguard.aws.errors import DENIED, THROTTLING
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.remediation import Change, ChangeResult, Outcome, settings_json
from imdsguard.model.scan import JSONValue, MetadataOptions, Scope
from imdsguard.options import ApplyOptions
from imdsguard.progress import ProgressSink
from imdsguard.remediate.appliers import Observed, ScopeClients, StepApplier, applier_for, lookup
from imdsguard.remediate.journal import Journal
from imdsguard.remediate.pacing import TokenBucket
from imdsguard.remediate.verify import Verdict, Verifier, check

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


def _outlast_throttling(
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


@dataclass
class StepContext:
    """What a step may use for one change: the scope's clients, bucket and journal."""

    clients: ScopeClients
    bucket: TokenBucket
    journal: Journal
    options: ApplyOptions
    verifier: Verifier
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, change: Change) -> Observed:
        """Re-read; throttling that outlives botocore's retries is waited out here too."""
        applier = applier_for(change.kind)
        return self.reading(lambda: applier.read(self.clients, change.resource_id))

    def reading(self, call: Callable[[], T]) -> T:
        """Any read call, with throttling that outlives botocore's retries waited out.

        A denied read raises ScopeDenied: without the re-read no change may be written.
        """
        return _outlast_throttling(call, before=lambda: None, after=lambda: time.sleep(1.0))

    def write(self, change: Change, options: MetadataOptions) -> None:
        """One paced write; throttling is waited out, a denial raises ScopeDenied."""
        applier = applier_for(change.kind)
        self.paced(lambda: applier.write(self.clients, change.resource_id, options))

    def bucket_of(self, kind: str) -> TokenBucket:
        """The bucket the writes of ``kind`` spend: the instance bucket, or the kind's own."""
        applier = lookup(kind)
        if isinstance(applier, StepApplier):
            return self.bucket_for(kind, *applier.pace)
        return self.bucket

    def bucket_for(self, name: str, capacity: float, rate: float) -> TokenBucket:
        """This scope's bucket for an API with its own EC2 bucket
        (docs/aws-behaviour.md#rate-limits)."""
        with self._lock:
            return self.buckets.setdefault(name, TokenBucket(capacity, rate))

    def paced(self, call: Callable[[], T], bucket: TokenBucket | None = None) -> T:
        """Any write call, paced by ``bucket`` (default: the instance bucket).

        Throttling is waited out, a denial raises ScopeDenied.
        """
        bucket = bucket or self.bucket
        return _outlast_throttling(call, before=bucket.acquire, after=bucket.drain)

    def wait_for(self, change: Change, want: MetadataOptions) -> tuple[Verdict, Observed | None]:
        """Read once now; if not yet in force, wait in the scope's batched poll."""
        observed = self.read(change)
        verdict = check(observed, want)
        if verdict is not None:
            return verdict, observed
        return self.verifier.wait(change, want)


Step = Callable[[StepContext, Change], ChangeResult]


def settle(
    ctx: StepContext,
    change: Change,
    want: MetadataOptions,
    success: Literal["applied", "restored"],
    note: str,
) -> ChangeResult:
    """Wait until ``want`` is in force: ``success``, ``skipped`` if gone, else ``failed``."""
    verdict, observed = ctx.wait_for(change, want)
    current = observed.options if observed else None
    if verdict == "ok":
        return ChangeResult(change, success, note, current)
    if verdict == "gone" and observed is not None:
        return ChangeResult(change, "skipped", f"gone: {observed.why}")
    wait = ctx.options.verify_timeout
    return ChangeResult(change, "failed", f"not verified within {wait:g}s", current)


class _Stopped(Exception):
    """The run was interrupted: abandon the scope's queue (nothing journaled for it)."""


def _probe(ctx: StepContext, kind: str, candidates: list[Change]) -> _Refusal | None:
    """DryRun ``kind``, paced and with throttling waited out like a write.

    Only a denial (or an endpoint that ignores DryRun) refuses the scope. Anything else,
    such as a resource gone since the plan, says nothing about permissions: try the next
    candidate, and if none answers, go on without a probe; a denied write still stops
    the scope, after its intent is journaled.
    """
    dry_run, bucket = lookup(kind).dry_run, ctx.bucket_of(kind)
    for change in candidates:
        try:
            ctx.paced(partial(dry_run, ctx.clients, change.resource_id, change.after), bucket)
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
    journal: Journal
    options: ApplyOptions
    step: Step
    outcome_record: str  # "outcome" or "rollback-outcome"
    progress: ProgressSink
    role_name: str | None = None
    external_id: str | None = None
    scope_errors: list[tuple[Scope, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, changes: Sequence[Change], max_scopes: int) -> list[ChangeResult]:
        by_scope: dict[Scope, list[Change]] = defaultdict(list)
        for change in changes:
            by_scope[change.scope].append(change)
        self.progress.add_total(len(changes))
        with ThreadPoolExecutor(max_workers=max_scopes) as pool:
            futures = [pool.submit(self._scope, s, c) for s, c in sorted(by_scope.items())]
            try:
                results = [r for f in futures for r in f.result()]
            except KeyboardInterrupt:
                # Queued changes would otherwise all still run while the pool shuts down.
                # Changes in flight finish and are journaled; the rest is for --resume.
                self._stop.set()
                raise
        order = {c.key: i for i, c in enumerate(changes)}
        return sorted(results, key=lambda r: order[r.change.key])

    def _scope_error(self, scope: Scope, error: str) -> None:
        with self._lock:
            self.scope_errors.append((scope, error))
        self.journal.append("scope", account_id=scope.account_id, region=scope.region, error=error)

    def _scope(self, scope: Scope, changes: list[Change]) -> list[ChangeResult]:
        try:
            access = account_access(
                self.factory, scope.account_id, self.role_name, self.external_id
            )
        except AwsError as exc:
            self._scope_error(scope, f"cannot enter account: {exc}")
            return [self._finish(ChangeResult(c, "failed", str(exc))) for c in changes]
        clients = ScopeClients(self.factory, access, scope.region)
        capacity, rate = self.options.capacity, self.options.refill_per_second
        bucket = TokenBucket(capacity, rate, headroom=min(HEADROOM, capacity / 4))
        verifier = Verifier(clients, self.options.verify_timeout)
        ctx = StepContext(clients, bucket, self.journal, self.options, verifier)
        if self.options.check_permissions:
            refusal = self._dry_run(ctx, changes)
            if refusal is not None:
                self._scope_error(scope, refusal.why)
                return [
                    self._finish(ChangeResult(c, refusal.outcome, refusal.why)) for c in changes
                ]
        denied = threading.Event()
        workers = min(self.options.workers_per_scope, len(changes))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda c: self._one(ctx, c, denied), changes))

    def _dry_run(self, ctx: StepContext, changes: list[Change]) -> _Refusal | None:
        """DryRun per resource kind in the scope; why the scope must be skipped, if so."""
        by_kind: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_kind[change.kind].append(change)
        for kind, items in sorted(by_kind.items()):
            refusal = _probe(ctx, kind, items[:PROBES])
            if refusal is not None:
                return refusal
        return None

    def _one(self, ctx: StepContext, change: Change, denied: threading.Event) -> ChangeResult:
        if self._stop.is_set():
            raise _Stopped
        if denied.is_set():
            return self._finish(ChangeResult(change, "denied", "not attempted: scope denied"))
        try:
            result = self.step(ctx, change)
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
            self.outcome_record,
            key=result.change.key,
            outcome=result.outcome,
            reason=result.reason,
            observed=observed,
            **extra,
        )
        self.progress.advance()
        return result
