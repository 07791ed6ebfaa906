"""Which collector calls a --resources selection makes (pure)."""

from __future__ import annotations

from imdsguard.collect.resources import COLLECTORS, collection_plan
from imdsguard.model.kinds import RESOURCE_NAMES


def test_every_resource_kind_has_a_collector_in_report_order() -> None:
    assert tuple(COLLECTORS) == RESOURCE_NAMES


def test_launch_kinds_are_collected_by_one_call() -> None:
    labels = [label for label, _ in collection_plan(RESOURCE_NAMES)]
    assert labels == [
        "instances",
        "launch-templates,launch-configurations,auto-scaling-groups",
        "amis",
        "account-defaults",
    ]


def test_a_selection_keeps_report_order_and_shares_only_selected_launch_kinds() -> None:
    plan = collection_plan(["account-defaults", "auto-scaling-groups", "launch-configurations"])
    assert [label for label, _ in plan] == [
        "launch-configurations,auto-scaling-groups",
        "account-defaults",
    ]
