"""The last gate before a Region's enforcement: the scan-time condition, read again.

``plan --enforce`` plans HttpTokensEnforced=enabled only for a Region whose every launcher
(instances, launch templates, launch configurations, groups) passed at scan time
(plan/launch.py region_not_ready). A rollout runs it last, after waves and soaks that may
take hours, so the Region is scanned again first: enforcement makes every IMDSv1 launch
fail (docs/aws-behaviour.md#the-api), and anything that started allowing IMDSv1 since
the plan would break.
"""

from __future__ import annotations

from datetime import UTC, datetime

from imdsguard import __version__
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import AccountTarget, account_access
from imdsguard.errors import AwsError
from imdsguard.model.findings import FindingList
from imdsguard.model.kinds import ACCOUNT_DEFAULTS
from imdsguard.model.remediation import Change
from imdsguard.model.scan import ScanResult
from imdsguard.options import EvaluationOptions, PlanOptions
from imdsguard.plan.launch import LAUNCHERS, region_not_ready
from imdsguard.scan import scan_scope


def enforces(change: Change) -> bool:
    after = change.state.get("after")
    return (
        change.kind == ACCOUNT_DEFAULTS.plan_kind
        and isinstance(after, dict)
        and after.get("HttpTokensEnforced") == "enabled"
    )


def not_ready(
    factory: SessionFactory, change: Change, role_name: str | None, external_id: str | None
) -> str | None:
    """Why ``change``'s Region may not be enforced now, or None: every launcher passes."""
    scope = change.scope
    try:
        access = account_access(factory, scope.account_id, role_name, external_id)
    except AwsError as exc:
        return f"cannot enter the account to check its launchers again: {exc}"
    target = AccountTarget(scope.account_id, access, (scope.region,))
    kinds = tuple(k.name for k in LAUNCHERS)
    outcome, findings = scan_scope(factory, target, scope, kinds, EvaluationOptions())
    scan = ScanResult(
        tool_version=__version__,
        generated_at=datetime.now(UTC),
        scopes=(outcome,),
        findings=FindingList(findings),
        kinds=kinds,
        evaluation={},
        partition=factory.identity().partition,
    )
    return region_not_ready(scan, scope, PlanOptions())
