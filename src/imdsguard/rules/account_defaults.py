"""The account-default rule (CIS/FSBP spirit, per Region): FAIL unless HttpTokens is required."""

from __future__ import annotations

from imdsguard.model.launch import AccountImdsDefaults
from imdsguard.model.scan import Finding, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import rule


@rule(AccountImdsDefaults)
def evaluate_account_defaults(
    scope: Scope, defaults: AccountImdsDefaults, options: EvaluationOptions
) -> Finding:
    # ManagedBy=declarative-policy does not change the verdict, only who can fix it;
    # the evidence says so (account_can_change, note).
    if defaults.http_tokens == "required":
        return Finding(scope, defaults, "PASS", "default-tokens-required")
    if defaults.http_tokens is None:
        # No preference: launches fall through to the AMI, then to AWS's optional.
        return Finding(scope, defaults, "FAIL", "default-tokens-unset")
    return Finding(scope, defaults, "FAIL", "default-tokens-optional")
