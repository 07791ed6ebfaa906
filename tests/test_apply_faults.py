"""apply under races, throttling and denials: fault injection through the loopback proxy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.options import ApplyOptions
from imdsguard.plan.planfile import load
from imdsguard.progress import Silent
from imdsguard.remediate.apply import run_apply
from imdsguard.remediate.journal import Journal
from tests.conftest import CliResult, own, seed
from tests.faultproxy import (
    Fault,
    FaultProxy,
    PendingPolls,
    ProxyRequest,
    answer_dry_runs,
    deny,
    metadata_pending,
    not_found,
    rate_limit,
    throttle,
)
from tests.remediation_helpers import journal_records, options_of, write_plan

MODIFY = "ModifyInstanceMetadataOptions"


def _set(factory: SessionFactory, region: str, iid: str, tokens: str, hops: int) -> None:
    factory.ec2(own(factory), region).modify_instance_metadata_options(
        InstanceId=iid,
        HttpTokens=tokens,  # type: ignore[arg-type]
        HttpEndpoint="enabled",
        HttpPutResponseHopLimit=hops,
    )


def _outcomes(journal: Path) -> dict[str, tuple[str, str]]:
    by_key = {}
    for record in journal_records(journal):
        if record["type"] == "outcome":
            by_key[record["key"].rsplit("/", 1)[-1]] = (record["outcome"], record["reason"])
    return by_key


def test_races_between_plan_and_apply_are_skipped_or_drifted(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    region = "us-west-2"
    ok, drift, compliant, terminated, vanished = seed(
        factory, region, Group("app", 5, imdsv1_calls=0)
    )
    journal = tmp_path / "j.jsonl"
    common = ("--endpoint-url", proxy.url, "--regions", region, "--resources", "instances")
    plan = write_plan(cli, tmp_path, *common)
    _set(factory, region, drift, "optional", 3)
    _set(factory, region, compliant, "required", 1)
    factory.ec2(own(factory), region).terminate_instances(InstanceIds=[terminated])
    proxy.rules.append(not_found(frozenset({vanished})))

    result = cli("apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(journal))

    assert result.code == 1
    outcomes = _outcomes(journal)
    assert outcomes[ok][0] == "applied"
    assert outcomes[drift] == ("drifted", "changed since the plan: hop_limit 1->3")
    assert outcomes[compliant] == ("skipped", "already compliant")
    assert outcomes[terminated] == ("skipped", "gone: instance terminated")
    assert outcomes[vanished] == ("skipped", "gone: InvalidInstanceID.NotFound")
    for iid in (drift, compliant, terminated, vanished):
        assert iid in result.out  # every skipped/drifted item is listed
    after = options_of(factory, region)
    assert after[drift]["http_tokens"] == "optional"  # drift is never overwritten
    assert after[drift]["hop_limit"] == 3
    intents = [r for r in journal_records(journal) if r["type"] == "intent"]
    assert [r["change"]["resource_id"] for r in intents] == [ok]


def test_throttling_never_fails_a_change_and_nothing_is_applied_twice(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    region = "eu-central-1"
    ids = seed(factory, region, Group("app", 12, imdsv1_calls=0))
    # The server's bucket is far smaller than the one we pace with: throttling is certain.
    proxy.rules.append(rate_limit(MODIFY, capacity=2, rate=6))
    result = cli(
        "apply",
        "--yes",
        "--resources",
        "instances",
        "--endpoint-url",
        proxy.url,
        "--regions",
        region,
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert result.code == 0, result.out + result.err
    assert proxy.faults[(MODIFY, region)] > 0
    modifies = [r for r in proxy.forwarded if r.action == MODIFY]
    assert sorted(str(r.param("InstanceId")) for r in modifies) == sorted(ids)
    assert all(o["http_tokens"] == "required" for o in options_of(factory, region).values())


def test_denied_region_exits_3_and_the_other_regions_are_done(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    allowed = seed(factory, "us-east-1", Group("a", 3, imdsv1_calls=0))
    refused = seed(factory, "eu-west-1", Group("b", 3, imdsv1_calls=0))
    proxy.rules.append(deny(MODIFY, frozenset({"eu-west-1"})))
    result = cli(
        "apply",
        "--yes",
        "--resources",
        "instances",
        "--endpoint-url",
        proxy.url,
        "--regions",
        "us-east-1,eu-west-1",
        "--journal",
        str(tmp_path / "j.jsonl"),
        "--workers-per-scope",
        "1",
    )
    assert result.code == 3, result.out + result.err
    assert "eu-west-1: permission denied" in result.out
    assert all(options_of(factory, "us-east-1")[i]["http_tokens"] == "required" for i in allowed)
    assert all(options_of(factory, "eu-west-1")[i]["http_tokens"] == "optional" for i in refused)
    # The first refusal stops the scope: no hammering a Region we may not write.
    assert proxy.faults[(MODIFY, "eu-west-1")] == 1
    outcomes = _outcomes(tmp_path / "j.jsonl")
    assert {outcomes[i][0] for i in refused} == {"denied"}


def test_denied_reread_stops_the_region_and_exits_3(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    allowed = seed(factory, "us-east-1", Group("a", 2, imdsv1_calls=0))
    refused = seed(factory, "eu-west-1", Group("b", 3, imdsv1_calls=0))
    journal = tmp_path / "j.jsonl"
    regions = ("--regions", "us-east-1,eu-west-1", "--resources", "instances")
    plan = write_plan(cli, tmp_path, "--endpoint-url", proxy.url, *regions)
    proxy.rules.append(deny("DescribeInstances", frozenset({"eu-west-1"})))
    result = cli(
        "apply",
        str(plan),
        "--endpoint-url",
        proxy.url,
        "--journal",
        str(journal),
        "--workers-per-scope",
        "1",
    )
    assert result.code == 3, result.out + result.err
    assert "eu-west-1: permission denied" in result.out
    assert proxy.faults[("DescribeInstances", "eu-west-1")] == 1  # the scope stopped there
    assert proxy.calls[(MODIFY, "eu-west-1")] == 0
    outcomes = _outcomes(journal)
    assert {outcomes[i][0] for i in refused} == {"denied"}
    assert all(options_of(factory, "us-east-1")[i]["http_tokens"] == "required" for i in allowed)


def test_an_unexpected_error_fails_one_change_and_the_run_goes_on(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    broken, *fine = seed(factory, "us-east-1", Group("a", 3, imdsv1_calls=0))
    other = seed(factory, "eu-west-1", Group("b", 2, imdsv1_calls=0))
    journal = tmp_path / "j.jsonl"
    regions = ("--regions", "us-east-1,eu-west-1", "--resources", "instances")
    plan = write_plan(cli, tmp_path, "--endpoint-url", proxy.url, *regions)

    def without_id(req: ProxyRequest, body: bytes) -> bytes:
        # A reply our parser cannot read (no instanceId): a bug's stand-in, not an AWS error.
        if req.action != "DescribeInstances" or req.param("InstanceId.1") != broken:
            return body
        return body.replace(f"<instanceId>{broken}</instanceId>".encode(), b"")

    proxy.rewrites.append(without_id)
    result = cli("apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(journal))
    assert result.code == 1, result.out + result.err
    outcomes = _outcomes(journal)
    assert outcomes[broken] == ("failed", "KeyError: 'InstanceId'")
    assert {outcomes[i][0] for i in [*fine, *other]} == {"applied"}
    assert broken in result.out


def test_check_permissions_dry_runs_once_per_scope_and_skips_denied_scopes(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    allowed = seed(factory, "us-east-1", Group("a", 2, imdsv1_calls=0))
    refused = seed(factory, "eu-west-1", Group("b", 2, imdsv1_calls=0))
    proxy.rules.append(answer_dry_runs(denied_regions=frozenset({"eu-west-1"})))
    journal = tmp_path / "j.jsonl"
    result = cli(
        "apply",
        "--yes",
        "--resources",
        "instances",
        "--check-permissions",
        "--endpoint-url",
        proxy.url,
        "--regions",
        "us-east-1,eu-west-1",
        "--journal",
        str(journal),
    )
    assert result.code == 3
    assert "permission check failed" in result.out
    assert proxy.faults[(MODIFY, "us-east-1")] == 1  # one DryRun each, answered by the proxy
    assert proxy.faults[(MODIFY, "eu-west-1")] == 1
    assert not [r for r in proxy.forwarded if r.param("DryRun") == "true"]
    assert all(options_of(factory, "us-east-1")[i]["http_tokens"] == "required" for i in allowed)
    assert all(options_of(factory, "eu-west-1")[i]["http_tokens"] == "optional" for i in refused)
    intents = {
        r["change"]["resource_id"] for r in journal_records(journal) if r["type"] == "intent"
    }
    assert intents == set(allowed)
    assert json.loads(journal.read_text().splitlines()[0])["type"] == "header"


def test_permission_probe_on_a_vanished_instance_tries_the_next_one(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    ids = seed(factory, "us-east-1", Group("a", 3, imdsv1_calls=0))
    plan = write_plan(cli, tmp_path, "--endpoint-url", proxy.url, "--resources", "instances")
    gone = json.loads(plan.read_text())["changes"][0]["resource_id"]  # the first probe
    rest = [i for i in ids if i != gone]
    proxy.rules += [not_found(frozenset({gone})), answer_dry_runs()]
    result = cli(
        "apply",
        str(plan),
        "--check-permissions",
        "--endpoint-url",
        proxy.url,
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert result.code == 1  # the vanished one is listed as skipped
    assert proxy.faults[(MODIFY, "us-east-1")] == 2  # not-found probe, then an allowed one
    after = options_of(factory, "us-east-1")
    assert all(after[i]["http_tokens"] == "required" for i in rest)


def test_throttled_permission_probes_are_waited_out_not_taken_for_denial(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    ids = seed(factory, "us-east-1", Group("a", 3, imdsv1_calls=0))
    common = ("--endpoint-url", proxy.url, "--resources", "instances")
    plan = write_plan(cli, tmp_path, *common)
    throttled = {"n": 0}

    def throttle_dry_runs(req: ProxyRequest) -> Fault | None:
        if req.param("DryRun") != "true" or throttled["n"] >= 4:
            return None
        throttled["n"] += 1
        return throttle()

    proxy.rules += [throttle_dry_runs, answer_dry_runs()]
    # No botocore retries: every throttled probe reaches imdsguard, which must wait it out.
    impatient = SessionFactory(endpoint_url=proxy.url, max_attempts=1)
    journal = Journal.create(tmp_path / "j.jsonl", load(str(plan)))
    try:
        result = run_apply(
            impatient,
            load(str(plan)),
            journal,
            options=ApplyOptions(check_permissions=True),
            progress=Silent(),
        )
    finally:
        journal.close()
    assert result.scope_errors == ()
    assert {r.outcome for r in result.results} == {"applied"}
    assert proxy.faults[(MODIFY, "us-east-1")] == 5  # four throttled, then DryRunOperation
    assert all(options_of(factory, "us-east-1")[i]["http_tokens"] == "required" for i in ids)


def test_no_probe_able_instance_means_no_probe_not_a_denied_scope(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    ids = seed(factory, "us-east-1", Group("a", 2, imdsv1_calls=0))
    common = ("--endpoint-url", proxy.url, "--resources", "instances")
    plan = write_plan(cli, tmp_path, *common)
    proxy.rules += [not_found(frozenset(ids)), answer_dry_runs()]
    journal = tmp_path / "j.jsonl"
    result = cli("apply", str(plan), "--check-permissions", *common[:2], "--journal", str(journal))
    assert result.code == 1, result.out + result.err  # both skipped as gone, no scope error
    assert "permission" not in result.out
    assert set(_outcomes(journal).values()) == {("skipped", "gone: InvalidInstanceID.NotFound")}


def test_pending_changes_are_verified_in_batched_polls(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    region = "sa-east-1"
    ids = seed(factory, region, Group("app", 8, imdsv1_calls=0))
    plan = write_plan(cli, tmp_path, "--endpoint-url", proxy.url, "--regions", region)
    pending = PendingPolls(2)
    proxy.rewrites.append(pending)
    before = proxy.calls[("DescribeInstances", region)]
    result = cli("apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(tmp_path / "j"))
    assert result.code == 0, result.out + result.err
    assert all(options_of(factory, region)[i]["http_tokens"] == "required" for i in ids)
    polls = [
        r for r in proxy.forwarded if r.action == "DescribeInstances" and r.param("Filter.1.Name")
    ]
    # Polled on while pending, until a poll showed applied.
    assert pending.answered == 2
    assert len(polls) > 2
    # Each change polled on its own would need an applied answer of its own (2 + 8 polls);
    # batched, one applied poll verifies every change waiting (a change that joins late
    # may need one more).
    assert len(polls) < 2 + len(ids)
    # Per change: one re-read and one immediate check; everything else was batched.
    assert proxy.calls[("DescribeInstances", region)] - before == 2 * len(ids) + len(polls)


def test_a_change_that_never_shows_applied_fails_verification(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    region = "sa-east-1"
    [iid] = seed(factory, region, Group("app", 1, imdsv1_calls=0))
    proxy.rewrites.append(metadata_pending(3600))
    result = cli(
        "apply",
        "--yes",
        "--endpoint-url",
        proxy.url,
        "--regions",
        region,
        "--verify-timeout",
        "1.5",
        "--journal",
        str(tmp_path / "j"),
    )
    assert result.code == 1
    assert "not verified within 1.5s" in result.out
    assert iid in result.out
