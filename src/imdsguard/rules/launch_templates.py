"""The launch-template rule (FSBP EC2.170): the default version, and every version a group uses."""

from __future__ import annotations

from imdsguard.model.launch import LaunchTemplate
from imdsguard.model.scan import Finding, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import launch_verdict, launches_imdsv1, rule


@rule(LaunchTemplate)
def evaluate_launch_template(
    scope: Scope, template: LaunchTemplate, options: EvaluationOptions
) -> Finding:
    """Each version is judged on its own. Prowler passes a template when ANY version
    requires tokens; that hides an optional default, which is what `$Default` launches."""
    default = template.version(template.default_version)
    if default is None:
        # Fail closed: the version every default launch uses could not be read.
        return Finding(scope, template, "FAIL", "default-version-unreadable")
    status, passed = launch_verdict(default.metadata, options)
    if status == "FAIL":
        return Finding(scope, template, "FAIL", _reason("default-version", passed))
    for version in template.versions:
        status, why = launch_verdict(version.metadata, options)
        if version.used_by and status == "FAIL":
            # The evidence lists each version with the groups that launch it.
            return Finding(scope, template, "FAIL", _reason("group-version", why))
    latest = template.version(template.latest_version)
    if latest is None or launches_imdsv1(latest.metadata, options):
        # Only launches that ask for $Latest explicitly get it: worth knowing, not a FAIL.
        return Finding(scope, template, "INFO", "latest-version-tokens-optional")
    return Finding(scope, template, "PASS", passed)


def _reason(which: str, why: str) -> str:
    """``imds-disabled`` as for instances; otherwise which version allows IMDSv1."""
    return why if why == "imds-disabled" else f"{which}-tokens-optional"
