"""The last gate before a Region's enforcement: are its launchers all passing, now?

``plan --enforce`` plans HttpTokensEnforced=enabled for a Region whose every launcher
(instances, launch templates, launch configurations, groups) passes at scan time or is
fixed by the same plan (plan/enforce.py). So apply, plain or staged, enforces a Region
only as its final step, after every other change, and scans the Region's launchers again
first: enforcement makes every IMDSv1 launch fail (docs/aws-behaviour.md#the-api), and a
change that failed, or anything set back to IMDSv1 since the plan, would break.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from imdsguard import __version__
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import AccountTarget, account_access
from imdsguard.errors import AwsError
from imdsguard.model.findings import FindingList
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.model.scan import ScanResult
from imdsguard.options import EvaluationOptions, PlanOptions
from imdsguard.plan.enforce import LAUNCHERS, region_not_ready
from imdsguard.scan import scan_scope


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


def hold_back(
    factory: SessionFactory,
    changes: Sequence[Change],
    role_name: str | None,
    external_id: str | None,
) -> tuple[list[Change], list[ChangeResult]]:
    """Split enforcing ``changes``: those whose Region passes now, and the others skipped
    with the reason. A skip is not journaled, so ``apply --resume`` checks again."""
    ready: list[Change] = []
    skipped: list[ChangeResult] = []
    for change in changes:
        blocked = not_ready(factory, change, role_name, external_id)
        if blocked is None:
            ready.append(change)
        else:
            why = f"enforcement not run, not every launcher in the Region passes: {blocked}"
            skipped.append(ChangeResult(change, "skipped", why))
    return ready, skipped
