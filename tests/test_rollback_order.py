"""Rollback across journals: enforcement first, launch settings, instances; the later of
two journals that changed one resource first; an enforced Region refused before any write."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.errors import UsageError
from imdsguard.model.remediation import Change, Plan
from imdsguard.model.scan import JSONValue, MetadataOptions, Scope
from imdsguard.remediate.journal import JournalState
from imdsguard.remediate.rollback import enforcement_block
from imdsguard.remediate.rollback_order import Step, ToUndo, order
from tests.conftest import OWN_ACCOUNT, CliResult, own, seed
from tests.faultproxy import Fault, FaultProxy, ProxyRequest
from tests.remediation_helpers import options_of

REGION = "eu-west-1"
SCOPE = Scope(OWN_ACCOUNT, REGION)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
OPTIONAL = MetadataOptions(http_tokens="optional")
REQUIRED = MetadataOptions(http_tokens="required")


def _change(kind: str, resource: str, state: dict[str, JSONValue] | None = None) -> Change:
    return Change(kind, SCOPE, resource, OPTIONAL, REQUIRED, state=state or {})


ENFORCE = _change(
    "account-defaults",
    REGION,
    {
        "before": {"HttpTokens": "required", "HttpTokensEnforced": "no-preference"},
        "after": {"HttpTokens": "required", "HttpTokensEnforced": "enabled"},
    },
)


def _journal(name: str, minutes: int, *changes: Change) -> ToUndo:
    state = JournalState(plan=Plan(T0, 14, changes))
    state.intents.update({c.key: c for c in changes})
    when = T0 + timedelta(minutes=minutes)
    return ToUndo(Path(name), state, {c.key: when for c in changes})


def _paths(journals: list[ToUndo]) -> list[str]:
    return [str(step.undo.path) for step in order(journals)]


def test_enforcement_then_launch_settings_then_instances_newest_first() -> None:
    instances_old = _journal("i1", 0, _change("instance", "i-1"))
    instances_new = _journal("i2", 5, _change("instance", "i-2"))
    templates = _journal("lt", 10, _change("launch-template", "lt-1"))
    enforcing = _journal("enf", 20, ENFORCE)
    assert _paths([instances_old, instances_new, templates, enforcing]) == ["enf", "lt", "i2", "i1"]
    # Enforcement goes first even when it is the oldest journal: AWS refuses the rest.
    early = _journal("enf", -10, ENFORCE)
    assert _paths([instances_new, early]) == ["enf", "i2"]


def test_the_later_of_two_journals_that_changed_one_resource_goes_first() -> None:
    # A launch-template journal would go before instances, but it changed i-1 earlier
    # than the instance journal did: undo in reverse, the later change first.
    mixed = _journal("mixed", 0, _change("launch-template", "lt-1"), _change("instance", "i-1"))
    again = _journal("again", 30, _change("instance", "i-1"))
    steps = order([mixed, again])
    assert [str(s.undo.path) for s in steps] == ["again", "mixed"]
    assert "after again, which changed i-1 later" in steps[1].why


def test_journals_that_each_changed_something_later_are_refused() -> None:
    a = _journal("a", 0, _change("instance", "i-1"), _change("instance", "i-2"))
    b = _journal("b", 0, _change("instance", "i-1"), _change("instance", "i-2"))
    a.intent_times[_change("instance", "i-1").key] = T0 + timedelta(minutes=1)
    b.intent_times[_change("instance", "i-2").key] = T0 + timedelta(minutes=1)
    with pytest.raises(UsageError, match="one at a time"):
        order([a, b])


# ---- end to end, on the moto server ----


def _apply(cli: Callable[..., CliResult], url: str, *args: str) -> Path:
    """apply --yes in REGION; the journal it printed."""
    result = cli("apply", "--yes", "--endpoint-url", url, "--regions", REGION, "--quiet", *args)
    assert result.code in (0, 1), result.out + result.err
    found = re.search(r"imdsguard: journal (\S+)", result.err)
    assert found, result.err
    return Path(found.group(1))


def _enforced(factory: SessionFactory) -> str | None:
    level = factory.ec2(own(factory), REGION).get_instance_metadata_defaults()["AccountLevel"]
    return level.get("HttpTokensEnforced")


def _instances_then_enforce(
    factory: SessionFactory, url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> tuple[Path, Path, list[str]]:
    ids = seed(factory, REGION, Group("clean", 2, imdsv1_calls=0))
    instances = tmp_path / "instances.jsonl"
    _apply(cli, url, "--resources", "instances", "--journal", str(instances))
    enforcing = _apply(cli, url, "--enforce")  # default path: in the state directory
    assert _enforced(factory) == "enabled"
    return instances, enforcing, ids


def test_an_instance_journal_in_an_enforced_region_names_the_journal_and_writes_nothing(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    instances, enforcing, ids = _instances_then_enforce(factory, moto_url, cli, tmp_path)
    journal_before = instances.read_bytes()
    refused = cli("rollback", str(instances), "--endpoint-url", moto_url)
    assert refused.code == 2
    assert f"{enforcing} enforced it" in refused.err
    assert f"imdsguard rollback {enforcing} {instances}" in refused.err
    assert "Nothing was rolled back" in refused.err
    assert "rollback records appended" not in refused.err
    assert instances.read_bytes() == journal_before  # not one rollback record
    assert {options_of(factory, REGION)[i]["http_tokens"] for i in ids} == {"required"}
    assert _enforced(factory) == "enabled"


def test_enforcement_set_outside_imdsguard_names_the_setting(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    seed(factory, REGION, Group("clean", 1, imdsv1_calls=0))
    instances = _apply(cli, moto_url, "--resources", "instances")
    ec2 = factory.ec2(own(factory), REGION)
    ec2.modify_instance_metadata_defaults(HttpTokensEnforced="enabled")
    refused = cli("rollback", str(instances), "--endpoint-url", moto_url)
    assert refused.code == 2
    assert "HttpTokensEnforced=disabled" in refused.err
    assert "no journal in" in refused.err


def test_rollback_across_journals_undoes_enforcement_first(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    instances, enforcing, ids = _instances_then_enforce(factory, moto_url, cli, tmp_path)
    rolled = cli("rollback", str(instances), str(enforcing), "--endpoint-url", moto_url, "--quiet")
    assert rolled.code == 0, rolled.out + rolled.err
    table = rolled.out.split("Rolling back 2 journals in this order")[0]
    assert table.index(str(enforcing)) < table.index(str(instances))
    assert "undoes HttpTokensEnforced" in table
    # Each journal's run is reported, in that order.
    assert rolled.err.index(f"journal {enforcing}") < rolled.err.index(f"journal {instances}")
    assert _enforced(factory) is None
    assert {options_of(factory, REGION)[i]["http_tokens"] for i in ids} == {"optional"}


def test_an_enforcement_rollback_that_fails_stops_before_the_instances(
    proxied_factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    instances, enforcing, ids = _instances_then_enforce(proxied_factory, proxy.url, cli, tmp_path)
    journal_before = instances.read_bytes()

    def refuse(req: ProxyRequest) -> Fault | None:
        if req.action != "ModifyInstanceMetadataDefaults":
            return None
        return Fault(400, "IncorrectState", "injected")

    proxy.rules.append(refuse)
    rolled = cli("rollback", str(instances), str(enforcing), "--endpoint-url", proxy.url, "-q")
    assert rolled.code == 1
    assert f"stopped before {instances}" in rolled.err
    assert instances.read_bytes() == journal_before
    assert _enforced(proxied_factory) == "enabled"
    assert {options_of(proxied_factory, REGION)[i]["http_tokens"] for i in ids} == {"required"}


def test_a_journal_that_enforced_its_own_region_undoes_that_first(factory: SessionFactory) -> None:
    factory.ec2(own(factory), REGION).modify_instance_metadata_defaults(
        HttpTokensEnforced="enabled"
    )
    both = order([_journal("both", 0, ENFORCE, _change("instance", "i-1"))])
    alone = order([_journal("alone", 0, _change("instance", "i-1"))])

    def check(steps: list[Step]) -> str | None:
        return enforcement_block(factory, steps, role_name=None, external_id=None, warn=print)

    assert check(both) is None  # run_rollback restores the enforcement before the rest
    assert "alone sets instances in 123456789012/eu-west-1 back" in str(check(alone))


def test_two_journals_of_one_plan_roll_back_together(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """One plan applied twice (someone set an instance back in between) leaves two
    journals with one plan identity: one rollback run takes both, in order, without
    waiting for its own plan lock."""
    ids = seed(factory, REGION, Group("clean", 2, imdsv1_calls=0))
    plan = tmp_path / "plan.json"
    where = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "instances")
    assert cli("plan", *where, "--output", str(plan)).code == 0
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    applied = cli("apply", str(plan), "--yes", "--quiet", "--journal", str(first), *where[:2])
    assert applied.code == 0, applied.err
    ec2 = factory.ec2(own(factory), REGION)
    ec2.modify_instance_metadata_options(InstanceId=ids[0], HttpTokens="optional")
    again = cli("apply", str(plan), "--yes", "--quiet", "--journal", str(second), *where[:2])
    assert again.code == 1, again.out + again.err  # 1: ids[1] skipped, already compliant
    assert "1 applied, 1 skipped" in again.out
    rolled = cli("rollback", str(first), str(second), "--endpoint-url", moto_url, "--quiet")
    assert rolled.code == 0, rolled.out + rolled.err
    assert "being applied or rolled back by another imdsguard run" not in rolled.err
    # The later journal's change of ids[0] is undone first, then the first journal's.
    assert rolled.err.index(f"journal {second}") < rolled.err.index(f"journal {first}")
    assert {options_of(factory, REGION)[i]["http_tokens"] for i in ids} == {"optional"}
