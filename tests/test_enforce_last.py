"""Enforcement is each Region's last step, planned with the instance changes it needs and
applied only if the Region's launchers all pass when checked again (moto server, CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import CliResult, own, seed
from tests.faultproxy import FaultProxy, deny
from tests.remediation_helpers import journal_records, options_of
from tests.test_crash import CHILD
from tests.test_rollout_e2e import REGION, defaults, planned

SKIPPED = "enforcement not run, not every launcher in the Region passes: still allow IMDSv1"


def _enforcing(plan: Path) -> list[str]:
    """The Regions whose account default the plan enforces."""
    return [
        c["region"]
        for c in json.loads(plan.read_text())["changes"]
        if c["kind"] == "account-defaults" and "HttpTokensEnforced" in c["state"]["after"]
    ]


def test_plain_apply_enforces_a_region_after_its_instance_changes(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed(factory, REGION, Group("web", 3, imdsv1_calls=0))
    plan = tmp_path / "plan.json"
    made = cli(
        "plan", "--endpoint-url", moto_url, "--regions", REGION, "--enforce", "--output", str(plan)
    )
    assert made.code == 0, made.out + made.err
    assert _enforcing(plan) == [REGION]
    # The plan table: the three instances, then the account default and its enforcement
    # (the Order cell wraps: "6 last in Region: account" / "default and enforcement").
    [row] = [line for line in made.out.splitlines() if "imds-defaults/" in line]
    assert row.lstrip().startswith("6 last in Region: account"), made.out
    assert "default and enforcement" in made.out
    assert made.out.index(row) > max(made.out.index(i) for i in ids), made.out

    journal = tmp_path / "j.jsonl"
    applied = cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal))
    assert applied.code == 0, applied.out + applied.err
    assert all(v["http_tokens"] == "required" for v in options_of(factory, REGION).values())
    assert defaults(factory, REGION)["HttpTokensEnforced"] == "enabled"
    records = journal_records(journal)
    instances = [n for n, r in enumerate(records) if "/instance/" in r.get("key", "")]
    [enforce] = [
        n for n, r in enumerate(records) if r.get("type") == "intent" and "defaults" in r["key"]
    ]
    assert max(instances) < enforce  # every instance's outcome before the intent


def test_an_instance_held_by_its_imdsv1_use_still_blocks_enforcement_at_plan_time(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    seed(factory, REGION, Group("clean", 2, imdsv1_calls=0))
    [busy] = seed(factory, REGION, Group("busy", 1, imdsv1_calls=9))
    plan = tmp_path / "plan.json"
    made = cli(
        "plan", "--endpoint-url", moto_url, "--regions", REGION, "--enforce", "--output", str(plan)
    )
    assert made.code == 1, made.out + made.err
    doc = json.loads(plan.read_text())
    assert _enforcing(plan) == []
    [gate] = [h for h in doc["held"] if h["reason"] == "enforce-not-ready"]
    # Only the held instance is named: the plan changes the two clean ones.
    assert gate["detail"]["why"] == f"still allow IMDSv1: 1 instance(s) ({busy})"


def test_a_failed_instance_change_keeps_enforcement_off_and_says_why(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed(factory, REGION, Group("web", 2, imdsv1_calls=0))
    plan = tmp_path / "plan.json"
    cli(
        "plan", "--endpoint-url", proxy.url, "--regions", REGION, "--enforce", "--output", str(plan)
    )
    assert _enforcing(plan) == [REGION]
    proxy.rules.append(deny("ModifyInstanceMetadataOptions", frozenset({REGION})))
    applied = cli(
        "apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(tmp_path / "j.jsonl")
    )
    assert applied.code == 3, applied.out + applied.err  # 3: a denied scope is incomplete
    assert "HttpTokensEnforced" not in defaults(factory, REGION)
    assert SKIPPED in " ".join(applied.out.split())
    assert all(i in applied.out for i in ids)


def _journal_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()


def test_an_instance_set_back_before_the_final_step_makes_the_gate_skip_enforcement(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed(factory, REGION, Group("web", 2, imdsv1_calls=0))
    plan = planned(cli, moto_url, tmp_path)
    assert REGION in _enforcing(plan)
    journal = tmp_path / "j.jsonl"
    argv = [
        sys.executable, "-c", CHILD, "apply", str(plan), "--endpoint-url", moto_url,
        "--journal", str(journal), "--soak", "4s", "--poll-interval", "1s", "--quiet",
    ]  # fmt: skip
    child = subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _journal_has(journal, '"type": "poll"'):
        assert child.poll() is None, "the rollout ended before its soak"
        assert time.monotonic() < deadline, "the rollout never reached its soak"
        time.sleep(0.05)
    # Someone sets one instance back to optional while the wave soaks.
    ec2 = factory.ec2(own(factory), REGION)
    ec2.modify_instance_metadata_options(InstanceId=ids[0], HttpTokens="optional")
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 1, out
    assert f"{SKIPPED}: 1 instance(s) ({ids[0]})" in " ".join(out.split())
    assert "HttpTokensEnforced" not in defaults(factory, REGION)

    # Put right again, --resume checks the Region again and enforces it.
    ec2.modify_instance_metadata_options(InstanceId=ids[0], HttpTokens="required")
    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", moto_url, "--quiet")
    assert resumed.code == 0, resumed.out + resumed.err
    assert defaults(factory, REGION)["HttpTokensEnforced"] == "enabled"
