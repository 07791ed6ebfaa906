"""The EC2 instance rule: CIS 'EC2 Metadata Service only allows IMDSv2' (FSBP EC2.8)."""

from __future__ import annotations

from imdsguard.model.scan import Finding, Instance, Scope, Status
from imdsguard.options import EvaluationOptions
from imdsguard.rules import rule

# Gone or going: AWS keeps terminated instances visible for about an hour.
OUT_OF_SCOPE_STATES = frozenset({"terminated", "shutting-down"})


@rule(Instance)
def evaluate_instance(scope: Scope, inst: Instance, options: EvaluationOptions) -> Finding | None:
    if inst.instance_state in OUT_OF_SCOPE_STATES:
        return None
    md = inst.metadata
    if md.http_endpoint != "disabled" and md.http_tokens != "required":
        return Finding(scope, inst, "FAIL", "tokens-optional")
    if md.state != "applied":
        # CIS v5+ audits State == applied: until then the previous settings are in force,
        # and that holds for a pending "endpoint disabled" as much as for pending tokens.
        return Finding(scope, inst, "FAIL", "change-pending")
    if md.http_endpoint == "disabled":
        # No metadata service at all, so nothing for IMDSv1 to leak. AWS Config's
        # ec2-imdsv2-check disagrees; --imds-disabled fail follows it.
        status: Status = "FAIL" if options.imds_disabled == "fail" else "PASS"
        return Finding(scope, inst, status, "imds-disabled")
    return Finding(scope, inst, "PASS", "tokens-required")
