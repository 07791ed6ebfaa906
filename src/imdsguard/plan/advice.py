"""PURE: the migrations launch configurations and Auto Scaling groups need (never changes)."""

from __future__ import annotations

from collections.abc import Iterable

from imdsguard.model.kinds import AUTO_SCALING_GROUPS, LAUNCH_CONFIGURATIONS
from imdsguard.model.launch import AutoScalingGroup, LaunchConfiguration, LaunchSource
from imdsguard.model.remediation import Hold
from imdsguard.model.scan import Finding, JSONValue

FIXED_BY_PLAN = frozenset({"$Default", "$Latest"})  # the new version is default and latest


def lc_migration(finding: Finding) -> Hold:
    config = finding.resource
    assert isinstance(config, LaunchConfiguration)
    groups = list(config.used_by)
    if groups:
        action = (
            f"migrate launch configuration {config.name} used by groups {', '.join(groups)} "
            "to a launch template with HttpTokens=required"
        )
    else:
        action = f"launch configuration {config.name} is used by no group: delete it"
    detail: dict[str, JSONValue] = {"groups": list(groups), "action": action}
    return Hold(
        LAUNCH_CONFIGURATIONS.plan_kind,
        finding.scope,
        config.name,
        "migration",
        config.name,
        detail,
    )


def _source_action(source: LaunchSource, changed_templates: frozenset[str]) -> str | None:
    """What to do about one launch source, or None if it is fine or this plan fixes it."""
    if source.http_tokens is None:
        return (
            f"{source.kind} {source.identifier} ({source.via}) is missing: point the group "
            "at a launch template that requires tokens"
        )
    if source.http_tokens == "required" or source.http_endpoint == "disabled":
        return None  # requires tokens, or serves no IMDS at all
    if source.kind == "launch-configuration":
        return (
            f"move the group from launch configuration {source.identifier} to a launch "
            "template with HttpTokens=required"
        )
    if source.requested_version in FIXED_BY_PLAN:
        if source.identifier in changed_templates:
            return None
        return (
            f"launches {source.identifier} {source.requested_version} (version "
            f"{source.resolved_version}), which allows IMDSv1: its {source.requested_version} "
            "must require tokens (imdsguard fixes $Default when launch-templates are selected)"
        )
    return (
        f"launches {source.identifier} version {source.resolved_version} "
        f"(asked as {source.requested_version}, {source.via}), which allows IMDSv1: "
        "point it at $Default or a version that requires tokens"
    )


def asg_migration(finding: Finding, changed_templates: frozenset[str]) -> Hold | None:
    group = finding.resource
    assert isinstance(group, AutoScalingGroup)
    actions = [a for s in group.sources if (a := _source_action(s, changed_templates))]
    if not group.sources:
        actions = ["the group has no launch source: give it a launch template"]
    if not actions:
        return None
    detail: dict[str, JSONValue] = {"action": "; ".join(actions)}
    return Hold(
        AUTO_SCALING_GROUPS.plan_kind, finding.scope, group.name, "migration", group.name, detail
    )


def migrations(findings: Iterable[Finding], changed_templates: frozenset[str]) -> list[Hold]:
    """One entry per failing launch configuration and per group this plan leaves failing."""
    out: list[Hold] = []
    for finding in findings:
        if finding.status != "FAIL":
            continue
        if isinstance(finding.resource, LaunchConfiguration):
            out.append(lc_migration(finding))
        elif isinstance(finding.resource, AutoScalingGroup):
            hold = asg_migration(finding, changed_templates)
            if hold is not None:
                out.append(hold)
    return out
