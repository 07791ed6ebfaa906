"""The safety paths of apply and rollback: drift after apply, failed writes, account defaults.

Real moto behind the loopback fault proxy; "someone else" changes resources straight in
moto, and the proxy fails the writes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import CliResult, own, seed
from tests.faultproxy import Fault, FaultProxy, ProxyRequest, Rule
from tests.remediation_helpers import journal_records, options_of, write_plan

REGION = "us-east-2"
MODIFY = "ModifyInstanceMetadataOptions"
DEFAULTS = "ModifyInstanceMetadataDefaults"
INSTANCES = ("--resources", "instances")


def fail_writes(action: str, instance_id: str | None = None) -> Rule:
    """``action`` fails with an error that is neither throttling nor a denial."""

    def rule(req: ProxyRequest) -> Fault | None:
        if req.action != action or instance_id not in (None, req.param("InstanceId")):
            return None
        return Fault(400, "IncorrectInstanceState", "The instance is not in a valid state")

    return rule


def _records(journal: Path, record_type: str, resource_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in journal_records(journal)
        if r["type"] == record_type and r["key"].endswith("/" + resource_id)
    ]


def _writes(proxy: FaultProxy, action: str) -> list[str]:
    return [str(r.param("InstanceId")) for r in proxy.forwarded if r.action == action]


def _applied(cli: Callable[..., CliResult], proxy: FaultProxy, journal: Path, *args: str) -> None:
    common = ("--endpoint-url", proxy.url, "--regions", REGION)
    result = cli("apply", "--yes", *common, *args, "--journal", str(journal))
    assert result.code == 0, result.out + result.err


def _defaults(factory: SessionFactory) -> dict[str, Any]:
    ec2 = factory.ec2(own(factory), REGION)
    return dict(ec2.get_instance_metadata_defaults()["AccountLevel"])


def _applied_fleet(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], journal: Path
) -> tuple[str, list[str], dict[str, dict[str, Any]]]:
    """Three instances, applied: (the one a test picks on, the others, their settings before)."""
    first, *rest = seed(factory, REGION, Group("app", 3, imdsv1_calls=0))
    original = options_of(factory, REGION)
    _applied(cli, proxy, journal, *INSTANCES)
    return first, rest, original


def test_rollback_leaves_an_instance_changed_after_apply_and_reports_it(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    moved, rest, original = _applied_fleet(factory, proxy, cli, journal)
    factory.ec2(own(factory), REGION).modify_instance_metadata_options(
        InstanceId=moved, HttpTokens="required", HttpPutResponseHopLimit=3
    )
    proxy.forwarded.clear()

    rolled = cli("rollback", str(journal), "--endpoint-url", proxy.url)

    assert rolled.code == 1, rolled.out + rolled.err
    assert moved in rolled.out
    assert "changed since apply; left alone" in rolled.out
    after = options_of(factory, REGION)
    assert (after[moved]["http_tokens"], after[moved]["hop_limit"]) == ("required", 3)
    assert all(after[i] == original[i] for i in rest)
    assert sorted(_writes(proxy, MODIFY)) == sorted(rest)  # never a write for the moved one
    [outcome] = _records(journal, "rollback-outcome", moved)
    assert (outcome["outcome"], outcome["observed"]) == ("drifted", after[moved])
    assert not _records(journal, "rollback-intent", moved)


def test_a_failed_write_during_apply_is_reported_and_resume_retries_it(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    broken, *rest = seed(factory, REGION, Group("app", 3, imdsv1_calls=0))
    original = options_of(factory, REGION)
    plan = write_plan(cli, tmp_path, "--endpoint-url", proxy.url, "--regions", REGION, *INSTANCES)
    journal = tmp_path / "j.jsonl"
    proxy.rules.append(fail_writes(MODIFY, broken))

    applied = cli("apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(journal))

    assert applied.code == 1, applied.out + applied.err  # failed: listed, exit 1
    assert broken in applied.out
    assert "IncorrectInstanceState" in applied.out
    assert options_of(factory, REGION)[broken] == original[broken]
    assert len(_records(journal, "intent", broken)) == 1  # journaled before the write
    [outcome] = _records(journal, "outcome", broken)
    assert outcome["outcome"] == "failed"
    assert outcome["reason"].startswith("IncorrectInstanceState")
    assert outcome["observed"] == original[broken]  # re-read after the failure
    assert {_records(journal, "outcome", i)[0]["outcome"] for i in rest} == {"applied"}

    proxy.rules.clear()
    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url)

    assert resumed.code == 0, resumed.out + resumed.err
    assert options_of(factory, REGION)[broken]["http_tokens"] == "required"
    assert [r["outcome"] for r in _records(journal, "outcome", broken)] == ["failed", "applied"]
    assert all(len(_records(journal, "intent", i)) == 1 for i in rest)  # done ones left alone


def test_a_failed_write_during_rollback_is_reported_and_a_second_rollback_restores_it(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    broken, rest, original = _applied_fleet(factory, proxy, cli, journal)
    changed = options_of(factory, REGION)
    proxy.rules.append(fail_writes(MODIFY, broken))

    rolled = cli("rollback", str(journal), "--endpoint-url", proxy.url)

    assert rolled.code == 1, rolled.out + rolled.err
    assert broken in rolled.out
    assert "IncorrectInstanceState" in rolled.out
    after = options_of(factory, REGION)
    assert after[broken] == changed[broken]
    assert all(after[i] == original[i] for i in rest)
    assert len(_records(journal, "rollback-intent", broken)) == 1
    [outcome] = _records(journal, "rollback-outcome", broken)
    assert (outcome["outcome"], outcome["observed"]) == ("failed", changed[broken])

    proxy.rules.clear()
    again = cli("rollback", str(journal), "--endpoint-url", proxy.url)

    assert again.code == 0, again.out + again.err
    assert options_of(factory, REGION) == original
    outcomes = [r["outcome"] for r in _records(journal, "rollback-outcome", broken)]
    assert outcomes == ["failed", "restored"]


def test_rollback_leaves_account_defaults_changed_after_apply_and_reports_it(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    _applied(cli, proxy, journal, "--resources", "account-defaults")
    assert _defaults(factory)["HttpTokens"] == "required"
    factory.ec2(own(factory), REGION).modify_instance_metadata_defaults(HttpTokens="optional")
    proxy.forwarded.clear()

    rolled = cli("rollback", str(journal), "--endpoint-url", proxy.url)

    assert rolled.code == 1, rolled.out + rolled.err
    assert "changed since apply; left alone" in rolled.out
    assert _defaults(factory)["HttpTokens"] == "optional"
    assert not _writes(proxy, DEFAULTS)
    records = journal_records(journal)
    assert not [r for r in records if r["type"] == "rollback-intent"]
    [outcome] = [r for r in records if r["type"] == "rollback-outcome"]
    assert outcome["outcome"] == "drifted"


def test_a_failed_account_defaults_write_is_reported_and_the_defaults_stay_unset(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal = tmp_path / "j.jsonl"
    proxy.rules.append(fail_writes(DEFAULTS))
    common = ("--endpoint-url", proxy.url, "--regions", REGION, "--resources", "account-defaults")

    applied = cli("apply", "--yes", *common, "--journal", str(journal))

    assert applied.code == 1, applied.out + applied.err
    assert "IncorrectInstanceState" in applied.out
    assert _defaults(factory) == {"ManagedBy": "account"}
    kinds = [r["type"] for r in journal_records(journal)]
    assert kinds == ["header", "intent", "outcome"]
    assert journal_records(journal)[-1]["outcome"] == "failed"
