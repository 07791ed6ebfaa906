"""The AMI applier: ModifyImageAttribute ImdsSupport=v2.0. IRREVERSIBLE, so it only runs
for plans made with --amis and confirmed (commands/apply.py); rollback never reaches it."""

from __future__ import annotations

from collections.abc import Sequence

from imdsguard.aws.images import check_image_permission, get_image, get_images, require_imdsv2
from imdsguard.errors import AwsError
from imdsguard.model.kinds import AMIS
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.remediate.appliers.interface import Applier, Context, Present, ScopeClients
from imdsguard.remediate.verify import POLL_INTERVAL, wait_until

V2 = "v2.0"


def _support(ctx: Context, image_id: str) -> tuple[bool, str | None]:
    """(still exists, ImdsSupport)."""
    image = ctx.read(lambda: get_image(ctx.clients.ec2, image_id))
    return (image is not None, image.imds_support if image else None)


def _v2(ctx: Context, image_id: str) -> tuple[bool, str | None]:
    support = _support(ctx, image_id)[1]
    return support == V2, support


class Images(Applier):
    kind = AMIS.plan_kind
    # ModifyImageAttribute: 100 calls, +5/s (docs/aws-behaviour.md#rate-limits).
    pace = (100.0, 5.0)
    # ImdsSupport=v2.0 cannot be unset (docs/aws-behaviour.md#the-api).
    irreversible = (
        "AMIs: {n} had ImdsSupport set to v2.0; AWS cannot undo that, so rollback leaves "
        "them as they are"
    )

    def apply(self, ctx: Context, change: Change, resumed: bool) -> ChangeResult:
        exists, support = _support(ctx, change.resource_id)
        if not exists:
            return ChangeResult(change, "skipped", "gone: AMI deregistered")
        if support == V2:
            if resumed:
                return ChangeResult(change, "applied", "written by the interrupted run")
            return ChangeResult(change, "skipped", "already compliant")
        ctx.intend(change)
        try:
            ctx.write(lambda: require_imdsv2(ctx.clients.ec2, change.resource_id))
        except AwsError as exc:
            return ChangeResult(change, "failed", str(exc))
        # The read above came just before the write: the first poll waits an interval.
        ok, support = wait_until(
            lambda: _v2(ctx, change.resource_id),
            ctx.verify_timeout,
            first_after=POLL_INTERVAL,
        )
        if ok:
            return ChangeResult(change, "applied", "", state={"imds_support": V2})
        return ChangeResult(change, "failed", f"ImdsSupport still {support!r}")

    def present(self, clients: ScopeClients, changes: Sequence[Change]) -> dict[str, Present]:
        images = get_images(clients.ec2, [c.resource_id for c in changes])
        found: dict[str, Present] = {}
        for change in changes:
            image = images.get(change.resource_id)
            if image is None:
                found[change.key] = Present("gone", "AMI deregistered")
            elif image.imds_support == V2:
                found[change.key] = Present("in-place", "as applied")
            else:
                found[change.key] = Present("regressed", f"ImdsSupport {image.imds_support}")
        return found

    def dry_run(self, clients: ScopeClients, change: Change) -> None:
        check_image_permission(clients.ec2, change.resource_id)


APPLIER = Images()
