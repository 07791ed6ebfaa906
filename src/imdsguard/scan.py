"""The scan stage: enter accounts, read every scope in a bounded pool, evaluate as pages arrive."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from imdsguard import __version__, rules
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import AccountTarget, enter_account, resolve_accounts
from imdsguard.collect.resources import collection_plan
from imdsguard.errors import AwsError
from imdsguard.executor import ScopeResult, open_scopes
from imdsguard.model.findings import Findings
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.scan import ALL_REGIONS, ScanResult, Scope, ScopeOutcome
from imdsguard.options import EvaluationOptions, ExecutorOptions, ScopeOptions
from imdsguard.progress import ProgressSink, Silent
from imdsguard.spill import ScopeBuffer, Spill


def scan_scope(
    factory: SessionFactory,
    target: AccountTarget,
    scope: Scope,
    kinds: Sequence[str],
    evaluation: EvaluationOptions,
    *,
    findings: ScopeBuffer | None = None,
) -> tuple[ScopeOutcome, ScopeBuffer]:
    """Read one scope completely, or report it as an error (keeping what was read).

    The findings go to ``findings`` (in memory if not given) as they are judged.
    """
    findings = ScopeBuffer() if findings is None else findings
    counts: Counter[str] = Counter()
    skipped = 0
    error: str | None = None
    for kind, collector in collection_plan(kinds):
        try:
            for resource in collector(factory, target.access, scope.region):
                finding = rules.evaluate(scope, resource, evaluation)
                if finding is None:
                    skipped += 1
                    continue
                counts[finding.resource_type] += 1
                findings.append(finding)
        except AwsError as exc:
            text = _scope_error(factory, kind, exc, kinds)
            error = text if error is None else f"{error}; {text}"
    findings.close()
    outcome = ScopeOutcome(scope.account_id, scope.region, error, dict(counts), skipped)
    return outcome, findings


# How an endpoint answers an EC2 API it does not implement: stock moto with an HTTP 500
# page (ResponseParserError, or NotAnAwsAnswer under the reply rule), LocalStack with
# InternalFailure or NotImplemented (docs/aws-behaviour.md#the-emulator).
UNIMPLEMENTED = frozenset(
    {"ResponseParserError", "NotAnAwsAnswer", "InternalFailure", "NotImplemented", "InvalidAction"}
)


def _scope_error(factory: SessionFactory, kind: str, exc: AwsError, kinds: Sequence[str]) -> str:
    """The error, led by plain words when an emulator lacks the kind's API."""
    if not (factory.endpoint_overridden and exc.code in UNIMPLEMENTED and exc.operation):
        return f"{kind}: {exc}"
    operation = exc.operation.split("(", 1)[0]
    others = ",".join(k for k in kinds if k not in kind.split(","))
    advice = f"leave out {kind} with --resources {others}" if others else "scan other kinds"
    return f"{kind}: this endpoint does not implement {operation}; {advice} ({exc})"


def run_scan(
    factory: SessionFactory,
    scope_options: ScopeOptions,
    evaluation: EvaluationOptions,
    kinds: Sequence[str] = ("instances",),
    progress: ProgressSink | None = None,
    *,
    executor: ExecutorOptions | None = None,
) -> ScanResult:
    """Scan every scope; failures become ScopeOutcome errors, never silence.

    Accounts are entered and their Regions listed here, in the local pool, whatever the
    ``executor``: an account that cannot be entered is reported as it always is, and only
    readable scopes become tasks (docs/organization-scale.md#dask).
    """
    progress = progress or Silent()
    outcomes: list[ScopeOutcome] = []
    spill = Spill()
    try:
        accounts = resolve_accounts(factory, scope_options)
    except AwsError as exc:
        # Without the account list nothing can be called compliant: one loud scope error.
        caller = factory.identity().account_id
        outcomes.append(ScopeOutcome(caller, ALL_REGIONS, f"cannot list accounts: {exc}"))
        accounts = []
    progress.add_total(len(accounts))

    def read(target: AccountTarget, scope: Scope) -> ScopeResult:
        # Locally each scope's findings go straight to a buffer in the spill's directory.
        return scan_scope(factory, target, scope, kinds, evaluation, findings=spill.buffer())

    with (
        ThreadPoolExecutor(max_workers=scope_options.max_workers) as pool,
        open_scopes(
            executor or ExecutorOptions(),
            pool,
            read=read,
            settings=factory.settings,
            kinds=kinds,
            evaluation=evaluation,
            workers=scope_options.max_workers,
        ) as scopes,
    ):
        for target in _entered(pool, factory, accounts, scope_options):
            progress.advance()
            if target.error is not None:
                outcomes.append(ScopeOutcome(target.account_id, ALL_REGIONS, target.error))
                continue
            outcomes.extend(ScopeOutcome(target.account_id, r, e) for r, e in target.region_errors)
            target_scopes = target.scopes()
            progress.add_total(len(target_scopes))
            for scope in target_scopes:
                scopes.submit(target, scope)
        for outcome, scope_findings in scopes.completed():
            outcomes.append(outcome)
            # The one consumer: a finished scope's findings leave memory for the spill.
            spill.add(scope_findings)
            progress.advance()
    return _result(outcomes, spill.seal(), kinds, evaluation, factory.identity().partition)


def _entered(
    pool: ThreadPoolExecutor,
    factory: SessionFactory,
    accounts: Sequence[str],
    options: ScopeOptions,
) -> Iterator[AccountTarget]:
    """Each account entered, in order, with at most one pool's worth being entered ahead.

    Entering every account first would queue all their scopes behind every AssumeRole and
    DescribeRegions: the EC2 client that listed an account's Regions would be evicted
    (``SessionFactory``'s client cache) long before that Region's scope could use it, and
    the scopes would start long after their accounts were entered. Entered a window at a
    time, an account's scopes are queued right after it, ahead of the next accounts.
    """
    waiting = iter(accounts)
    entering = deque(
        pool.submit(enter_account, factory, account, options)
        for account in itertools.islice(waiting, options.max_workers)
    )
    while entering:
        target = entering.popleft().result()
        # The caller queues this account's scopes before the next account is entered.
        yield target
        for account in itertools.islice(waiting, 1):
            entering.append(pool.submit(enter_account, factory, account, options))


def _result(
    outcomes: list[ScopeOutcome],
    findings: Findings,
    kinds: Sequence[str],
    evaluation: EvaluationOptions,
    partition: str,
) -> ScanResult:
    return ScanResult(
        tool_version=__version__,
        generated_at=datetime.now(UTC),
        scopes=tuple(sorted(outcomes, key=lambda o: (o.account_id, o.region))),
        findings=findings,
        # What was read and how it was judged: history and reports must not guess.
        kinds=tuple(k for k in RESOURCE_NAMES if k in kinds),
        evaluation=dataclasses.asdict(evaluation),
        partition=partition,
    )
