"""The EC2 instance applier: DescribeInstances to re-read, ModifyInstanceMetadataOptions
with the full set of settings, verified in the scope's batched poll (remediate/verify.py)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

from imdsguard.aws.instances import (
    check_modify_permission,
    get_instance,
    get_instances_by_id,
    modify_metadata_options,
)
from imdsguard.errors import AwsError
from imdsguard.model.kinds import INSTANCES
from imdsguard.model.remediation import (
    Change,
    ChangeResult,
    same_settings,
    settings_json,
)
from imdsguard.model.scan import Instance, MetadataOptions
from imdsguard.remediate.appliers.interface import (
    Applier,
    Context,
    Observed,
    Present,
    ScopeClients,
)
from imdsguard.remediate.verify import Verdict, Verifier, check

# moto (and AWS for about an hour) keep terminated instances visible, and moto accepts a
# modify on them (docs/aws-behaviour.md#the-emulator): a terminated instance is gone, never a
# change target.
GONE_STATES = frozenset({"terminated", "shutting-down"})


def _observed(inst: Instance | None) -> Observed:
    if inst is None:
        return Observed(None, "InvalidInstanceID.NotFound")
    if inst.instance_state in GONE_STATES:
        return Observed(None, f"instance {inst.instance_state}")
    return Observed(inst.metadata)


def _read(ctx: Context, change: Change) -> Observed:
    return ctx.read(lambda: _observed(get_instance(ctx.clients.ec2, change.resource_id)))


def _read_many(clients: ScopeClients, instance_ids: Sequence[str]) -> dict[str, Observed]:
    found = get_instances_by_id(clients.ec2, instance_ids)
    return {iid: _observed(found.get(iid)) for iid in instance_ids}


def _write(ctx: Context, change: Change, options: MetadataOptions) -> None:
    ctx.write(lambda: modify_metadata_options(ctx.clients.ec2, change.resource_id, options))


def _verify(ctx: Context, change: Change, want: MetadataOptions) -> tuple[Verdict, Observed | None]:
    """One describe right away; if not in force yet, wait in the scope's batched poll."""
    observed = _read(ctx, change)
    verdict = check(observed, want)
    if verdict is not None:
        return verdict, observed
    verifier = ctx.shared(
        "instances/verifier",
        lambda: Verifier(partial(_read_many, ctx.clients), ctx.verify_timeout),
    )
    return verifier.wait(change.resource_id, want)


def _settle(
    ctx: Context,
    change: Change,
    want: MetadataOptions,
    success: Literal["applied", "restored"],
    note: str,
) -> ChangeResult:
    """Wait until ``want`` is in force: ``success``, ``skipped`` if gone, else ``failed``."""
    verdict, observed = _verify(ctx, change, want)
    current = observed.options if observed else None
    if verdict == "ok":
        return ChangeResult(change, success, note, current)
    if verdict == "gone" and observed is not None:
        return ChangeResult(change, "skipped", f"gone: {observed.why}")
    return ChangeResult(change, "failed", f"not verified within {ctx.verify_timeout:g}s", current)


def _changed(was: MetadataOptions, current: MetadataOptions) -> str:
    old, now = settings_json(was), settings_json(current)
    return ", ".join(f"{k} {old[k]}->{now[k]}" for k in old if old[k] != now[k])


def _diff(before: MetadataOptions, current: MetadataOptions) -> str:
    return "changed since the plan: " + _changed(before, current)


def _present(change: Change, observed: Observed) -> Present:
    """Pure. Regressed once tokens are no longer required, whatever else moved: that is
    IMDSv1 allowed again (docs/aws-behaviour.md#the-api); other moves are only shown."""
    current = observed.options
    if current is None:
        return Present("gone", observed.why)
    moved = _changed(change.after, current)
    if current.http_tokens != "required":
        return Present("regressed", "changed since apply: " + moved)
    return Present("in-place", "as applied" if not moved else "tokens required; " + moved)


class Instances(Applier):
    kind = INSTANCES.plan_kind

    def apply(self, ctx: Context, change: Change, resumed: bool) -> ChangeResult:
        observed = _read(ctx, change)
        current = observed.options
        if current is None:
            return ChangeResult(change, "skipped", f"gone: {observed.why}")
        if resumed and same_settings(current, change.after):
            # The interrupted run's write went through: verify, record, no second write.
            return _settle(ctx, change, change.after, "applied", "written by the interrupted run")
        if current.http_tokens == "required":
            return ChangeResult(change, "skipped", "already compliant", current)
        if not same_settings(current, change.before):
            return ChangeResult(change, "drifted", _diff(change.before, current), current)
        ctx.intend(change)
        try:
            _write(ctx, change, change.after)
        except AwsError as exc:
            gone = _read(ctx, change)
            if gone.options is None:  # InvalidInstanceID.NotFound: it vanished under us
                return ChangeResult(change, "skipped", f"gone: {gone.why}")
            return ChangeResult(change, "failed", str(exc), gone.options)
        return _settle(ctx, change, change.after, "applied", "")

    def rollback(self, ctx: Context, change: Change) -> ChangeResult:
        observed = _read(ctx, change)
        current = observed.options
        if current is None:
            return ChangeResult(change, "skipped", f"gone: {observed.why}")
        if same_settings(current, change.before):
            return _settle(ctx, change, change.before, "restored", "already as before")
        if not same_settings(current, change.after):
            # Someone changed it after us: restoring would clobber their change.
            return ChangeResult(change, "drifted", "changed since apply; left alone", current)
        ctx.intend(change)
        try:
            _write(ctx, change, change.before)
        except AwsError as exc:
            return ChangeResult(change, "failed", str(exc), current)
        return _settle(ctx, change, change.before, "restored", "")

    def present(self, clients: ScopeClients, changes: Sequence[Change]) -> dict[str, Present]:
        seen = _read_many(clients, [c.resource_id for c in changes])
        return {c.key: _present(c, seen[c.resource_id]) for c in changes}

    def dry_run(self, clients: ScopeClients, change: Change) -> None:
        check_modify_permission(clients.ec2, change.resource_id, change.after)


APPLIER = Instances()
