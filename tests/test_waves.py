"""PURE: the rollout's schedule: --waves and --wave-by parsing, the default order, slicing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from imdsguard.errors import UsageError
from imdsguard.model.remediation import Change
from imdsguard.model.scan import JSONValue, MetadataOptions, Scope
from imdsguard.options import RolloutOptions
from imdsguard.plan.waves import (
    Step,
    order_labels,
    parse_wave_by,
    parse_waves,
    schedule,
)

SCOPE = Scope("123456789012", "eu-west-1")


def inst(n: int, **facts: JSONValue) -> Change:
    base: dict[str, JSONValue] = {"instance_state": "running", "instance_profile": True}
    return Change(
        "instance", SCOPE, f"i-{n:017x}", MetadataOptions(),
        MetadataOptions(http_tokens="required"),
        facts={**base, **facts} if facts != {"none": True} else {},
    )  # fmt: skip


def defaults() -> Change:
    return Change(
        "account-defaults", SCOPE, "imds-defaults/eu-west-1", MetadataOptions(), MetadataOptions()
    )


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("5%,25%,100%", (Step(5, True), Step(25, True), Step(100, True))),
        ("10,100,all", (Step(10), Step(100), Step(None))),
        ("1, 2.5%", (Step(1), Step(2.5, True))),
    ],
)
def test_waves_parse(text: str, steps: tuple[Step, ...]) -> None:
    assert parse_waves(text) == steps


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("all,10", "last"),
        ("0%", "above 0%"),
        ("101%", "at most 100%"),
        ("10,5", "cumulative"),
        ("25%,5%", "cumulative"),
        ("ten", "neither"),
        ("0", "neither"),
        ("", "neither"),
    ],
)
def test_bad_waves_say_why(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_waves(text)


def test_wave_by_parses_and_refuses_what_is_off() -> None:
    wave_by = parse_wave_by("tag:Environment=dev,staging,prod")
    assert (wave_by.key, wave_by.values) == ("Environment", ("dev", "staging", "prod"))
    for bad in ("Environment=dev", "tag:=dev", "tag:Env", "tag:Env=dev,,prod", "tag:E=a,a"):
        with pytest.raises(ValueError, match=r"tag:KEY=VALUE1|each value once"):
            parse_wave_by(bad)


def test_default_order_least_risk_first_one_canary_per_group() -> None:
    changes = [
        inst(1),
        inst(2, auto_scaling_group="web"),
        inst(3, auto_scaling_group="web"),
        inst(4, instance_profile=False),
        inst(5, instance_state="stopped"),
        inst(6, auto_scaling_group="api"),
        defaults(),
    ]
    plan = schedule(changes)
    assert [w.label for w in plan.waves] == ["all"]
    order = [c.resource_id[-1] for c in plan.waves[0].changes]
    # stopped, no profile, a canary of each group, then the rest (web's second member too).
    assert order == ["5", "4", "2", "6", "1", "3"]
    assert plan.final == (changes[-1],)
    labels = order_labels(changes)
    assert labels[changes[4].key] == "1 stopped"
    assert labels[changes[1].key] == "3 canary of web"
    assert labels[changes[2].key] == "4 rest"
    assert labels[changes[-1].key] == "6 last in Region: account default"
    enforcing = replace(defaults(), state={"after": {"HttpTokensEnforced": "enabled"}})
    assert order_labels([enforcing])[enforcing.key] == (
        "6 last in Region: account default and enforcement"
    )


def test_waves_are_cumulative_and_what_no_wave_reaches_is_a_last_wave() -> None:
    changes = [inst(n) for n in range(1, 21)]
    plan = schedule(changes, parse_waves("5%,25%"))
    assert [(w.label, len(w.changes)) for w in plan.waves] == [("5%", 1), ("25%", 4), ("rest", 15)]
    counted = schedule(changes, parse_waves("10,100,all"))
    assert [(w.label, len(w.changes)) for w in counted.waves] == [("10", 10), ("100", 10)]
    # A wave that adds nothing is dropped: 5% and 10% of 3 instances are both 1.
    small = schedule(changes[:3], parse_waves("5%,10%,100%"))
    assert [(w.number, w.label, len(w.changes)) for w in small.waves] == [
        (1, "5%", 1),
        (2, "100%", 2),
    ]


def test_the_same_plan_gives_the_same_waves_whatever_its_order() -> None:
    changes = [inst(n, auto_scaling_group="g" if n % 2 else None) for n in range(1, 30)]
    one = schedule(changes, parse_waves("3,50%,all"))
    two = schedule(list(reversed(changes)), parse_waves("3,50%,all"))
    assert one == two


def test_wave_by_tag_orders_by_value_and_puts_the_rest_last() -> None:
    changes = [
        inst(1, tags={"Env": "prod"}),
        inst(2, tags={"Env": "dev"}),
        inst(3),
        inst(4, tags={"Env": "staging"}),
        inst(5, tags={"Env": "Prod"}),
    ]
    plan = schedule(changes, wave_by=parse_wave_by("tag:Env=dev,staging,prod"))
    got = [(w.label, [c.resource_id[-1] for c in w.changes]) for w in plan.waves]
    assert got == [
        ("Env=dev", ["2"]),
        ("Env=staging", ["4"]),
        ("Env=prod", ["1"]),
        ("rest", ["3", "5"]),
    ]


def test_a_plan_without_facts_ranks_every_instance_as_rest() -> None:
    changes = [inst(2, none=True), inst(1, none=True)]
    assert set(order_labels(changes).values()) == {"4 rest"}
    assert [c.resource_id[-1] for c in schedule(changes).waves[0].changes] == ["1", "2"]


def test_facts_round_trip_through_the_plan_file_and_are_checked() -> None:
    from imdsguard.plan.planfile import change_from_json, change_json

    change = inst(1, auto_scaling_group="web", tags={"Env": "dev"})
    assert change_from_json(change_json(change)) == change
    assert "facts" not in change_json(inst(2, none=True))  # older plans: no facts, still load
    doc = change_json(change)
    for bad in ({"instance_profile": "yes"}, {"tags": {"Env": 1}}, {"colour": "red"}):
        with pytest.raises(ValueError, match="facts"):
            change_from_json({**doc, "facts": bad})


@pytest.mark.parametrize("flag", ["soak_seconds", "poll_seconds"])
def test_a_soak_past_the_metrics_retention_is_refused(flag: str) -> None:
    with pytest.raises(UsageError, match="at most 14d"):
        RolloutOptions(**{flag: 15 * 86400.0})  # type: ignore[arg-type]


def test_each_wave_reaches_every_region_in_turn() -> None:
    """Within one risk class the scopes take turns: a wave of 4 over two Regions of 3
    changes each is 2 + 2, not the first Region's 3 and one more."""
    other = Scope("123456789012", "us-east-1")
    changes = [inst(n) for n in range(3)] + [replace(inst(n), scope=other) for n in range(3)]
    [first, rest] = schedule(changes, parse_waves("4,all")).waves
    regions = [c.scope.region for c in first.changes]
    assert sorted(regions) == ["eu-west-1", "eu-west-1", "us-east-1", "us-east-1"]
    assert [c.scope.region for c in rest.changes] == ["eu-west-1", "us-east-1"]
    # Each Region's own changes still go by instance id.
    assert [c.resource_id for c in first.changes if c.scope == SCOPE] == [
        inst(0).resource_id,
        inst(1).resource_id,
    ]
