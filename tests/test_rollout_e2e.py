"""Staged rollouts through the CLI against the moto server: waves, soak, halt, enforce last."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import CliResult, own, seed
from tests.remediation_helpers import journal_records, options_of

REGION = "eu-west-1"
QUIET = "us-west-2"  # no instance to change: its account default can be enforced
FAST = ("--soak", "1s", "--poll-interval", "0.5s", "--quiet")


def reject(factory: SessionFactory, iid: str, value: float = 3.0) -> None:
    """A MetadataNoTokenRejected point a minute from now: after the change, in any soak."""
    factory.cloudwatch(own(factory), REGION).put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "MetadataNoTokenRejected",
                "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                "Timestamp": datetime.now(UTC) + timedelta(seconds=30),
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def fleet(factory: SessionFactory) -> dict[str, list[str]]:
    groups = (Group("stopped", 1, imdsv1_calls=0, then="stop"), Group("plain", 2, imdsv1_calls=0))
    ids = {g.name: seed(factory, REGION, g) for g in groups}
    # One launch each: moto gives the instance profile only to a launch's first instance.
    app = Group("app", 1, imdsv1_calls=0, role=True)
    ids["app"] = [i for _ in range(3) for i in seed(factory, REGION, app)]
    return ids


def planned(cli: Callable[..., CliResult], url: str, tmp_path: Path, *extra: str) -> Path:
    plan = tmp_path / "plan.json"
    result = cli(
        "plan", "--endpoint-url", url, "--regions", f"{REGION},{QUIET}", "--include-unknown",
        "--enforce", *extra, "--output", str(plan),
    )  # fmt: skip
    assert result.code in (0, 1), result.err
    return plan


def defaults(factory: SessionFactory, region: str) -> dict[str, Any]:
    reply = factory.ec2(own(factory), region).get_instance_metadata_defaults()
    return dict(reply.get("AccountLevel", {}))


def test_a_clean_rollout_finishes_every_wave_then_sets_the_defaults_and_enforces(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    doc = json.loads(plan.read_text())
    kinds = sorted(c["kind"] for c in doc["changes"])
    assert kinds.count("account-defaults") == 2, kinds
    # eu-west-1's instances fail at scan time, but this plan changes every one of them.
    assert not doc["held"], doc["held"]
    journal = tmp_path / "run.jsonl"
    applied = cli(
        "apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal),
        "--waves", "1,50%,all", *FAST,
    )  # fmt: skip
    assert applied.code == 0, applied.out + applied.err
    assert "Not applied" not in applied.out
    after = options_of(factory, REGION)
    assert all(after[i]["http_tokens"] == "required" for g in ids.values() for i in g)
    for region in (QUIET, REGION):
        assert defaults(factory, region).get("HttpTokens") == "required"
        assert defaults(factory, region).get("HttpTokensEnforced") == "enabled"
    records = journal_records(journal)
    assert records[0]["v"] == 2
    types = [r["type"] for r in records]
    assert types.count("soak-end") == 3
    # Every instance was changed, and every soak ended, before the final step began.
    final = types.index("final-start")
    instance_outcomes = [
        i for i, r in enumerate(records) if r["type"] == "outcome" and "/instance/" in r["key"]
    ]
    assert max(instance_outcomes) < types.index("soak-end", max(instance_outcomes)) < final
    defaults_outcomes = [
        i
        for i, r in enumerate(records)
        if r["type"] == "outcome" and "account-defaults" in r["key"]
    ]
    assert min(defaults_outcomes) > final
    # Least risk first: the stopped instance alone in wave 1.
    first = types.index("wave-start")
    second = types.index("wave-start", first + 1)
    wave1 = [r["key"] for r in records[first:second] if r["type"] == "intent"]
    assert wave1 == [f"{doc['changes'][0]['account_id']}/{REGION}/instance/{ids['stopped'][0]}"]
    assert "Rollout" in applied.out
    # A rollout's journal (version 2) rolls back like any other.
    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url, "--quiet")
    assert rolled.code == 0, rolled.out + rolled.err
    assert all(v["http_tokens"] == "optional" for v in options_of(factory, REGION).values())


def test_a_rejection_in_wave_2_halts_before_wave_3_and_rolls_back_exactly_that_instance(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    before_defaults = {r: defaults(factory, r) for r in (REGION, QUIET)}
    broken = ids["plain"][0]
    reject(factory, broken, 4.0)
    journal = tmp_path / "run.jsonl"
    applied = cli(
        "apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal),
        "--waves", "1,3,all", *FAST,
    )  # fmt: skip
    assert applied.code == 1, applied.out + applied.err
    assert "imdsguard: halted: IMDSv1 calls refused on 1 instance(s)" in applied.err
    after = options_of(factory, REGION)
    assert after[broken]["http_tokens"] == "optional"  # rolled back, verified
    assert after[ids["plain"][1]]["http_tokens"] == "required"  # wave 2, not broken
    assert after[ids["stopped"][0]]["http_tokens"] == "required"  # wave 1
    assert all(after[i]["http_tokens"] == "optional" for i in ids["app"])  # wave 3 never ran
    assert {r: defaults(factory, r) for r in (REGION, QUIET)} == before_defaults
    records = journal_records(journal)
    types = [r["type"] for r in records]
    assert "final-start" not in types
    assert types.count("wave-start") == 2
    [halt] = [r for r in records if r["type"] == "halt"]
    assert halt["wave"] == 2
    assert list(halt["rejected"]) == [
        f"{records[0]['plan']['changes'][0]['account_id']}/{REGION}/instance/{broken}"
    ]
    assert [r["key"].rsplit("/", 1)[1] for r in records if r["type"] == "rollback-outcome"] == [
        broken
    ]
    # Reported by name with the count, and what became of it.
    assert broken in applied.out
    assert "restored" in applied.out
    assert "Rollout halted in wave 2" in applied.out


def test_on_breakage_halt_rolls_nothing_back(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    reject(factory, ids["stopped"][0])
    applied = cli(
        "apply", str(plan), "--endpoint-url", moto_url, "--journal", str(tmp_path / "j.jsonl"),
        "--waves", "1,all", "--on-breakage", "halt", *FAST,
    )  # fmt: skip
    assert applied.code == 1, applied.out + applied.err
    after = options_of(factory, REGION)
    assert after[ids["stopped"][0]]["http_tokens"] == "required"
    assert all(after[i]["http_tokens"] == "optional" for i in ids["plain"] + ids["app"])
    assert "left applied (--on-breakage halt)" in applied.out


def test_an_alarm_in_alarm_state_halts_and_an_unknown_alarm_is_refused_up_front(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    watch = factory.cloudwatch(own(factory), REGION)
    watch.put_metric_alarm(
        AlarmName="checkout-5xx", MetricName="5xx", Namespace="Shop", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    args = ("apply", str(plan), "--endpoint-url", moto_url, "--waves", "1,all", *FAST)
    unknown = cli(*args, "--journal", str(tmp_path / "a.jsonl"), "--halt-on-alarm", "nope")
    assert unknown.code == 2, unknown.err
    assert "no alarm named nope" in unknown.err
    assert all(v["http_tokens"] == "optional" for v in options_of(factory, REGION).values())
    watch.set_alarm_state(AlarmName="checkout-5xx", StateValue="ALARM", StateReason="test")
    halted = cli(*args, "--journal", str(tmp_path / "b.jsonl"), "--halt-on-alarm", "checkout-5xx")
    assert halted.code == 1, halted.out + halted.err
    assert "alarm checkout-5xx is in ALARM" in halted.err
    after = options_of(factory, REGION)
    assert after[ids["stopped"][0]]["http_tokens"] == "required"  # wave 1, then the halt
    assert all(after[i]["http_tokens"] == "optional" for i in ids["plain"] + ids["app"])
