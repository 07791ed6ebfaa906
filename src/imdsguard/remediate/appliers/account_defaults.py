"""The account-defaults applier: ModifyInstanceMetadataDefaults per Region, paced 2/s.

``Change.state`` holds the exact requests in API terms: ``after`` (only the fields this
change sets) and ``before`` (the same fields as they were, ``no-preference``/``-1`` where
unset), so rollback writes ``before`` verbatim and unset values become unset again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from imdsguard.aws import account_defaults as account_write
from imdsguard.aws.account_defaults import get_account_defaults
from imdsguard.errors import AwsError
from imdsguard.model.kinds import ACCOUNT_DEFAULTS
from imdsguard.model.launch import AccountImdsDefaults
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.model.scan import JSONValue, MetadataOptions
from imdsguard.plan.launch import defaults_api_values
from imdsguard.plan.planfile import change_json
from imdsguard.remediate.appliers import ScopeClients, StepApplier, register

if TYPE_CHECKING:  # the engine imports this registry; at run time it needs no engine
    from imdsguard.remediate.engine import StepContext

# ModifyInstanceMetadataDefaults has its own bucket: 2 calls, refilled 2/s
# (docs/aws-behaviour.md#rate-limits).
CAPACITY, REFILL = 2.0, 2.0


def _request(change: Change, which: str) -> dict[str, JSONValue]:
    value = change.state[which]
    assert isinstance(value, dict)
    return value


def _matches(current: Mapping[str, JSONValue], want: Mapping[str, JSONValue]) -> bool:
    return all(current.get(k) == v for k, v in want.items())


def _read(ctx: StepContext) -> AccountImdsDefaults:
    return ctx.reading(lambda: get_account_defaults(ctx.clients.ec2, ctx.clients.region))


def _write(ctx: StepContext, fields: Mapping[str, JSONValue]) -> None:
    bucket = ctx.bucket_for(ACCOUNT_DEFAULTS.plan_kind, CAPACITY, REFILL)
    ctx.paced(lambda: account_write.modify_defaults(ctx.clients.ec2, fields), bucket)


def _wait(ctx: StepContext, want: Mapping[str, JSONValue]) -> tuple[bool, dict[str, JSONValue]]:
    deadline = time.monotonic() + ctx.options.verify_timeout
    while True:
        current = defaults_api_values(_read(ctx))
        if _matches(current, want) or time.monotonic() + 0.5 > deadline:
            return _matches(current, want), current
        time.sleep(0.5)


def _verified(
    ctx: StepContext, change: Change, which: str, success: str, note: str
) -> ChangeResult:
    ok, current = _wait(ctx, _request(change, which))
    state: dict[str, JSONValue] = {"observed": current}
    if ok:
        return ChangeResult(change, success, note, state=state)  # type: ignore[arg-type]
    wait = ctx.options.verify_timeout
    return ChangeResult(change, "failed", f"not verified within {wait:g}s", state=state)


def apply(ctx: StepContext, change: Change, resumed: bool) -> ChangeResult:
    defaults = _read(ctx)
    if not defaults.account_can_change:
        return ChangeResult(change, "skipped", "managed by a declarative policy")
    current = defaults_api_values(defaults)
    after, before = _request(change, "after"), _request(change, "before")
    if _matches(current, after):
        if resumed:  # the interrupted run's write went through
            return _verified(ctx, change, "after", "applied", "written by the interrupted run")
        return ChangeResult(change, "skipped", "already compliant", state={"observed": current})
    if not _matches(current, before):
        changed = [
            f"{k} {before[k]}->{current.get(k)}" for k in before if current.get(k) != before[k]
        ]
        return ChangeResult(change, "drifted", "changed since the plan: " + ", ".join(changed))
    ctx.journal.append("intent", key=change.key, change=change_json(change))
    try:
        _write(ctx, after)
    except AwsError as exc:
        return ChangeResult(change, "failed", str(exc))
    return _verified(ctx, change, "after", "applied", "")


def rollback(ctx: StepContext, change: Change) -> ChangeResult:
    """Write ``before`` back, unless someone changed the defaults after us."""
    current = defaults_api_values(_read(ctx))
    after, before = _request(change, "after"), _request(change, "before")
    if _matches(current, before):
        return _verified(ctx, change, "before", "restored", "already as before")
    if not _matches(current, after):
        return ChangeResult(change, "drifted", "changed since apply; left alone")
    ctx.journal.append("rollback-intent", key=change.key)
    try:
        _write(ctx, before)
    except AwsError as exc:
        return ChangeResult(change, "failed", str(exc))
    return _verified(ctx, change, "before", "restored", "")


def dry_run(clients: ScopeClients, _resource_id: str, options: MetadataOptions) -> None:
    # Writes HttpTokens=required only if an endpoint ignores DryRun; then apply skips it
    # as already compliant, and the probe reports DryRunIgnored.
    account_write.modify_defaults(clients.ec2, {"HttpTokens": options.http_tokens}, dry_run=True)


register(ACCOUNT_DEFAULTS.plan_kind, StepApplier(dry_run, apply, rollback, pace=(CAPACITY, REFILL)))
