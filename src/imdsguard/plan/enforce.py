"""PURE: may a Region be enforced (HttpTokensEnforced=enabled on its account default)?

Enforcement makes every launch that allows IMDSv1 fail (docs/aws-behaviour.md#the-api),
so every launcher of the Region (instances, launch templates, launch configurations,
groups) must pass first. ``plan --enforce`` counts a launcher that fails at scan time as
ready when this same plan fixes it, since enforcement runs only as the Region's final
step, after those changes (docs/rollout.md#enforcement-comes-last); apply checks the
Region again before it enforces (remediate/gate.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from imdsguard.model.kinds import (
    ACCOUNT_DEFAULTS,
    AUTO_SCALING_GROUPS,
    INSTANCES,
    KINDS,
    LAUNCH_TEMPLATES,
    Kind,
)
from imdsguard.model.remediation import Change, Hold
from imdsguard.model.scan import Finding, Instance, ScanResult, Scope
from imdsguard.options import EvaluationOptions, PlanOptions
from imdsguard.rules import evaluate, launches_imdsv1

# What launches new instances: each of them must pass before a Region is enforced.
LAUNCHERS: tuple[Kind, ...] = tuple(k for k in KINDS if k.gates_enforcement)

# A launcher: (its scope, its kind's name, its resource id).
Launcher = tuple[Scope, str, str]


def enforces(change: Change) -> bool:
    """Does ``change`` set HttpTokensEnforced=enabled on an account default?"""
    after = change.state.get("after")
    return (
        change.kind == ACCOUNT_DEFAULTS.plan_kind
        and isinstance(after, dict)
        and after.get("HttpTokensEnforced") == "enabled"
    )


def _instance_fixed(finding: Finding, change: Change) -> bool:
    """Does the instance pass, as the rules judge it, once ``change`` is made?"""
    inst = finding.resource
    assert isinstance(inst, Instance)
    after = evaluate(finding.scope, replace(inst, metadata=change.after), EvaluationOptions())
    return after is None or after.status != "FAIL"


def fixed_by_plan(
    findings: Iterable[Finding],
    changes: Sequence[Change],
    held: Sequence[Hold],
    migrations: Sequence[Hold],
) -> frozenset[Launcher]:
    """The failing launchers this plan fixes: an instance or a launch template it changes
    to a setting that passes (a template with a pinned version that allows IMDSv1 still
    fails: that is held), and a group the plan leaves no migration for (it launches
    $Default or $Latest of a template the plan fixes)."""
    planned: Mapping[tuple[Scope, str, str], Change] = {
        (c.scope, c.kind, c.resource_id): c for c in changes
    }
    pinned = {(h.scope, h.resource_id) for h in held if h.kind == LAUNCH_TEMPLATES.plan_kind}
    migrating = {(h.scope, h.resource_id) for h in migrations}
    out: set[Launcher] = set()
    for f in findings:
        if f.status != "FAIL":
            continue
        where = (f.scope, f.resource_id)
        if isinstance(f.resource, Instance):
            change = planned.get((f.scope, INSTANCES.plan_kind, f.resource_id))
            if change is not None and _instance_fixed(f, change):
                out.add((f.scope, INSTANCES.name, f.resource_id))
        elif isinstance(f.resource, LAUNCH_TEMPLATES.model):
            change = planned.get((f.scope, LAUNCH_TEMPLATES.plan_kind, f.resource_id))
            passes = change is not None and not launches_imdsv1(change.after, EvaluationOptions())
            if passes and where not in pinned:
                out.add((f.scope, LAUNCH_TEMPLATES.name, f.resource_id))
        elif isinstance(f.resource, AUTO_SCALING_GROUPS.model) and where not in migrating:
            out.add((f.scope, AUTO_SCALING_GROUPS.name, f.resource_id))
    return frozenset(out)


def region_not_ready(
    scan: ScanResult,
    scope: Scope,
    options: PlanOptions,
    fixed: frozenset[Launcher] = frozenset(),
) -> str | None:
    """Why HttpTokensEnforced=enabled would break this Region's launches, or None.

    ``fixed``: the failing launchers the plan fixes before it enforces (fixed_by_plan);
    every other failing launcher is named.
    """
    unscanned = [k.name for k in LAUNCHERS if k.name not in options.resources]
    if unscanned:
        kinds = ", ".join(unscanned)
        return f"{kinds} were not scanned (--resources): cannot tell if every one passes"
    errors = {(s.account_id, s.region) for s in scan.scope_errors}
    if (scope.account_id, scope.region) in errors:
        return "the Region's scan is incomplete"
    parts = []
    for kind in LAUNCHERS:
        failing = sorted(
            f.resource_id
            for f in scan.findings
            if f.scope == scope
            and isinstance(f.resource, kind.model)
            and f.status == "FAIL"
            and (scope, kind.name, f.resource_id) not in fixed
        )
        if failing:
            examples = ", ".join(failing[:3]) + (", ..." if len(failing) > 3 else "")
            parts.append(f"{len(failing)} {kind.counted} ({examples})")
    return "still allow IMDSv1: " + "; ".join(parts) if parts else None
