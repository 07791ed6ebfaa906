"""The launch-template applier: a new version requiring IMDSv2 made the default; rollback
switches the default back. Versions are never deleted.

``Change.state`` carries ``default_version`` and ``latest_version`` as planned and the
change's ``marker``, which the new version's description (and ClientToken) carries: a
resumed run finds the version it created instead of creating a second one, and rollback
only moves a default that is still ours.
"""

from __future__ import annotations

from collections.abc import Sequence

from imdsguard.aws import launch_templates as template_write
from imdsguard.aws.instances import parse_metadata_options
from imdsguard.errors import AwsError
from imdsguard.model.kinds import LAUNCH_TEMPLATES
from imdsguard.model.launch import TemplateSummary
from imdsguard.model.remediation import Change, ChangeResult, same_settings
from imdsguard.model.scan import MetadataOptions
from imdsguard.remediate.appliers.interface import Applier, Context, Present, ScopeClients
from imdsguard.remediate.verify import wait_until


def _planned(change: Change, name: str) -> int:
    return int(str(change.state[name]))


def _marker(change: Change) -> str:
    return str(change.state["marker"])


def _settings(ctx: Context, template_id: str, number: int) -> MetadataOptions | None:
    client = ctx.clients.ec2
    version = ctx.read(lambda: template_write.get_version(client, template_id, number))
    return None if version is None else parse_metadata_options(version.metadata)


def _make_default(
    ctx: Context, change: Change, template: TemplateSummary, version: int, note: str
) -> ChangeResult:
    state = {"previous_default": _planned(change, "default_version"), "created_version": version}
    if template.default_version != version:
        try:
            ctx.write(
                lambda: template_write.set_default(ctx.clients.ec2, change.resource_id, version)
            )
        except AwsError as exc:
            return ChangeResult(change, "failed", str(exc), state=state)
    ok, observed = _wait_default(ctx, change, version, change.after)
    if ok:
        return ChangeResult(change, "applied", note, observed, state)
    return ChangeResult(change, "failed", _not_verified(ctx, version), observed, state)


def _wait_default(
    ctx: Context, change: Change, version: int, want: MetadataOptions
) -> tuple[bool, MetadataOptions | None]:
    """Describe until ``version`` is the default with ``want``; templates are usually
    consistent at once, but EC2 is eventually consistent, so poll like instances do."""
    client = ctx.clients.ec2

    def poll() -> tuple[bool, MetadataOptions | None]:
        template = ctx.read(lambda: template_write.get_template(client, change.resource_id))
        observed = _settings(ctx, change.resource_id, version)
        is_default = template is not None and template.default_version == version
        return is_default and observed is not None and same_settings(observed, want), observed

    return wait_until(poll, ctx.verify_timeout)


def _not_verified(ctx: Context, version: int) -> str:
    return f"version {version} not the verified default within {ctx.verify_timeout:g}s"


class LaunchTemplates(Applier):
    kind = LAUNCH_TEMPLATES.plan_kind
    # CreateLaunchTemplateVersion and ModifyLaunchTemplate: 100 calls, +5/s
    # (docs/aws-behaviour.md#rate-limits).
    pace = (100.0, 5.0)

    def apply(self, ctx: Context, change: Change, resumed: bool) -> ChangeResult:
        client, template_id = ctx.clients.ec2, change.resource_id
        template = ctx.read(lambda: template_write.get_template(client, template_id))
        if template is None:
            return ChangeResult(change, "skipped", "gone: launch template deleted")
        if resumed:
            since = _planned(change, "latest_version") + 1
            ours = ctx.read(
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
        ctx.intend(change)
        source = ctx.read(lambda: template_write.get_version(client, template_id, planned))
        if source is None:
            return ChangeResult(change, "failed", f"default version {planned} vanished")
        data = template_write.with_metadata(client, source.data, change.after)
        try:
            created = ctx.write(
                lambda: template_write.create_version(
                    client, template_id, planned, data, _marker(change)
                )
            )
        except AwsError as exc:
            return ChangeResult(change, "failed", str(exc), current)
        return _make_default(ctx, change, template, created, "")

    def rollback(self, ctx: Context, change: Change) -> ChangeResult:
        """Make the old default the default again, but only if the default is still ours."""
        client, template_id = ctx.clients.ec2, change.resource_id
        old = _planned(change, "default_version")
        template = ctx.read(lambda: template_write.get_template(client, template_id))
        if template is None:
            return ChangeResult(change, "skipped", "gone: launch template deleted")
        if template.default_version != old:
            number = template.default_version
            current = ctx.read(lambda: template_write.get_version(client, template_id, number))
            if current is None or _marker(change) not in current.description:
                why = f"default is now version {template.default_version}, not ours; left alone"
                return ChangeResult(change, "drifted", why)
            ctx.intend(change)
            try:
                ctx.write(lambda: template_write.set_default(client, template_id, old))
            except AwsError as exc:
                return ChangeResult(change, "failed", str(exc))
        ok, observed = _wait_default(ctx, change, old, change.before)
        note = "" if template.default_version != old else "already as before"
        state = {"default_version": old}
        if ok:
            return ChangeResult(change, "restored", note, observed, state)
        return ChangeResult(change, "failed", _not_verified(ctx, old), observed, state)

    def present(self, clients: ScopeClients, changes: Sequence[Change]) -> dict[str, Present]:
        """What the template launches now is its default version: regressed when that one
        allows IMDSv1, whichever version it is."""
        found: dict[str, Present] = {}
        for change in changes:
            template = template_write.get_template(clients.ec2, change.resource_id)
            if template is None:
                found[change.key] = Present("gone", "launch template deleted")
                continue
            number = template.default_version
            version = template_write.get_version(clients.ec2, change.resource_id, number)
            if version is None:
                why = f"default version {number} of {change.resource_id} not found"
                raise AwsError("VersionNotFound", why, "DescribeLaunchTemplateVersions")
            tokens = parse_metadata_options(version.metadata).http_tokens
            now = f"default version {number}, tokens {tokens}"
            found[change.key] = Present("in-place" if tokens == "required" else "regressed", now)
        return found

    def dry_run(self, clients: ScopeClients, change: Change) -> None:
        """ModifyLaunchTemplate(DryRun) re-setting the current default: the one write we
        make that is harmless even where an endpoint ignores DryRun."""
        template_id = change.resource_id
        template = template_write.get_template(clients.ec2, template_id)
        if template is None:
            raise AwsError("InvalidLaunchTemplateId.NotFound", "template deleted", "DryRun")
        template_write.set_default(clients.ec2, template_id, template.default_version, dry_run=True)


APPLIER = LaunchTemplates()
