"""The launch-configuration rule (FSBP AutoScaling.3): HttpTokens missing or optional fails."""

from __future__ import annotations

from imdsguard.model.launch import LaunchConfiguration
from imdsguard.model.scan import Finding, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import launches_imdsv1, rule


@rule(LaunchConfiguration)
def evaluate_launch_configuration(
    scope: Scope, config: LaunchConfiguration, options: EvaluationOptions
) -> Finding:
    # A missing MetadataOptions means HttpTokens=optional (docs/aws-behaviour.md#the-api); the
    # parsed
    # defaults already say so. The fix is a migration: see the evidence's remediation.
    if launches_imdsv1(config.metadata, options):
        return Finding(scope, config, "FAIL", "tokens-optional")
    return Finding(scope, config, "PASS", "tokens-required")
