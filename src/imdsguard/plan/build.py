"""PURE planning: scan findings + usage evidence + options -> Plan (changes, holds, exempt)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from imdsguard.model.kinds import INSTANCES
from imdsguard.model.remediation import Change, Hold, HoldReason, Plan, Usage
from imdsguard.model.scan import Finding, Instance, JSONValue, MetadataOptions, ScanResult, Scope
from imdsguard.options import PlanOptions
from imdsguard.plan.launch import plan_launch

# Tags that container orchestrators put on their nodes (EKS, self-managed k8s, Karpenter,
# ECS). AWS recommends hop limit 2 there with IMDSv2 required (docs/aws-behaviour.md#usage-metrics).
CONTAINER_TAG_PATTERNS = (
    "eks:cluster-name",
    "eks:nodegroup-name",
    "aws:eks:cluster-name",
    "kubernetes.io/cluster/*",
    "k8s.io/cluster-autoscaler/*",
    "karpenter.sh/*",
    "AmazonECSManaged",
    "aws:ecs:*",
)
# EKS- and ECS-optimized AMI names (Amazon Linux, Bottlerocket, Windows variants).
CONTAINER_AMI = re.compile(
    r"amazon-eks|eks-node|bottlerocket-aws-(k8s|ecs)|ami-ecs|ecs-optimized|ecs-hvm|"
    r"ECS_Optimized|EKS_Optimized",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the I/O side learned for planning; missing usage means unknown."""

    usage: Mapping[tuple[Scope, str], Usage]
    image_names: Mapping[str, str]
    errors: tuple[tuple[Scope, str], ...] = ()


def is_candidate(finding: Finding) -> bool:
    """FAIL tokens-optional only: never PASS, IMDS-disabled, pending, or terminated."""
    return (
        isinstance(finding.resource, Instance)
        and finding.status == "FAIL"
        and finding.reason == "tokens-optional"
        and finding.resource.instance_state not in ("terminated", "shutting-down")
    )


def exemption(inst: Instance, options: PlanOptions) -> str | None:
    if inst.instance_id in options.exclude_ids:
        return "excluded by id"
    for key, value in options.exclude_tags:
        if inst.tags.get(key) == value:
            return f"excluded by tag {key}={value}"
    return None


def container_signal(inst: Instance, image_names: Mapping[str, str]) -> str | None:
    """Why ``inst`` looks like a container host, or None."""
    for key in inst.tags:
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in CONTAINER_TAG_PATTERNS):
            return f"tag {key}"
    name = image_names.get(inst.image_id or "", "")
    if name and CONTAINER_AMI.search(name):
        return f"AMI {name}"
    return None


def target_options(
    inst: Instance, image_names: Mapping[str, str], options: PlanOptions
) -> tuple[MetadataOptions, str]:
    """The full intended options, and why the hop limit is what it is."""
    hop, why = inst.metadata.hop_limit, "kept"
    if options.hop_limit is not None:
        hop, why = options.hop_limit, "--hop-limit"
    elif options.container_hop_limit and hop == 1:
        signal = container_signal(inst, image_names)
        if signal is not None:
            hop, why = 2, f"container host ({signal})"
    after = replace(inst.metadata, http_tokens="required", http_endpoint="enabled", hop_limit=hop)
    return after, why


def usage_hold(usage: Usage, options: PlanOptions) -> tuple[HoldReason, str] | None:
    """(hold reason, override flag) if this evidence holds the change back."""
    if usage.status == "in-use" and not options.include_in_use:
        return "imdsv1-in-use", "--include-in-use"
    if usage.status == "unknown" and not options.include_unknown:
        return "usage-unknown", "--include-unknown"
    return None


def _plan_one(finding: Finding, evidence: Evidence, options: PlanOptions) -> Change | Hold:
    inst = finding.resource
    assert isinstance(inst, Instance)
    scope = finding.scope
    why_exempt = exemption(inst, options)
    if why_exempt is not None:
        return Hold(
            INSTANCES.plan_kind, scope, inst.instance_id, "exempt", inst.name, {"rule": why_exempt}
        )
    usage = evidence.usage.get((scope, inst.instance_id), Usage("unknown", error="not read"))
    detail: dict[str, JSONValue] = dict(usage.as_json())
    held = usage_hold(usage, options)
    if held is not None:
        detail["override"] = held[1]
        return Hold(INSTANCES.plan_kind, scope, inst.instance_id, held[0], inst.name, detail)
    after, hop_reason = target_options(inst, evidence.image_names, options)
    detail["hop_limit_reason"] = hop_reason
    if usage.status != "clean":
        detail["override"] = "--include-in-use" if usage.status == "in-use" else "--include-unknown"
    return Change(
        INSTANCES.plan_kind,
        scope,
        inst.instance_id,
        inst.metadata,
        after,
        inst.name,
        detail,
        facts=instance_facts(inst),
    )


# The tag EC2 Auto Scaling puts on every instance it launches (docs/aws-behaviour.md#the-api).
GROUP_TAG = "aws:autoscaling:groupName"


def instance_facts(inst: Instance) -> dict[str, JSONValue]:
    """What the rollout's default order and --wave-by need (model INSTANCE_FACTS)."""
    return {
        "instance_state": inst.instance_state,
        "instance_profile": inst.iam_instance_profile is not None,
        "auto_scaling_group": inst.tags.get(GROUP_TAG),
        "tags": dict(inst.tags),
    }


def build_plan(
    scan: ScanResult,
    evidence: Evidence,
    options: PlanOptions,
    created_at: datetime,
    role_name: str | None = None,
) -> Plan:
    """The plan for ``scan`` as of ``created_at``: the caller reads the clock, so this stays
    pure (the same inputs always give the same plan, template markers included)."""
    changes: list[Change] = []
    held: list[Hold] = []
    exempt: list[Hold] = []
    for finding in scan.findings:
        if not is_candidate(finding):
            continue
        item = _plan_one(finding, evidence, options)
        if isinstance(item, Change):
            changes.append(item)
        else:
            (exempt if item.reason == "exempt" else held).append(item)
    launch = plan_launch(scan, options, created_at, changes)
    scan_errors = tuple((Scope(s.account_id, s.region), s.error or "") for s in scan.scope_errors)
    return Plan(
        created_at=created_at,
        lookback_days=options.lookback_days,
        changes=tuple(changes + launch.changes),
        held=tuple(held + launch.held),
        exempt=tuple(exempt),
        scope_errors=scan_errors + evidence.errors,
        role_name=role_name,
        migrations=tuple(launch.migrations),
    )
