"""The Auto Scaling group rule: everything a group launches from must require tokens."""

from __future__ import annotations

from imdsguard.model.launch import AutoScalingGroup, LaunchSource
from imdsguard.model.scan import Finding, MetadataOptions, Scope, Status
from imdsguard.options import EvaluationOptions
from imdsguard.rules import launch_verdict, rule


def _verdict(source: LaunchSource, options: EvaluationOptions) -> tuple[Status, str]:
    md = MetadataOptions(
        http_tokens=source.http_tokens or "optional",
        http_endpoint=source.http_endpoint or "enabled",
    )
    return launch_verdict(md, options)


@rule(AutoScalingGroup)
def evaluate_auto_scaling_group(
    scope: Scope, group: AutoScalingGroup, options: EvaluationOptions
) -> Finding:
    if not group.sources or any(s.http_tokens is None for s in group.sources):
        # Fail closed: a deleted template, version or configuration cannot be vouched for.
        return Finding(scope, group, "FAIL", "launch-source-missing")
    verdicts = [_verdict(s, options) for s in group.sources]
    failing = [why for status, why in verdicts if status == "FAIL"]
    if failing:
        why = failing[0]
        return Finding(scope, group, "FAIL", why if why == "imds-disabled" else "launches-" + why)
    # Every source passes: imds-disabled only if every one has the endpoint disabled.
    reasons = {why for _, why in verdicts}
    return Finding(
        scope, group, "PASS", "imds-disabled" if reasons == {"imds-disabled"} else "tokens-required"
    )
