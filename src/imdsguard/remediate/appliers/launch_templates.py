"""The launch-template applier: a new version requiring IMDSv2 made the default; rollback
switches the default back. Versions are never deleted.

``Change.state`` carries ``default_version`` and ``latest_version`` as planned and the
change's ``marker``, which the new version's description (and ClientToken) carries: a
resumed run finds the version it created instead of creating a second one, and rollback
only moves a default that is still ours.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from imdsguard.aws import launch_templates as template_write
from imdsguard.aws.instances import parse_metadata_options
from imdsguard.errors import AwsError
from imdsguard.model.kinds import LAUNCH_TEMPLATES
from imdsguard.model.launch import TemplateSummary
from imdsguard.model.remediation import Change, ChangeResult, same_settings
from imdsguard.model.scan import MetadataOptions
from imdsguard.plan.planfile import change_json
from imdsguard.remediate.appliers import ScopeClients, StepApplier, register

if TYPE_CHECKING:  # the engine imports this registry; at run time it needs no engine
    from imdsguard.remediate.engine import StepContext
    from imdsguard.remediate.pacing import TokenBucket

# CreateLaunchTemplateVersion and ModifyLaunchTemplate: 100 calls, +5/s
# (docs/aws-behaviour.md#rate-limits).
CAPACITY, REFILL = 100.0, 5.0


def _bucket(ctx: StepContext) -> TokenBucket:
    return ctx.bucket_for(LAUNCH_TEMPLATES.plan_kind, CAPACITY, REFILL)


def _planned(change: Change, name: str) -> int:
    return int(str(change.state[name]))


def _marker(change: Change) -> str:
    return str(change.state["marker"])


def _settings(ctx: StepContext, template_id: str, number: int) -> MetadataOptions | None:
    client = ctx.clients.ec2
    version = ctx.reading(lambda: template_write.get_version(client, template_id, number))
    return None if version is None else parse_metadata_options(version.metadata)


def apply(ctx: StepContext, change: Change, resumed: bool) -> ChangeResult:
    client, template_id = ctx.clients.ec2, change.resource_id
    template = ctx.reading(lambda: template_write.get_template(client, template_id))
    if template is None:
        return ChangeResult(change, "skipped", "gone: launch template deleted")
    if resumed:
        since = _planned(change, "latest_version") + 1
        ours = ctx.reading(
            lambda: template_write.find_version(client, template_id, since, _marker(change))
        )
        if ours is not None:  # the interrupted run created it: never create a second one
            return _make_default(ctx, change, template, ours, "written by the interrupted run")
    planned = _planned(change, "default_version")
    current = _settings(ctx, template_id, template.default_version)
    if current is None:
        return ChangeResult(
            change, "failed", f"default version {template.default_version} unreadable"
        )
    if current.http_tokens == "required":
        return ChangeResult(change, "skipped", "already compliant", current)
    if template.default_version != planned:
        why = f"default version changed since the plan: {planned}->{template.default_version}"
        return ChangeResult(change, "drifted", why, current)
    if not same_settings(current, change.before):
        return ChangeResult(change, "drifted", "default version's options changed", current)
    ctx.journal.append("intent", key=change.key, change=change_json(change))
    source = ctx.reading(lambda: template_write.get_version(client, template_id, planned))
    if source is None:
        return ChangeResult(change, "failed", f"default version {planned} vanished")
    data = template_write.with_metadata(client, source.data, change.after)
    try:
        created = ctx.paced(
            lambda: template_write.create_version(
                client, template_id, planned, data, _marker(change)
            ),
            _bucket(ctx),
        )
    except AwsError as exc:
        return ChangeResult(change, "failed", str(exc), current)
    return _make_default(ctx, change, template, created, "")


def _make_default(
    ctx: StepContext, change: Change, template: TemplateSummary, version: int, note: str
) -> ChangeResult:
    state = {"previous_default": _planned(change, "default_version"), "created_version": version}
    if template.default_version != version:
        try:
            ctx.paced(
                lambda: template_write.set_default(ctx.clients.ec2, change.resource_id, version),
                _bucket(ctx),
            )
        except AwsError as exc:
            return ChangeResult(change, "failed", str(exc), state=state)
    ok, observed = _wait_default(ctx, change, version, change.after)
    if ok:
        return ChangeResult(change, "applied", note, observed, state)
    return ChangeResult(change, "failed", _not_verified(ctx, version), observed, state)


def _wait_default(
    ctx: StepContext, change: Change, version: int, want: MetadataOptions
) -> tuple[bool, MetadataOptions | None]:
    """Describe until ``version`` is the default with ``want``; templates are usually
    consistent at once, but EC2 is eventually consistent, so poll like instances do."""
    deadline = time.monotonic() + ctx.options.verify_timeout
    client = ctx.clients.ec2
    while True:
        template = ctx.reading(lambda: template_write.get_template(client, change.resource_id))
        observed = _settings(ctx, change.resource_id, version)
        is_default = template is not None and template.default_version == version
        if is_default and observed is not None and same_settings(observed, want):
            return True, observed
        if time.monotonic() + 0.5 > deadline:
            return False, observed
        time.sleep(0.5)


def _not_verified(ctx: StepContext, version: int) -> str:
    wait = ctx.options.verify_timeout
    return f"version {version} not the verified default within {wait:g}s"


def rollback(ctx: StepContext, change: Change) -> ChangeResult:
    """Make the old default the default again, but only if the default is still ours."""
    client, template_id = ctx.clients.ec2, change.resource_id
    old = _planned(change, "default_version")
    template = ctx.reading(lambda: template_write.get_template(client, template_id))
    if template is None:
        return ChangeResult(change, "skipped", "gone: launch template deleted")
    if template.default_version != old:
        number = template.default_version
        current = ctx.reading(lambda: template_write.get_version(client, template_id, number))
        if current is None or _marker(change) not in current.description:
            why = f"default is now version {template.default_version}, not ours; left alone"
            return ChangeResult(change, "drifted", why)
        ctx.journal.append("rollback-intent", key=change.key)
        try:
            ctx.paced(lambda: template_write.set_default(client, template_id, old), _bucket(ctx))
        except AwsError as exc:
            return ChangeResult(change, "failed", str(exc))
    ok, observed = _wait_default(ctx, change, old, change.before)
    note = "" if template.default_version != old else "already as before"
    state = {"default_version": old}
    if ok:
        return ChangeResult(change, "restored", note, observed, state)
    return ChangeResult(change, "failed", _not_verified(ctx, old), observed, state)


def dry_run(clients: ScopeClients, template_id: str, _options: MetadataOptions) -> None:
    """ModifyLaunchTemplate(DryRun) re-setting the current default: the one write we make
    that is harmless even where an endpoint ignores DryRun."""
    template = template_write.get_template(clients.ec2, template_id)
    if template is None:
        raise AwsError("InvalidLaunchTemplateId.NotFound", "template deleted", "DryRun")
    template_write.set_default(clients.ec2, template_id, template.default_version, dry_run=True)


register(LAUNCH_TEMPLATES.plan_kind, StepApplier(dry_run, apply, rollback, pace=(CAPACITY, REFILL)))
