"""Launch templates and account defaults under interruption, throttling, gating and policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.demo.launch_fleet import create_template
from tests.conftest import CliResult, own, seed
from tests.faultproxy import (
    Fault,
    FaultProxy,
    ProxyRequest,
    Reply,
    answer_dry_runs,
    rate_limit,
    throttle,
)
from tests.remediation_helpers import journal_records
from tests.test_remediation_launch_e2e import defaults, template

REGION = "eu-west-1"
CREATE = "CreateLaunchTemplateVersion"
SET_DEFAULT = "ModifyLaunchTemplate"
MODIFY_DEFAULTS = "ModifyInstanceMetadataDefaults"


def _refuse(action: str) -> Callable[[ProxyRequest], Fault | None]:
    """A non-retryable failure of ``action``: the run journals the change as failed."""

    def rule(req: ProxyRequest) -> Fault | None:
        return Fault(400, "IncorrectState", "injected") if req.action == action else None

    return rule


def _without_outcomes(journal: Path) -> None:
    """What a SIGKILL after the writes and before the outcome record leaves behind."""
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(x for x in lines if json.loads(x)["type"] != "outcome"))


@pytest.mark.parametrize("interruption", ["default-switch-failed", "killed-before-outcome"])
def test_resume_never_creates_a_second_template_version(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
    interruption: str,
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template_id = create_template(ec2, "app-lt", "optional", "required")
    journal = tmp_path / "j.jsonl"
    common = ("--endpoint-url", proxy.url, "--regions", REGION)
    argv = ("apply", "--yes", *common, "--resources", "launch-templates")
    if interruption == "default-switch-failed":
        proxy.rules.append(_refuse(SET_DEFAULT))
    first = cli(*argv, "--journal", str(journal))
    if interruption == "default-switch-failed":
        assert first.code == 1
        assert template(ec2, template_id) == (1, 3)  # created, not yet the default
        proxy.rules.clear()
    else:
        assert first.code == 0
        _without_outcomes(journal)

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url)

    assert resumed.code == 0, resumed.out + resumed.err
    assert proxy.calls[(CREATE, REGION)] == 1
    assert template(ec2, template_id) == (3, 3)
    [outcome] = [
        r for r in journal_records(journal)[-1:] if r["type"] == "outcome"
    ]  # the resumed run's
    assert outcome["outcome"] == "applied"
    assert outcome["reason"] == "written by the interrupted run"
    assert outcome["state"]["created_version"] == 3


def _throttle_first(action: str, count: int) -> Callable[[ProxyRequest], Fault | None]:
    seen = {"n": 0}

    def rule(req: ProxyRequest) -> Fault | None:
        if req.action != action:
            return None
        seen["n"] += 1
        return throttle() if seen["n"] <= count else None

    return rule


def test_throttled_template_and_defaults_writes_are_waited_out(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    ids = [create_template(ec2, f"app-{n}", "optional") for n in range(5)]
    # EC2's own buckets, made tiny: the creates and the defaults write are throttled for sure.
    proxy.rules += [
        rate_limit(CREATE, capacity=1, rate=2),
        _throttle_first(MODIFY_DEFAULTS, 2),
    ]
    result = cli(
        "apply",
        "--yes",
        "--endpoint-url",
        proxy.url,
        "--regions",
        REGION,
        "--resources",
        "launch-templates,account-defaults",
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert result.code == 0, result.out + result.err
    assert proxy.faults[(CREATE, REGION)] > 0
    assert proxy.faults[(MODIFY_DEFAULTS, REGION)] == 2
    assert all(template(ec2, t) == (2, 2) for t in ids)  # one new version each, no more
    assert defaults(ec2)["HttpTokens"] == "required"
    outcomes = [r["outcome"] for r in journal_records(tmp_path / "j.jsonl") if "outcome" in r]
    assert outcomes == ["applied"] * 6


def test_enforce_only_where_every_instance_passes(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    seed(factory, "us-east-1", Group("ready", 2, tokens="required"))
    [legacy] = seed(factory, REGION, Group("legacy", 1, imdsv1_calls=9))
    plan = tmp_path / "plan.json"
    common = ("--endpoint-url", moto_url, "--regions", f"us-east-1,{REGION}")
    planned = cli("plan", *common, "--enforce", "--output", str(plan))
    assert planned.code == 1
    doc = json.loads(plan.read_text())
    after = {c["region"]: c["state"]["after"] for c in doc["changes"]}
    assert after == {
        "us-east-1": {"HttpTokens": "required", "HttpTokensEnforced": "enabled"},
        REGION: {"HttpTokens": "required"},
    }
    [gate] = [h for h in doc["held"] if h["reason"] == "enforce-not-ready"]
    assert gate["region"] == REGION
    assert legacy in gate["detail"]["why"]

    applied = cli("apply", str(plan), *common[:2], "--journal", str(tmp_path / "j.jsonl"))
    assert applied.code == 1  # the held instance and the held enforcement
    enforced = defaults(factory.ec2(own(factory), "us-east-1"))
    assert enforced["HttpTokensEnforced"] == "enabled"
    level = defaults(factory.ec2(own(factory), REGION))
    assert (level["HttpTokens"], level.get("HttpTokensEnforced")) == ("required", None)


def test_enforce_after_the_launch_template_the_same_plan_fixes(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    seed(factory, REGION, Group("ready", 2, tokens="required"))
    ec2 = factory.ec2(own(factory), REGION)
    template_id = create_template(ec2, "app-lt", "optional")
    plan = tmp_path / "plan.json"
    common = ("--endpoint-url", moto_url, "--regions", REGION)
    planned = cli("plan", *common, "--enforce", "--output", str(plan))
    assert planned.code == 0, planned.out + planned.err
    doc = json.loads(plan.read_text())
    assert doc["held"] == []
    [both] = [c["state"]["after"] for c in doc["changes"] if c["kind"] == "account-defaults"]
    assert both == {"HttpTokens": "required", "HttpTokensEnforced": "enabled"}
    assert [c["resource_id"] for c in doc["changes"] if c["kind"] == "launch-template"] == [
        template_id
    ]
    # The plan table lists the template first and the enforcement last.
    rows = [line.lstrip() for line in planned.out.splitlines() if "last in Region" in line]
    assert [row.split()[0] for row in rows] == ["5", "6"], planned.out
    assert template_id in rows[0]

    journal = tmp_path / "j.jsonl"
    applied = cli("apply", str(plan), *common[:2], "--journal", str(journal))
    assert applied.code == 0, applied.out + applied.err
    assert defaults(ec2)["HttpTokensEnforced"] == "enabled"
    keys = [r["key"] for r in journal_records(journal) if r["type"] == "outcome"]
    assert [k.split("/")[2] for k in keys] == ["launch-template", "account-defaults"]


# The emulator always answers ManagedBy=account (moto has no declarative policies, see
# demo/moto_ext.py), so the proxy answers GetInstanceMetadataDefaults as AWS does for an
# account whose defaults an Organizations declarative policy manages.
MESSAGE = "Managed by your organization's declarative policy."
DECLARATIVE = (
    '<GetInstanceMetadataDefaultsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
    "<requestId>proxy</requestId><accountLevel><httpTokens>optional</httpTokens>"
    "<managedBy>declarative-policy</managedBy>"
    f"<managedExceptionMessage>{MESSAGE}</managedExceptionMessage>"
    "</accountLevel></GetInstanceMetadataDefaultsResponse>"
)


def test_declarative_policy_region_is_held_and_never_written(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    def managed(req: ProxyRequest) -> Reply | None:
        return Reply(DECLARATIVE) if req.action == "GetInstanceMetadataDefaults" else None

    proxy.rules.append(managed)
    common = ("--endpoint-url", proxy.url, "--regions", REGION)
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    planned = cli("plan", *common, "--resources", "account-defaults", "--output", str(plan))
    assert planned.code == 1
    doc = json.loads(plan.read_text())
    assert doc["changes"] == []
    [held] = doc["held"]
    assert held["reason"] == "declarative-policy"
    assert MESSAGE in held["detail"]["why"]
    assert "declarative-policy" in planned.out

    result = cli("apply", str(plan), *common[:2], "--journal", str(journal))
    assert result.code == 1, result.out + result.err
    assert "declarative-policy" in result.out
    assert proxy.calls[(MODIFY_DEFAULTS, REGION)] == 0
    assert not [r for r in journal_records(journal) if r["type"] == "intent"]


def test_check_permissions_probes_each_kind_once_without_writing(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    ids = [create_template(ec2, f"app-{n}", "optional") for n in range(2)]
    proxy.rules.append(answer_dry_runs(denied_regions=frozenset({"us-east-1"})))
    create_template(factory.ec2(own(factory), "us-east-1"), "denied-lt", "optional")
    result = cli(
        "apply",
        "--yes",
        "--check-permissions",
        "--endpoint-url",
        proxy.url,
        "--regions",
        f"{REGION},us-east-1",
        "--resources",
        "launch-templates,account-defaults",
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert result.code == 3  # us-east-1 refused the probe
    assert "permission check failed" in result.out
    # One DryRun per kind per scope, answered by the proxy: none reached the emulator.
    assert proxy.faults[(SET_DEFAULT, REGION)] == 1
    assert proxy.faults[(MODIFY_DEFAULTS, REGION)] == 1
    assert not [r for r in proxy.forwarded if r.param("DryRun") == "true"]
    assert all(template(ec2, t) == (2, 2) for t in ids)
    assert defaults(ec2)["HttpTokens"] == "required"
    assert proxy.calls[(CREATE, "us-east-1")] == 0
    assert "HttpTokens" not in defaults(factory.ec2(own(factory), "us-east-1"))


def test_changes_made_by_others_are_drift_never_overwritten(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template_id = create_template(ec2, "app-lt", "optional", "optional")
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    common = ("--endpoint-url", moto_url, "--regions", REGION)
    kinds = ("--resources", "launch-templates,account-defaults")
    assert cli("plan", *common, *kinds, "--output", str(plan)).code == 0
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")

    applied = cli("apply", str(plan), *common[:2], "--journal", str(journal))
    assert applied.code == 1
    assert "default version changed since the plan: 1->2" in applied.out
    assert template(ec2, template_id) == (2, 2)  # no version created

    ec2.modify_instance_metadata_defaults(HttpTokens="optional")  # someone, after us
    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert rolled.code == 1
    assert "changed since apply; left alone" in rolled.out
    assert defaults(ec2)["HttpTokens"] == "optional"
