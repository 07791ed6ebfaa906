"""The account-defaults applier: ModifyInstanceMetadataDefaults per Region, paced 2/s.

``Change.state`` holds the exact requests in API terms: ``after`` (only the fields this
change sets) and ``before`` (the same fields as they were, ``no-preference``/``-1`` where
unset), so rollback writes ``before`` verbatim and unset values become unset again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from imdsguard.aws.account_defaults import get_account_defaults, modify_defaults
from imdsguard.errors import AwsError
from imdsguard.model.kinds import ACCOUNT_DEFAULTS
from imdsguard.model.launch import AccountImdsDefaults
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.model.scan import JSONValue
from imdsguard.plan.launch import defaults_api_values
from imdsguard.remediate.appliers.interface import Applier, Context, Present, ScopeClients
from imdsguard.remediate.verify import wait_until

Success = Literal["applied", "restored"]


def _request(change: Change, which: str) -> dict[str, JSONValue]:
    value = change.state[which]
    assert isinstance(value, dict)
    return value


def _matches(current: Mapping[str, JSONValue], want: Mapping[str, JSONValue]) -> bool:
    return all(current.get(k) == v for k, v in want.items())


def _read(ctx: Context) -> AccountImdsDefaults:
    return ctx.read(lambda: get_account_defaults(ctx.clients.ec2, ctx.clients.region))


def _write(ctx: Context, fields: Mapping[str, JSONValue]) -> None:
    ctx.write(lambda: modify_defaults(ctx.clients.ec2, fields))


def _wait(ctx: Context, want: Mapping[str, JSONValue]) -> tuple[bool, dict[str, JSONValue]]:
    def poll() -> tuple[bool, dict[str, JSONValue]]:
        current = defaults_api_values(_read(ctx))
        return _matches(current, want), current

    return wait_until(poll, ctx.verify_timeout)


def _verified(
    ctx: Context, change: Change, which: str, success: Success, note: str
) -> ChangeResult:
    ok, current = _wait(ctx, _request(change, which))
    state: dict[str, JSONValue] = {"observed": current}
    if ok:
        return ChangeResult(change, success, note, state=state)
    wait = ctx.verify_timeout
    return ChangeResult(change, "failed", f"not verified within {wait:g}s", state=state)


def _written(ctx: Context, change: Change, which: str, success: Success) -> ChangeResult:
    """Journal the intent, write the ``which`` request, verify it."""
    ctx.intend(change)
    try:
        _write(ctx, _request(change, which))
    except AwsError as exc:
        return ChangeResult(change, "failed", str(exc))
    return _verified(ctx, change, which, success, "")


def _moved(want: Mapping[str, JSONValue], current: Mapping[str, JSONValue]) -> list[str]:
    return [f"{k} {want[k]}->{current.get(k)}" for k in want if current.get(k) != want[k]]


class AccountDefaults(Applier):
    kind = ACCOUNT_DEFAULTS.plan_kind
    # ModifyInstanceMetadataDefaults has its own bucket: 2 calls, refilled 2/s
    # (docs/aws-behaviour.md#rate-limits).
    pace = (2.0, 2.0)

    def apply(self, ctx: Context, change: Change, resumed: bool) -> ChangeResult:
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
            changed = ", ".join(_moved(before, current))
            return ChangeResult(change, "drifted", "changed since the plan: " + changed)
        return _written(ctx, change, "after", "applied")

    def rollback(self, ctx: Context, change: Change) -> ChangeResult:
        current = defaults_api_values(_read(ctx))
        after, before = _request(change, "after"), _request(change, "before")
        if _matches(current, before):
            return _verified(ctx, change, "before", "restored", "already as before")
        if not _matches(current, after):
            return ChangeResult(change, "drifted", "changed since apply; left alone")
        return _written(ctx, change, "before", "restored")

    def present(self, clients: ScopeClients, changes: Sequence[Change]) -> dict[str, Present]:
        """Any field the change set that differs now is a regression: with HttpTokens or
        HttpTokensEnforced set back, new launches may allow IMDSv1 again."""
        current = defaults_api_values(get_account_defaults(clients.ec2, clients.region))
        found: dict[str, Present] = {}
        for change in changes:
            moved = _moved(_request(change, "after"), current)
            if moved:
                found[change.key] = Present("regressed", "changed since apply: " + ", ".join(moved))
            else:
                found[change.key] = Present("in-place", "as applied")
        return found

    def dry_run(self, clients: ScopeClients, change: Change) -> None:
        # Writes HttpTokens=required only if an endpoint ignores DryRun; then apply skips
        # it as already compliant, and the probe reports DryRunIgnored.
        fields = {"HttpTokens": change.after.http_tokens}
        modify_defaults(clients.ec2, fields, dry_run=True)


APPLIER = AccountDefaults()
