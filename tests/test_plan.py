"""PURE planning: candidates, evidence holds, exemptions and hop limits, by parameter table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imdsguard.model.findings import FindingList
from imdsguard.model.launch import AccountImdsDefaults
from imdsguard.model.remediation import Change, Hold, Usage
from imdsguard.model.scan import (
    Finding,
    HttpTokens,
    Instance,
    MetadataOptions,
    ScanResult,
    Scope,
    ScopeOutcome,
    Switch,
)
from imdsguard.options import PlanOptions
from imdsguard.plan.build import Evidence, build_plan, container_signal

SCOPE = Scope("111111111111", "eu-west-1")
SEEN = datetime(2026, 11, 1, 12, tzinfo=UTC)
CLEAN = Usage("clean", 0.0, 300)
IN_USE = Usage("in-use", 7.0, 300, SEEN)
UNKNOWN = Usage("unknown", error="no data points in the window")


def instance(
    *,
    tokens: HttpTokens = "optional",
    endpoint: Switch = "enabled",
    hops: int = 1,
    state: str = "running",
    tags: dict[str, str] | None = None,
    image: str = "ami-1",
) -> Instance:
    md = MetadataOptions(http_tokens=tokens, http_endpoint=endpoint, hop_limit=hops)
    return Instance("i-1", state, md, name="web", image_id=image, tags=tags or {})


def finding(inst: Instance) -> Finding:
    failing = inst.metadata.http_tokens != "required" and inst.metadata.http_endpoint == "enabled"
    reason = "tokens-optional" if failing else "imds-disabled"
    if inst.metadata.http_tokens == "required":
        reason = "tokens-required"
    return Finding(SCOPE, inst, "FAIL" if failing else "PASS", reason)


def plan_one(
    inst: Instance,
    usage: Usage | None = CLEAN,
    options: PlanOptions | None = None,
    images: dict[str, str] | None = None,
) -> Change | Hold | None:
    scan = ScanResult("t", SEEN, (), FindingList((finding(inst),)))
    usages = {} if usage is None else {(SCOPE, inst.instance_id): usage}
    plan = build_plan(scan, Evidence(usages, images or {}), options or PlanOptions(), SEEN)
    items: list[Change | Hold] = [*plan.changes, *plan.held, *plan.exempt]
    assert len(items) <= 1
    return items[0] if items else None


@pytest.mark.parametrize(
    ("inst", "usage", "options", "expected"),
    [
        (instance(), CLEAN, PlanOptions(), "change"),
        (instance(tokens="required"), CLEAN, PlanOptions(), None),
        (instance(endpoint="disabled"), CLEAN, PlanOptions(), None),
        (instance(state="terminated"), CLEAN, PlanOptions(), None),
        (instance(), IN_USE, PlanOptions(), "imdsv1-in-use"),
        (instance(), IN_USE, PlanOptions(include_in_use=True), "change"),
        (instance(), UNKNOWN, PlanOptions(), "usage-unknown"),
        (instance(), None, PlanOptions(), "usage-unknown"),
        (instance(), UNKNOWN, PlanOptions(include_unknown=True), "change"),
        (instance(), UNKNOWN, PlanOptions(include_in_use=True), "usage-unknown"),
        (instance(), IN_USE, PlanOptions(include_unknown=True), "imdsv1-in-use"),
        (instance(tags={"team": "x"}), CLEAN, PlanOptions(exclude_tags=(("team", "x"),)), "exempt"),
        (instance(tags={"team": "y"}), CLEAN, PlanOptions(exclude_tags=(("team", "x"),)), "change"),
        (instance(), IN_USE, PlanOptions(exclude_ids=frozenset({"i-1"})), "exempt"),
    ],
)
def test_what_happens_to_a_candidate(
    inst: Instance, usage: Usage | None, options: PlanOptions, expected: str | None
) -> None:
    item = plan_one(inst, usage, options)
    if expected is None:
        assert item is None
    elif expected == "change":
        assert isinstance(item, Change)
    else:
        assert isinstance(item, Hold)
        assert item.reason == expected


def test_held_in_use_carries_count_and_last_seen() -> None:
    item = plan_one(instance(), IN_USE)
    assert isinstance(item, Hold)
    assert item.detail["imdsv1_calls"] == 7.0
    assert item.detail["last_seen"] == SEEN.isoformat()
    assert item.detail["override"] == "--include-in-use"


@pytest.mark.parametrize(
    ("hops", "tags", "image_name", "options", "expected"),
    [
        (1, {}, "", PlanOptions(), 1),
        (3, {}, "", PlanOptions(), 3),
        (1, {}, "", PlanOptions(hop_limit=2), 2),
        (3, {}, "", PlanOptions(hop_limit=1), 1),
        (1, {"eks:cluster-name": "p"}, "", PlanOptions(), 1),
        (1, {"eks:cluster-name": "p"}, "", PlanOptions(container_hop_limit=True), 2),
        (1, {"kubernetes.io/cluster/p": "owned"}, "", PlanOptions(container_hop_limit=True), 2),
        (1, {"karpenter.sh/nodepool": "d"}, "", PlanOptions(container_hop_limit=True), 2),
        (1, {"aws:ecs:clusterName": "c"}, "", PlanOptions(container_hop_limit=True), 2),
        (1, {"AmazonECSManaged": ""}, "", PlanOptions(container_hop_limit=True), 2),
        (1, {"team": "web"}, "", PlanOptions(container_hop_limit=True), 1),
        (1, {}, "amazon-eks-node-1.31-v20241109", PlanOptions(container_hop_limit=True), 2),
        (1, {}, "amzn2-ami-ecs-hvm-2.0.2024", PlanOptions(container_hop_limit=True), 2),
        (1, {}, "al2023-ami-2023.6", PlanOptions(container_hop_limit=True), 1),
        (3, {"eks:cluster-name": "p"}, "", PlanOptions(container_hop_limit=True), 3),
        (1, {"eks:cluster-name": "p"}, "", PlanOptions(container_hop_limit=True, hop_limit=5), 5),
    ],
)
def test_hop_limit(
    hops: int, tags: dict[str, str], image_name: str, options: PlanOptions, expected: int
) -> None:
    item = plan_one(instance(hops=hops, tags=tags), CLEAN, options, {"ami-1": image_name})
    assert isinstance(item, Change)
    assert item.after.hop_limit == expected
    assert item.after.http_tokens == "required"
    assert item.after.http_endpoint == "enabled"
    assert item.before.hop_limit == hops


def test_container_signal_names_its_reason() -> None:
    assert container_signal(instance(tags={"eks:cluster-name": "p"}), {}) == "tag eks:cluster-name"
    assert container_signal(instance(), {"ami-1": "bottlerocket-aws-k8s-1.30"}) == (
        "AMI bottlerocket-aws-k8s-1.30"
    )
    assert container_signal(instance(), {}) is None


def test_scope_errors_from_scan_and_evidence_make_the_plan_incomplete() -> None:
    scan = ScanResult("t", SEEN, (ScopeOutcome("1", "us-east-1", error="denied"),), FindingList())
    evidence = Evidence({}, {}, ((SCOPE, "evidence: AccessDenied"),))
    plan = build_plan(scan, evidence, PlanOptions(), SEEN)
    assert plan.scope_errors == (
        (Scope("1", "us-east-1"), "denied"),
        (SCOPE, "evidence: AccessDenied"),
    )
    assert plan.exit_code() == 3


def test_exit_code_is_1_with_holds_and_0_without() -> None:
    held = build_plan(
        ScanResult("t", SEEN, (), FindingList((finding(instance()),))),
        Evidence({}, {}),
        PlanOptions(),
        SEEN,
    )
    assert held.exit_code() == 1
    clean = build_plan(
        ScanResult("t", SEEN, (), FindingList((finding(instance()),))),
        Evidence({(SCOPE, "i-1"): CLEAN}, {}),
        PlanOptions(),
        SEEN,
    )
    assert clean.exit_code() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback_days": 0}, "lookback"),
        ({"lookback_days": 456}, "lookback"),
        ({"hop_limit": 65}, "hop-limit"),
        ({"hop_limit": 0}, "hop-limit"),
    ],
)
def test_plan_options_reject_out_of_range(kwargs: dict[str, int], message: str) -> None:
    from imdsguard.errors import UsageError

    with pytest.raises(UsageError, match=message):
        PlanOptions(**kwargs)  # type: ignore[arg-type]


def test_the_caller_dates_the_plan_so_planning_stays_pure() -> None:
    scan = ScanResult("t", SEEN, (), FindingList((finding(instance()),)))
    plan = build_plan(scan, Evidence({(SCOPE, "i-1"): CLEAN}, {}), PlanOptions(), SEEN)
    assert plan.created_at == SEEN
    assert plan == build_plan(scan, Evidence({(SCOPE, "i-1"): CLEAN}, {}), PlanOptions(), SEEN)


def _enforcing(usage: Usage, options: PlanOptions) -> tuple[list[str], list[str]]:
    """The account default's planned fields and the enforce holds, over one instance."""
    defaults = AccountImdsDefaults("eu-west-1", http_tokens="required")
    judged = (finding(instance()), Finding(SCOPE, defaults, "PASS", "tokens-required"))
    scan = ScanResult("t", SEEN, (), FindingList(judged))
    plan = build_plan(scan, Evidence({(SCOPE, "i-1"): usage}, {}), options, SEEN)
    after = [str(k) for c in plan.changes if c.kind == "account-defaults" for k in c.state["after"]]  # type: ignore[union-attr]
    why = [str(h.detail["why"]) for h in plan.held if h.reason == "enforce-not-ready"]
    return after, why


@pytest.mark.parametrize(
    ("usage", "options", "expected"),
    [
        # The plan changes the only failing instance: enforcement is its Region's last step.
        (CLEAN, PlanOptions(enforce=True), (["HttpTokensEnforced"], [])),
        (IN_USE, PlanOptions(enforce=True, include_in_use=True), (["HttpTokensEnforced"], [])),
        # Held or exempt: it would still allow IMDSv1 when enforcement came.
        (IN_USE, PlanOptions(enforce=True), ([], ["still allow IMDSv1: 1 instance(s) (i-1)"])),
        (
            CLEAN,
            PlanOptions(enforce=True, exclude_ids=frozenset({"i-1"})),
            ([], ["still allow IMDSv1: 1 instance(s) (i-1)"]),
        ),
    ],
)
def test_enforcement_is_planned_where_the_plan_fixes_every_failing_instance(
    usage: Usage, options: PlanOptions, expected: tuple[list[str], list[str]]
) -> None:
    assert _enforcing(usage, options) == expected
