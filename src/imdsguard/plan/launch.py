"""PURE planning of what decides new launches: templates, account defaults, AMIs, migrations."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from imdsguard.model.kinds import ACCOUNT_DEFAULTS, AMIS, LAUNCH_TEMPLATES
from imdsguard.model.launch import (
    AccountImdsDefaults,
    Image,
    LaunchTemplate,
)
from imdsguard.model.remediation import Change, Hold
from imdsguard.model.scan import (
    NO_PREFERENCE,
    Finding,
    JSONValue,
    MetadataOptions,
    ScanResult,
    Scope,
)
from imdsguard.options import EvaluationOptions, PlanOptions
from imdsguard.plan.advice import migrations
from imdsguard.plan.enforce import Launcher, fixed_by_plan, region_not_ready
from imdsguard.rules import launches_imdsv1

# Template names that say "container nodes": EKS managed node groups name theirs eks-<id>.
CONTAINER_TEMPLATE = re.compile(
    r"(^|[-_./])(eks|ecs|karpenter|k8s|kubernetes|nodegroup)([-_./]|$)", re.IGNORECASE
)
UNSET = NO_PREFERENCE  # what ModifyInstanceMetadataDefaults writes to clear a field


@dataclass
class LaunchPlan:
    changes: list[Change] = field(default_factory=list)
    held: list[Hold] = field(default_factory=list)
    migrations: list[Hold] = field(default_factory=list)


def marker(created_at: datetime, key: str) -> str:
    """A short id for one change of one plan: in the new template version's description
    and ClientToken, so a resumed run recognises the version it created."""
    digest = hashlib.sha256(f"{created_at.isoformat()}|{key}".encode()).hexdigest()
    return f"imdsguard-{digest[:16]}"


def defaults_api_values(defaults: AccountImdsDefaults) -> dict[str, JSONValue]:
    """The defaults as ModifyInstanceMetadataDefaults would write them (unset: no-preference)."""
    return {
        "HttpTokens": defaults.http_tokens or UNSET,
        "HttpPutResponseHopLimit": defaults.hop_limit if defaults.hop_limit is not None else -1,
        "HttpEndpoint": defaults.http_endpoint or UNSET,
        "InstanceMetadataTags": defaults.instance_metadata_tags or UNSET,
        "HttpTokensEnforced": defaults.http_tokens_enforced or UNSET,
    }


def template_hop(md: MetadataOptions, name: str | None, options: PlanOptions) -> tuple[int, str]:
    if options.hop_limit is not None:
        return options.hop_limit, "--hop-limit"
    if options.container_hop_limit and md.hop_limit == 1 and CONTAINER_TEMPLATE.search(name or ""):
        return 2, f"container template (name {name})"
    return md.hop_limit, "kept"


def plan_template(finding: Finding, created_at: datetime, options: PlanOptions) -> LaunchPlan:
    template = finding.resource
    assert isinstance(template, LaunchTemplate)
    out = LaunchPlan()
    scope, tid = finding.scope, template.template_id
    default = template.version(template.default_version)
    if default is None:
        detail: dict[str, JSONValue] = {"why": "the default version could not be read"}
        out.held.append(
            Hold(LAUNCH_TEMPLATES.plan_kind, scope, tid, "unreadable", template.name, detail)
        )
        return out
    changing = finding.reason == "default-version-tokens-optional"
    if changing:
        hop, why = template_hop(default.metadata, template.name, options)
        after = replace(
            default.metadata, http_tokens="required", http_endpoint="enabled", hop_limit=hop
        )
        change = Change(
            LAUNCH_TEMPLATES.plan_kind, scope, tid, default.metadata, after, template.name
        )
        state: dict[str, JSONValue] = {
            "default_version": template.default_version,
            "latest_version": template.latest_version,
            "marker": marker(created_at, change.key),
        }
        evidence: dict[str, JSONValue] = {
            "hop_limit_reason": why,
            "default_version": template.default_version,
        }
        out.changes.append(replace(change, evidence=evidence, state=state))
    for version in template.versions:
        if version.number == template.default_version or not version.used_by:
            continue
        if not launches_imdsv1(version.metadata, EvaluationOptions()):
            continue
        groups = ", ".join(version.used_by)
        action = (
            f"groups {groups} launch version {version.number}, which allows IMDSv1: "
            "moving them is the group owner's decision (to $Default, or a version that "
            "requires tokens)"
        )
        if changing and version.number == template.latest_version:
            action += "; groups that ask for $Latest get the new version"
        detail = {"version": version.number, "groups": list(version.used_by), "action": action}
        out.held.append(
            Hold(LAUNCH_TEMPLATES.plan_kind, scope, tid, "pinned-version", template.name, detail)
        )
    return out


def _defaults_target(current: AccountImdsDefaults, options: PlanOptions) -> dict[str, JSONValue]:
    after: dict[str, JSONValue] = {}
    if current.http_tokens != "required":
        after["HttpTokens"] = "required"
    if after and options.hop_limit is not None:
        after["HttpPutResponseHopLimit"] = options.hop_limit
    elif after and options.container_hop_limit and current.hop_limit in (None, 1):
        after["HttpPutResponseHopLimit"] = 2
    return after


def plan_defaults(
    finding: Finding,
    scan: ScanResult,
    options: PlanOptions,
    fixed: frozenset[Launcher] = frozenset(),
) -> LaunchPlan:
    """The account default's change; with --enforce, its enforcement too when every
    launcher of the Region passes or is one of the ``fixed`` (plan/enforce.py)."""
    current = finding.resource
    assert isinstance(current, AccountImdsDefaults)
    out = LaunchPlan()
    scope, rid = finding.scope, current.resource_id
    after = _defaults_target(current, options)
    wants_enforce = options.enforce and current.http_tokens_enforced != "enabled"
    if not (after or wants_enforce):
        return out
    if not current.account_can_change:
        message = current.managed_exception_message or "no message"
        detail: dict[str, JSONValue] = {
            "managed_by": current.managed_by,
            "why": f"this account cannot change them ({message})",
            "action": "an AWS Organizations declarative policy sets these defaults: change it",
        }
        out.held.append(
            Hold(ACCOUNT_DEFAULTS.plan_kind, scope, rid, "declarative-policy", None, detail)
        )
        return out
    if wants_enforce:
        blocked = region_not_ready(scan, scope, options, fixed)
        if blocked is None:
            after["HttpTokensEnforced"] = "enabled"
        else:
            detail = {"why": blocked, "action": "fix what is named, then plan with --enforce"}
            out.held.append(
                Hold(ACCOUNT_DEFAULTS.plan_kind, scope, rid, "enforce-not-ready", None, detail)
            )
    if after:
        out.changes.append(_defaults_change(scope, current, after))
    return out


def _defaults_change(
    scope: Scope, current: AccountImdsDefaults, after: dict[str, JSONValue]
) -> Change:
    values = defaults_api_values(current)
    before = MetadataOptions(
        http_tokens=current.http_tokens or UNSET,
        http_endpoint=current.http_endpoint or UNSET,
        hop_limit=int(str(values["HttpPutResponseHopLimit"])),
        http_protocol_ipv6=UNSET,  # account defaults have no such field
        instance_metadata_tags=current.instance_metadata_tags or UNSET,
    )
    hop = after.get("HttpPutResponseHopLimit", before.hop_limit)
    target = replace(before, http_tokens="required", hop_limit=int(str(hop)))
    state: dict[str, JSONValue] = {"before": {k: values[k] for k in after}, "after": after}
    evidence: dict[str, JSONValue] = {"managed_by": current.managed_by}
    return Change(
        ACCOUNT_DEFAULTS.plan_kind,
        scope,
        current.resource_id,
        before,
        target,
        None,
        evidence,
        state,
    )


def plan_image(finding: Finding, options: PlanOptions) -> LaunchPlan:
    image = finding.resource
    assert isinstance(image, Image)
    out = LaunchPlan()
    if image.imds_support == "v2.0" or image.state != "available":
        return out
    if options.amis:
        # An AMI with ImdsSupport=v2.0 launches with tokens required and hop limit 2.
        after = MetadataOptions(http_tokens="required", hop_limit=2)
        evidence: dict[str, JSONValue] = {"irreversible": True}
        change = Change(AMIS.plan_kind, finding.scope, image.image_id, MetadataOptions(), after)
        out.changes.append(replace(change, name=image.name, evidence=evidence))
    elif finding.status == "FAIL":
        detail: dict[str, JSONValue] = {
            "override": "--amis",
            "why": "ImdsSupport=v2.0 cannot be undone: only with --amis and a confirmation",
        }
        out.held.append(
            Hold(AMIS.plan_kind, finding.scope, image.image_id, "irreversible", image.name, detail)
        )
    return out


def plan_launch(
    scan: ScanResult,
    options: PlanOptions,
    created_at: datetime,
    instances: Sequence[Change] = (),
) -> LaunchPlan:
    """Changes, holds and migrations for every launch-deciding finding of ``scan``.

    ``instances``: the plan's instance changes. The account defaults are planned last,
    from what the rest of the plan fixes (enforcement is the Region's final step), but
    their changes keep their place in the findings' order.
    """
    parts: dict[int, LaunchPlan] = {}
    for n, finding in enumerate(scan.findings):
        if not isinstance(finding.resource, AccountImdsDefaults):
            parts[n] = _plan_finding(finding, options, created_at)
    changes = [c for part in parts.values() for c in part.changes]
    changed = frozenset(c.resource_id for c in changes if c.kind == LAUNCH_TEMPLATES.plan_kind)
    out = LaunchPlan(migrations=migrations(scan.findings, changed))
    launch_held = [h for part in parts.values() for h in part.held]
    fixed = fixed_by_plan(scan.findings, [*instances, *changes], launch_held, out.migrations)
    for n, finding in enumerate(scan.findings):
        if isinstance(finding.resource, AccountImdsDefaults):
            parts[n] = plan_defaults(finding, scan, options, fixed)
    for n in sorted(parts):
        out.changes += parts[n].changes
        out.held += parts[n].held
    return out


def _plan_finding(finding: Finding, options: PlanOptions, created_at: datetime) -> LaunchPlan:
    resource = finding.resource
    if isinstance(resource, LaunchTemplate) and finding.status == "FAIL":
        return plan_template(finding, created_at, options)
    if isinstance(resource, Image):
        return plan_image(finding, options)
    return LaunchPlan()
