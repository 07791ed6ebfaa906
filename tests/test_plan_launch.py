"""PURE planning of templates, account defaults, AMIs and migrations, by parameter table."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from imdsguard.model.findings import FindingList
from imdsguard.model.kinds import ACCOUNT_DEFAULTS
from imdsguard.model.launch import (
    AccountImdsDefaults,
    AutoScalingGroup,
    Image,
    LaunchConfiguration,
    LaunchSource,
    LaunchTemplate,
    TemplateVersion,
)
from imdsguard.model.remediation import Change, Hold, Plan
from imdsguard.model.scan import (
    Instance,
    MetadataOptions,
    Resource,
    ScanResult,
    Scope,
    ScopeOutcome,
)
from imdsguard.options import EvaluationOptions, PlanOptions
from imdsguard.plan.launch import plan_launch
from imdsguard.rules import evaluate

SCOPE = Scope("111111111111", "eu-west-1")
NOW = datetime(2026, 11, 30, 18, tzinfo=UTC)
OPTIONAL = MetadataOptions()
REQUIRED = MetadataOptions(http_tokens="required")


def judged(*resources: Resource, strict_amis: bool = False, error: str | None = None) -> ScanResult:
    """A scan of ``resources`` with the real rules, as plan sees it."""
    options = EvaluationOptions(strict_amis=strict_amis)
    findings = tuple(f for r in resources if (f := evaluate(SCOPE, r, options)) is not None)
    scope = ScopeOutcome(SCOPE.account_id, SCOPE.region, error)
    return ScanResult("t", NOW, (scope,), FindingList(findings))


def items(scan: ScanResult, options: PlanOptions | None = None) -> list[Change | Hold]:
    plan = plan_launch(scan, options or PlanOptions(), NOW)
    return [*plan.changes, *plan.held, *plan.migrations]


def lt(name: str, default: int, *versions: tuple[MetadataOptions, tuple[str, ...]]) -> Resource:
    numbered = tuple(
        TemplateVersion(n, md, True, used_by) for n, (md, used_by) in enumerate(versions, 1)
    )
    return LaunchTemplate("lt-1", name, default, len(versions), numbered)


HOP1 = MetadataOptions(hop_limit=1)
HOP3 = MetadataOptions(hop_limit=3)


@pytest.mark.parametrize(
    ("template", "options", "expected"),
    [
        # default optional, latest required (Prowler would pass it): change, hop kept
        (lt("web", 1, (HOP3, ()), (REQUIRED, ())), PlanOptions(), [("change", 3)]),
        (lt("web", 1, (HOP1, ())), PlanOptions(hop_limit=4), [("change", 4)]),
        (lt("web", 1, (HOP1, ())), PlanOptions(container_hop_limit=True), [("change", 1)]),
        (lt("eks-a1b2", 1, (HOP1, ())), PlanOptions(container_hop_limit=True), [("change", 2)]),
        # a group pins the optional v2: the default is fixed, the pin is the owner's call
        (
            lt("batch", 1, (OPTIONAL, ()), (OPTIONAL, ("batch-asg",)), (REQUIRED, ())),
            PlanOptions(),
            [("change", 1), ("pinned-version", None)],
        ),
        # default already required, only the pinned version fails: hold, no new version
        (
            lt("batch", 1, (REQUIRED, ()), (OPTIONAL, ("batch-asg",)), (REQUIRED, ())),
            PlanOptions(),
            [("pinned-version", None)],
        ),
        (lt("ok", 1, (REQUIRED, ())), PlanOptions(), []),
        (LaunchTemplate("lt-1", "gone", 4, 4, ()), PlanOptions(), [("unreadable", None)]),
    ],
)
def test_launch_templates(
    template: Resource, options: PlanOptions, expected: list[tuple[str, int | None]]
) -> None:
    got = [
        ("change", i.after.hop_limit) if isinstance(i, Change) else (i.reason, None)
        for i in items(judged(template), options)
    ]
    assert got == expected


def test_template_change_records_the_old_default_and_a_stable_marker() -> None:
    template = lt("web", 2, (OPTIONAL, ()), (OPTIONAL, ()), (REQUIRED, ()))
    [change] = items(judged(template))
    assert isinstance(change, Change)
    assert change.state["default_version"] == 2
    assert change.state["latest_version"] == 3
    assert change.state == items(judged(template))[0].state  # type: ignore[union-attr]
    assert (change.after.http_tokens, change.after.http_endpoint) == ("required", "enabled")


UNSET = AccountImdsDefaults("eu-west-1")
OPTIONAL_DEFAULTS = AccountImdsDefaults("eu-west-1", http_tokens="optional", hop_limit=1)
REQUIRED_DEFAULTS = AccountImdsDefaults("eu-west-1", http_tokens="required")
MANAGED = AccountImdsDefaults("eu-west-1", managed_by="declarative-policy")
PASSING = Instance("i-ok", "running", REQUIRED)
FAILING = Instance("i-v1", "running", OPTIONAL)


@pytest.mark.parametrize(
    ("resources", "options", "before", "after", "holds"),
    [
        ((UNSET,), PlanOptions(), {"HttpTokens": "no-preference"}, {"HttpTokens": "required"}, []),
        (
            (OPTIONAL_DEFAULTS,),
            PlanOptions(container_hop_limit=True),
            {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1},
            {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
            [],
        ),
        (
            (UNSET,),
            PlanOptions(hop_limit=3),
            {"HttpTokens": "no-preference", "HttpPutResponseHopLimit": -1},
            {"HttpTokens": "required", "HttpPutResponseHopLimit": 3},
            [],
        ),
        ((REQUIRED_DEFAULTS,), PlanOptions(), None, None, []),
        (
            (REQUIRED_DEFAULTS, PASSING),
            PlanOptions(enforce=True),
            {"HttpTokensEnforced": "no-preference"},
            {"HttpTokensEnforced": "enabled"},
            [],
        ),
        (
            (REQUIRED_DEFAULTS, FAILING),
            PlanOptions(enforce=True),
            None,
            None,
            ["enforce-not-ready"],
        ),
        (
            (UNSET, FAILING),
            PlanOptions(enforce=True),
            {"HttpTokens": "no-preference"},
            {"HttpTokens": "required"},
            ["enforce-not-ready"],
        ),
        (
            (REQUIRED_DEFAULTS, PASSING),
            PlanOptions(enforce=True, resources=("account-defaults",)),
            None,
            None,
            ["enforce-not-ready"],
        ),
        ((MANAGED,), PlanOptions(enforce=True), None, None, ["declarative-policy"]),
    ],
)
def test_account_defaults(
    resources: tuple[Resource, ...],
    options: PlanOptions,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    holds: list[str],
) -> None:
    plan = plan_launch(judged(*resources), options, NOW)
    changes = [c.state for c in plan.changes]
    assert changes == ([] if after is None else [{"before": before, "after": after}])
    assert [h.reason for h in plan.held] == holds


def test_enforcement_waits_for_a_complete_scan_of_the_region() -> None:
    scan = judged(REQUIRED_DEFAULTS, PASSING, error="instances: throttled")
    [hold] = plan_launch(scan, PlanOptions(enforce=True), NOW).held
    assert hold.detail["why"] == "the Region's scan is incomplete"


AMI = Image("ami-1", "golden-2019", None)


@pytest.mark.parametrize(
    ("image", "strict", "amis", "expected"),
    [
        (AMI, False, False, []),  # informational: not a change, not a hold
        (AMI, True, False, ["irreversible"]),
        (AMI, False, True, ["change"]),
        (Image("ami-2", "new", "v2.0"), True, True, []),
        (Image("ami-3", "pending", None, state="pending"), True, True, []),
    ],
)
def test_amis(image: Image, strict: bool, amis: bool, expected: list[str]) -> None:
    got = items(judged(image, strict_amis=strict), PlanOptions(amis=amis))
    assert [i.reason if isinstance(i, Hold) else "change" for i in got] == expected


def source(kind: str, ident: str, requested: str | None, tokens: str | None) -> LaunchSource:
    return LaunchSource(kind, ident, "LaunchTemplate", requested, 1, tokens, "enabled")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("group_sources", "expected"),
    [
        # $Default and $Latest of a template this plan changes: fixed, nothing to migrate
        ((source("launch-template", "lt-1", "$Default", "optional"),), None),
        ((source("launch-template", "lt-1", "$Latest", "optional"),), None),
        ((source("launch-template", "lt-1", "1", "optional"),), "launches lt-1 version 1"),
        ((source("launch-template", "lt-9", "$Default", "optional"),), "lt-9 $Default (version"),
        ((source("launch-configuration", "old-lc", None, "optional"),), "from launch config"),
        (
            (source("launch-template", "lt-x", "$Default", None),),
            "lt-x (LaunchTemplate) is missing",
        ),
        ((), "no launch source"),
    ],
)
def test_group_migrations(group_sources: tuple[LaunchSource, ...], expected: str | None) -> None:
    template = lt("web", 1, (OPTIONAL, ()))
    group = AutoScalingGroup("app-asg", group_sources)
    plan = plan_launch(judged(template, group), PlanOptions(), NOW)
    actions = [str(m.detail["action"]) for m in plan.migrations if m.resource_id == "app-asg"]
    if expected is None:
        assert actions == []
    else:
        [action] = actions
        assert expected in action


@pytest.mark.parametrize(
    ("used_by", "expected"),
    [
        (
            ("a", "b"),
            "migrate launch configuration old-lc used by groups a, b to a launch "
            "template with HttpTokens=required",
        ),
        ((), "launch configuration old-lc is used by no group: delete it"),
    ],
)
def test_launch_configuration_migrations(used_by: tuple[str, ...], expected: str) -> None:
    config = LaunchConfiguration("old-lc", OPTIONAL, False, used_by)
    passing = LaunchConfiguration("new-lc", REQUIRED, True, ("c",))
    [migration] = plan_launch(judged(config, passing), PlanOptions(), NOW).migrations
    assert (migration.reason, migration.detail["action"]) == ("migration", expected)


def test_plan_file_round_trips_state_and_migrations_and_reads_schema_1_0() -> None:
    from imdsguard.plan.planfile import plan_from_json, plan_json

    template = lt("web", 1, (OPTIONAL, ()))
    config = LaunchConfiguration("old-lc", OPTIONAL, False, ("a",))
    scan = judged(template, UNSET, config)
    launch = plan_launch(scan, PlanOptions(), NOW)
    plan = Plan(NOW, 14, tuple(launch.changes), migrations=tuple(launch.migrations))
    doc = plan_json(plan)
    assert doc["schema_version"] == "1.1"
    assert plan_from_json(json.loads(json.dumps(doc))) == plan
    # A 1.0 file (issue 3's instance plans): no state, no migrations.
    old = {k: v for k, v in doc.items() if k != "migrations"}
    old["schema_version"] = "1.0"
    old["changes"] = [{k: v for k, v in c.items() if k != "state"} for c in doc["changes"]]  # type: ignore[union-attr]
    loaded = plan_from_json(old)
    assert loaded.migrations == ()
    assert [c.state for c in loaded.changes] == [{}, {}]


PINNED_LT = lt("batch", 1, (REQUIRED, ()), (OPTIONAL, ("batch-asg",)))
OLD_LC = LaunchConfiguration("old-lc", OPTIONAL, False, ("legacy-asg",))
LC_GROUP = AutoScalingGroup(
    "legacy-asg", (source("launch-configuration", "old-lc", None, "optional"),)
)
READY_LT = lt("web", 1, (REQUIRED, ()))
READY_GROUP = AutoScalingGroup(
    "web-asg", (source("launch-template", "lt-1", "$Default", "required"),)
)
# Launches lt-1's $Default, which allows IMDSv1 until the plan fixes lt-1.
FIXED_GROUP = AutoScalingGroup(
    "web-asg", (source("launch-template", "lt-1", "$Default", "optional"),)
)


@pytest.mark.parametrize(
    ("resources", "why"),
    [
        # Enforcement makes IMDSv1 launches fail: every launch setting must pass first,
        # or be one this same plan fixes (enforcement runs after it, as the final step).
        ((lt("web", 1, (OPTIONAL, ())),), None),
        ((lt("web", 1, (OPTIONAL, ())), FIXED_GROUP), None),
        # The plan fixes the default, but the version a group pins still allows IMDSv1.
        (
            (lt("web", 1, (OPTIONAL, ()), (OPTIONAL, ("batch-asg",))),),
            "1 launch template(s) (lt-1)",
        ),
        ((PINNED_LT,), "1 launch template(s) (lt-1)"),
        ((OLD_LC,), "1 launch configuration(s) (old-lc)"),
        ((LC_GROUP,), "1 Auto Scaling group(s) (legacy-asg)"),
        (
            (FAILING, OLD_LC, LC_GROUP),
            "1 instance(s) (i-v1); 1 launch configuration(s) (old-lc); "
            "1 Auto Scaling group(s) (legacy-asg)",
        ),
        ((READY_LT, READY_GROUP, LaunchConfiguration("new-lc", REQUIRED, True)), None),
    ],
)
def test_enforcement_waits_for_every_launch_setting(
    resources: tuple[Resource, ...], why: str | None
) -> None:
    scan = judged(REQUIRED_DEFAULTS, PASSING, *resources)
    plan = plan_launch(scan, PlanOptions(enforce=True), NOW)
    holds = [str(h.detail["why"]) for h in plan.held if h.reason == "enforce-not-ready"]
    if why is None:
        assert holds == []
        defaults = [c for c in plan.changes if c.kind == ACCOUNT_DEFAULTS.plan_kind]
        assert [c.state["after"] for c in defaults] == [{"HttpTokensEnforced": "enabled"}]
    else:
        assert holds == [f"still allow IMDSv1: {why}"]
        assert [c for c in plan.changes if c.kind == ACCOUNT_DEFAULTS.plan_kind] == []


def test_enforcement_waits_for_launch_settings_to_be_scanned() -> None:
    options = PlanOptions(enforce=True, resources=("instances", "account-defaults"))
    [hold] = plan_launch(judged(REQUIRED_DEFAULTS, PASSING), options, NOW).held
    assert hold.detail["why"] == (
        "launch-templates, launch-configurations, auto-scaling-groups were not scanned "
        "(--resources): cannot tell if every one passes"
    )
