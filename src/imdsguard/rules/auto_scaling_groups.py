"""The Auto Scaling group rule: everything a group launches from must require tokens."""

from __future__ import annotations

from imdsguard.model.launch import AutoScalingGroup, LaunchSource
from imdsguard.model.scan import Finding, MetadataOptions, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import launches_imdsv1, rule


def _allows_imdsv1(source: LaunchSource, options: EvaluationOptions) -> bool:
    md = MetadataOptions(
        http_tokens=source.http_tokens or "optional",
        http_endpoint=source.http_endpoint or "enabled",
    )
    return launches_imdsv1(md, options)


@rule(AutoScalingGroup)
def evaluate_auto_scaling_group(
    scope: Scope, group: AutoScalingGroup, options: EvaluationOptions
) -> Finding:
    if not group.sources or any(s.http_tokens is None for s in group.sources):
        # Fail closed: a deleted template, version or configuration cannot be vouched for.
        return Finding(scope, group, "FAIL", "launch-source-missing")
    if any(_allows_imdsv1(s, options) for s in group.sources):
        return Finding(scope, group, "FAIL", "launches-tokens-optional")
    return Finding(scope, group, "PASS", "tokens-required")
