"""plan -> apply -> scan again, end to end through the CLI against the moto server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import OWN_ACCOUNT, CliResult, seed
from tests.remediation_helpers import journal_records, options_of

REGION = "eu-west-1"


def seed_mixed_fleet(factory: SessionFactory) -> dict[str, list[str]]:
    groups = (
        Group("web", 2, tokens="required"),
        Group("legacy", 1, imdsv1_calls=42),
        Group("clean", 2, imdsv1_calls=0),
        Group("eks", 1, imdsv1_calls=0, tags={"eks:cluster-name": "prod"}),
        Group("hop3", 1, hop_limit=3, imdsv1_calls=0),
        Group("stopped", 1, then="stop"),
        Group("bastion", 1, endpoint="disabled", imdsv1_calls=0),
        Group("gone", 1, then="terminate", imdsv1_calls=0),
        Group("frozen", 1, imdsv1_calls=0, tags={"team": "frozen"}),
    )
    return {g.name: seed(factory, REGION, g) for g in groups}


def test_plan_apply_fixes_exactly_the_clean_candidates(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed_mixed_fleet(factory)
    original = options_of(factory, REGION)
    plan_path, journal = tmp_path / "plan.json", tmp_path / "run.jsonl"
    common = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "instances")

    planned = cli(
        "plan",
        *common,
        "--container-hop-limit",
        "--exclude-tag",
        "team=frozen",
        "--output",
        str(plan_path),
    )
    assert planned.code == 1, planned.err  # held instances make it 1
    doc = json.loads(plan_path.read_text())
    to_change = {c["resource_id"]: c for c in doc["changes"]}
    assert set(to_change) == set(ids["clean"] + ids["eks"] + ids["hop3"])
    held = {h["resource_id"]: h for h in doc["held"]}
    assert held[ids["legacy"][0]]["reason"] == "imdsv1-in-use"
    assert held[ids["legacy"][0]]["detail"]["imdsv1_calls"] == 42
    assert held[ids["legacy"][0]]["detail"]["last_seen"]
    assert held[ids["stopped"][0]]["reason"] == "usage-unknown"
    assert [e["resource_id"] for e in doc["exempt"]] == ids["frozen"]
    assert to_change[ids["eks"][0]]["after"]["hop_limit"] == 2
    assert to_change[ids["clean"][0]]["before"]["http_tokens"] == "optional"
    assert ids["legacy"][0] in planned.out
    assert "imdsv1-in-use" in planned.out

    applied = cli("apply", str(plan_path), "--endpoint-url", moto_url, "--journal", str(journal))
    assert applied.code == 1, applied.err  # still 1: the held instances are listed
    assert str(journal) in applied.err

    after = options_of(factory, REGION)
    for iid in ids["clean"] + ids["eks"] + ids["hop3"]:
        assert after[iid]["http_tokens"] == "required"
        assert after[iid]["http_endpoint"] == "enabled"
    assert after[ids["clean"][0]]["hop_limit"] == 1
    assert after[ids["eks"][0]]["hop_limit"] == 2
    assert after[ids["hop3"][0]]["hop_limit"] == 3
    untouched = ids["web"] + ids["legacy"] + ids["stopped"] + ids["bastion"] + ids["frozen"]
    for iid in untouched + ids["gone"]:
        assert after[iid] == original[iid], iid

    rescan = cli("scan", *common, "--format", "json")
    findings = json.loads(rescan.out)["findings"]
    failing = {f["resource_id"] for f in findings if f["status"] == "FAIL"}
    assert failing == set(ids["legacy"] + ids["stopped"] + ids["frozen"])

    records = journal_records(journal)
    kinds = [r["type"] for r in records]
    assert kinds[0] == "header"
    assert kinds.count("intent") == 4
    assert kinds.count("outcome") == 4
    assert {r["outcome"] for r in records if r["type"] == "outcome"} == {"applied"}


def test_rollback_restores_every_field_and_is_idempotent(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed_mixed_fleet(factory)
    original = options_of(factory, REGION)
    journal = tmp_path / "run.jsonl"
    common = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "instances")
    applied = cli(
        "apply",
        "--yes",
        *common,
        "--hop-limit",
        "4",
        "--include-unknown",
        "--journal",
        str(journal),
    )
    assert applied.code == 1, applied.err  # legacy is still held
    changed = options_of(factory, REGION)
    assert changed[ids["stopped"][0]]["hop_limit"] == 4
    assert changed != original

    first = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert first.code == 0, first.out + first.err
    assert options_of(factory, REGION) == original
    again = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert again.code == 0
    assert options_of(factory, REGION) == original
    records = journal_records(journal)
    # The second rollback found everything restored: no second write.
    assert sum(r["type"] == "rollback-intent" for r in records) == 6
    outcomes = [r for r in records if r["type"] == "rollback-outcome"]
    assert len(outcomes) == 12
    assert {r["outcome"] for r in outcomes} == {"restored"}


def test_resume_after_rollback_reports_rolled_back_and_never_reapplies(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed(factory, REGION, Group("app", 2, imdsv1_calls=0))
    journal = tmp_path / "run.jsonl"
    common = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "instances")
    assert cli("apply", "--yes", *common, "--journal", str(journal)).code == 0
    assert cli("rollback", str(journal), "--endpoint-url", moto_url).code == 0

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", moto_url)

    assert resumed.code == 1, resumed.out + resumed.err  # rolled back is not applied
    assert "rolled-back" in resumed.out
    assert all(o["http_tokens"] == "optional" for o in options_of(factory, REGION).values())
    records = journal_records(journal)
    assert sum(r["type"] == "intent" for r in records) == len(ids)  # no second write
    again = cli("apply", "--resume", str(journal), "--endpoint-url", moto_url)
    assert again.code == 1
    assert "rolled-back" in again.out


def test_plan_records_the_role_and_apply_and_rollback_enter_other_accounts(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    other = "210987654321"
    [mine] = seed(factory, REGION, Group("mine", 1, imdsv1_calls=0))
    [theirs] = seed(factory, REGION, Group("theirs", 1, imdsv1_calls=0), account=other)
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    planned = cli(
        "plan",
        "--endpoint-url",
        moto_url,
        "--regions",
        REGION,
        "--accounts",
        f"{OWN_ACCOUNT},{other}",
        "--role-name",
        "OrganizationAccountAccessRole",
        "--output",
        str(plan),
    )
    assert planned.code == 0, planned.out + planned.err
    assert {c["account_id"] for c in json.loads(plan.read_text())["changes"]} == {
        OWN_ACCOUNT,
        other,
    }
    # No --role-name here: apply and rollback use the one the plan recorded.
    assert cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal)).code == 0
    access = factory.assume(other, "OrganizationAccountAccessRole", None)
    theirs_client = factory.ec2(access, REGION)

    def tokens_in_other_account() -> str:
        reply = theirs_client.describe_instances(InstanceIds=[theirs])
        return reply["Reservations"][0]["Instances"][0]["MetadataOptions"]["HttpTokens"]

    assert tokens_in_other_account() == "required"
    assert options_of(factory, REGION)[mine]["http_tokens"] == "required"
    assert cli("rollback", str(journal), "--endpoint-url", moto_url).code == 0
    assert tokens_in_other_account() == "optional"
    assert options_of(factory, REGION)[mine]["http_tokens"] == "optional"
