"""The AMI applier: ModifyImageAttribute ImdsSupport=v2.0. IRREVERSIBLE, so it only runs
for plans made with --amis and confirmed (commands/apply.py); rollback never reaches it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from imdsguard.aws import images as account_write
from imdsguard.errors import AwsError
from imdsguard.model.kinds import AMIS
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.model.scan import MetadataOptions
from imdsguard.plan.planfile import change_json
from imdsguard.remediate.appliers import ScopeClients, StepApplier, register

if TYPE_CHECKING:  # the engine imports this registry; at run time it needs no engine
    from imdsguard.remediate.engine import StepContext

# ModifyImageAttribute: 100 calls, +5/s (docs/aws-behaviour.md#rate-limits).
CAPACITY, REFILL = 100.0, 5.0
V2 = "v2.0"


def _support(ctx: StepContext, image_id: str) -> tuple[bool, str | None]:
    """(still exists, ImdsSupport)."""
    image = ctx.reading(lambda: account_write.get_image(ctx.clients.ec2, image_id))
    return (image is not None, image.imds_support if image else None)


def apply(ctx: StepContext, change: Change, resumed: bool) -> ChangeResult:
    exists, support = _support(ctx, change.resource_id)
    if not exists:
        return ChangeResult(change, "skipped", "gone: AMI deregistered")
    if support == V2:
        if resumed:
            return ChangeResult(change, "applied", "written by the interrupted run")
        return ChangeResult(change, "skipped", "already compliant")
    ctx.journal.append("intent", key=change.key, change=change_json(change))
    bucket = ctx.bucket_for(AMIS.plan_kind, CAPACITY, REFILL)
    try:
        ctx.paced(lambda: account_write.require_imdsv2(ctx.clients.ec2, change.resource_id), bucket)
    except AwsError as exc:
        return ChangeResult(change, "failed", str(exc))
    deadline = time.monotonic() + ctx.options.verify_timeout
    while support != V2 and time.monotonic() + 0.5 <= deadline:
        time.sleep(0.5)
        exists, support = _support(ctx, change.resource_id)
    if support == V2:
        return ChangeResult(change, "applied", "", state={"imds_support": V2})
    return ChangeResult(change, "failed", f"ImdsSupport still {support!r}")


def rollback(_ctx: StepContext, change: Change) -> ChangeResult:
    return ChangeResult(change, "skipped", "ImdsSupport=v2.0 cannot be undone; left as is")


def dry_run(clients: ScopeClients, image_id: str, _options: MetadataOptions) -> None:
    account_write.check_image_permission(clients.ec2, image_id)


register(AMIS.plan_kind, StepApplier(dry_run, apply, rollback, pace=(CAPACITY, REFILL)))
