"""Apply and rollback on Dask (remediate/dask_scopes.py) against moto: the journal is the
client's and says what a local run's says; a resume after a Dask run settles it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import OWN_ACCOUNT, CliResult, seed
from tests.dask_cluster import (  # noqa: F401  (the fixtures)
    cluster_fixture,
    scheduler_fixture,
)
from tests.faultproxy import FaultProxy
from tests.remediation_helpers import journal_records, write_plan

ROLE = "OrganizationAccountAccessRole"
OTHERS = ("222222222222", "333333333333")
REGION = "us-east-2"


def tokens(factory: SessionFactory, account: str, ids: list[str]) -> dict[str, str]:
    access = factory.assume(account, ROLE, None) if account != OWN_ACCOUNT else None
    client = factory.ec2(access, REGION)
    reply = client.describe_instances(InstanceIds=ids)
    return {
        i["InstanceId"]: i["MetadataOptions"]["HttpTokens"]
        for r in reply["Reservations"]
        for i in r["Instances"]
    }


def planned_fleet(
    factory: SessionFactory, cli: Callable[..., CliResult], tmp_path: Path, endpoint: str
) -> tuple[Path, dict[str, list[str]]]:
    """Three accounts, three clean candidates each, planned; then, behind the plan's back,
    one instance per account is fixed by someone else (apply must skip it, unjournaled)."""
    ids = {OWN_ACCOUNT: seed(factory, REGION, Group("app", 3, imdsv1_calls=0))}
    for account in OTHERS:
        ids[account] = seed(factory, REGION, Group("app", 3, imdsv1_calls=0), account=account)
    accounts = ",".join(ids)
    plan = write_plan(
        cli, tmp_path, "--endpoint-url", endpoint, "--regions", REGION,
        "--resources", "instances", "--accounts", accounts, "--role-name", ROLE,
    )  # fmt: skip
    for account, instances in ids.items():
        access = factory.assume(account, ROLE, None) if account != OWN_ACCOUNT else None
        factory.ec2(access, REGION).modify_instance_metadata_options(
            InstanceId=instances[0], HttpTokens="required"
        )
    return plan, ids


def by_type(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for record in records:
        if "key" in record:
            found.setdefault(record["type"], set()).add(record["key"].rsplit("/", 1)[-1])
    return found


def test_apply_and_rollback_on_dask_journal_what_a_local_run_would(
    factory: SessionFactory,
    moto_url: str,
    scheduler: str,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    plan, ids = planned_fleet(factory, cli, tmp_path, moto_url)
    journal = tmp_path / "j.jsonl"
    dask = ("--executor", "dask", "--scheduler", scheduler)
    applied = cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal), *dask)
    assert applied.code == 1, applied.out + applied.err  # the skipped ones
    fixed_by_others = {instances[0] for instances in ids.values()}
    written = {i for instances in ids.values() for i in instances[1:]}
    records = journal_records(journal)
    kinds = by_type(records)
    # An intent only for what was written, before its outcome; the skipped, none.
    assert kinds["intent"] == written
    assert kinds["outcome"] == written | fixed_by_others
    first: dict[tuple[str, str | None], int] = {}
    for number, record in enumerate(records):
        first.setdefault((record["type"], record.get("key")), number)
    for record in records:
        if record["type"] == "outcome" and record["outcome"] == "applied":
            assert first[("intent", record["key"])] < first[("outcome", record["key"])]
    outcomes = {
        r["key"].rsplit("/", 1)[-1]: r["outcome"] for r in records if r["type"] == "outcome"
    }
    assert {i: outcomes[i] for i in fixed_by_others} == dict.fromkeys(fixed_by_others, "skipped")
    for account, instances in ids.items():
        assert set(tokens(factory, account, instances).values()) == {"required"}

    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url, *dask)
    assert rolled.code == 0, rolled.out + rolled.err
    for account, instances in ids.items():
        now = tokens(factory, account, instances)
        # What someone else fixed stays fixed: apply never journaled it.
        assert now == {i: "required" if i in fixed_by_others else "optional" for i in instances}
    assert by_type(journal_records(journal))["rollback-outcome"] == written


def test_resume_of_a_dask_run_cut_after_its_intents_writes_nothing_again(
    factory: SessionFactory,
    proxy: FaultProxy,
    scheduler: str,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    plan, ids = planned_fleet(factory, cli, tmp_path, proxy.url)
    journal = tmp_path / "j.jsonl"
    dask = ("--executor", "dask", "--scheduler", scheduler)
    first = cli("apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(journal), *dask)
    assert first.code == 1, first.out + first.err
    # As the client leaves it if killed once it has journaled the last write task's intents.
    lines = journal.read_text().splitlines(keepends=True)
    last_intent = max(n for n, line in enumerate(lines) if '"type": "intent"' in line)
    journal.write_text("".join(lines[: last_intent + 1]))
    writes = proxy.calls[("ModifyInstanceMetadataOptions", REGION)]

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url, *dask)

    assert resumed.code == 1, resumed.out + resumed.err
    assert proxy.calls[("ModifyInstanceMetadataOptions", REGION)] == writes
    records = journal_records(journal)
    written = {i for instances in ids.values() for i in instances[1:]}
    assert by_type(records)["intent"] == written  # and no intent twice
    assert sum(r["type"] == "intent" for r in records) == len(written)
    applied = {r["key"].rsplit("/", 1)[-1] for r in records if r.get("outcome") == "applied"}
    assert applied == written
    # The cut-off write task's changes: found written, verified, recorded, not written again.
    reasons = [r["reason"] for r in records[last_intent + 1 :] if r.get("outcome") == "applied"]
    assert reasons
    assert set(reasons) == {"written by the interrupted run"}
