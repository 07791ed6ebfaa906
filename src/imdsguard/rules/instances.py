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
    if md.state != "applied" and inst.instance_state != "pending":
        # CIS v5+ audits State == applied: until then the previous settings are in force,
        # and that holds for a pending "endpoint disabled" as much as for pending tokens.
        # A launching instance (instance state pending) has no previous settings: it is
        # judged on what it was launched with, and the finding shows its state.
        return Finding(scope, inst, "FAIL", "change-pending")
    if md.http_endpoint == "disabled":
        # No metadata service at all, so nothing for IMDSv1 to leak (AWS Config's
        # ec2-imdsv2-check reads HttpTokens only); --imds-disabled fail fails it.
        status: Status = "FAIL" if options.imds_disabled == "fail" else "PASS"
        return Finding(scope, inst, status, "imds-disabled")
    return Finding(scope, inst, "PASS", "tokens-required")
