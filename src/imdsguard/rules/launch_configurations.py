"""The launch-configuration rule (FSBP AutoScaling.3): HttpTokens missing or optional fails."""

from __future__ import annotations

from imdsguard.model.launch import LaunchConfiguration
from imdsguard.model.scan import Finding, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import launch_verdict, rule


@rule(LaunchConfiguration)
def evaluate_launch_configuration(
    scope: Scope, config: LaunchConfiguration, options: EvaluationOptions
) -> Finding:
    # A missing MetadataOptions means HttpTokens=optional (docs/aws-behaviour.md#the-api);
    # the parsed defaults already say so. The fix is a migration: see the evidence.
    status, why = launch_verdict(config.metadata, options)
    return Finding(scope, config, status, why)
