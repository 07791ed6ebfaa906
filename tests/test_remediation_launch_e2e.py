"""scan -> plan -> apply -> scan -> rollback for every launch-deciding kind, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.demo.launch_fleet import DEMO_AMI, create_template, seed_launch_settings
from tests.conftest import CliResult, own, seed
from tests.remediation_helpers import journal_records

REGION = "eu-west-1"


def seed_estate(factory: SessionFactory) -> dict[str, str]:
    """web-lt (default v1 optional, v2 required) with web-asg on $Default; api-lt
    compliant; batch-lt's optional v2 pinned by batch-asg; legacy-lc; two AMIs; unset
    account defaults; instances that all pass, but launch settings that do not, so
    --enforce is held."""
    seed_launch_settings(factory, own(factory), REGION)
    ec2 = factory.ec2(own(factory), REGION)
    templates = {t["LaunchTemplateName"]: t["LaunchTemplateId"] for t in templates_of(ec2)}
    factory.autoscaling(own(factory), REGION).create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        LaunchTemplate={"LaunchTemplateId": templates["web-lt"], "Version": "$Default"},
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    seed(factory, REGION, Group("web", 2, tokens="required"))
    return templates


def templates_of(ec2: Any) -> list[dict[str, Any]]:
    return list(ec2.describe_launch_templates(MaxResults=200)["LaunchTemplates"])


def template(ec2: Any, template_id: str) -> tuple[int, int]:
    [t] = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"]
    return t["DefaultVersionNumber"], t["LatestVersionNumber"]


def version(ec2: Any, template_id: str, number: int) -> dict[str, Any]:
    reply = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id, Versions=[str(number)]
    )
    [v] = reply["LaunchTemplateVersions"]
    return dict(v)


def defaults(ec2: Any) -> dict[str, Any]:
    return dict(ec2.get_instance_metadata_defaults()["AccountLevel"])


def images(ec2: Any) -> dict[str, str | None]:
    return {i["Name"]: i.get("ImdsSupport") for i in ec2.describe_images(Owners=["self"])["Images"]}


def statuses(result: CliResult) -> dict[tuple[str, str], str]:
    return {
        (f["resource_type"], f["name"] or f["resource_id"]): f["status"]
        for f in result.json()["findings"]
    }


def test_every_kind_passes_after_apply_and_rollback_restores_what_can_be(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed_estate(factory)
    ec2 = factory.ec2(own(factory), REGION)
    common = ("--endpoint-url", moto_url, "--regions", REGION)
    scan = ("scan", *common, "--strict-amis", "--format", "json")
    before = statuses(cli(*scan))
    assert before[("AwsEc2LaunchTemplate", "web-lt")] == "FAIL"
    assert before[("AwsEc2AccountImdsDefaults", f"imds-defaults/{REGION}")] == "FAIL"
    plan_path, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"

    planned = cli(
        "plan", *common, "--amis", "--enforce", "--container-hop-limit", "--output", str(plan_path)
    )
    assert planned.code == 1, planned.err  # the pinned version and the migrations remain
    doc = json.loads(plan_path.read_text())
    assert {(c["kind"], c["name"]) for c in doc["changes"]} == {
        ("launch-template", "web-lt"),
        ("account-defaults", None),
        ("image", "golden-2019"),
    }
    gate, pinned = doc["held"]
    assert (pinned["reason"], pinned["name"]) == ("pinned-version", "batch-lt")
    assert gate["reason"] == "enforce-not-ready"
    # web-lt and web-asg (on its $Default) fail at scan time, but this plan fixes them.
    assert gate["detail"]["why"] == (
        f"still allow IMDSv1: 1 launch template(s) ({ids['batch-lt']}); "
        "1 launch configuration(s) (legacy-lc); 2 Auto Scaling group(s) (batch-asg, legacy-asg)"
    )
    assert pinned["detail"]["groups"] == ["batch-asg"]
    migrations = {m["resource_id"]: m["detail"]["action"] for m in doc["migrations"]}
    assert migrations["legacy-lc"] == (
        "migrate launch configuration legacy-lc used by groups legacy-asg to a launch "
        "template with HttpTokens=required"
    )
    assert set(migrations) == {"legacy-lc", "legacy-asg", "batch-asg"}  # web-asg is fixed
    assert "migrate launch configuration legacy-lc" in planned.out

    applied = cli(
        "apply", str(plan_path), *common[:2], "--yes-irreversible", "--journal", str(journal)
    )
    assert applied.code == 1, applied.out + applied.err  # held and migrations are listed

    # web-lt: a new version 3 from v1's full data, made the default; nothing deleted.
    assert template(ec2, ids["web-lt"]) == (3, 3)
    new = version(ec2, ids["web-lt"], 3)["LaunchTemplateData"]
    assert new["ImageId"] == version(ec2, ids["web-lt"], 1)["LaunchTemplateData"]["ImageId"]
    assert new["InstanceType"] == "t3.micro"
    assert new["MetadataOptions"]["HttpTokens"] == "required"
    assert new["MetadataOptions"]["HttpEndpoint"] == "enabled"
    level = defaults(ec2)
    assert (level["HttpTokens"], level.get("HttpTokensEnforced")) == ("required", None)
    assert level["HttpPutResponseHopLimit"] == 2  # --container-hop-limit
    assert images(ec2)["golden-2019"] == "v2.0"
    outcome = next(
        r for r in journal_records(journal) if r["type"] == "outcome" and "lt-" in r["key"]
    )
    assert outcome["state"] == {"previous_default": 1, "created_version": 3}

    after = statuses(cli(*scan))
    still_failing = {key for key, status in after.items() if status == "FAIL"}
    assert still_failing == {
        ("AwsEc2LaunchTemplate", "batch-lt"),  # held: pinned-version
        ("AwsAutoScalingAutoScalingGroup", "batch-asg"),  # migration
        ("AwsAutoScalingAutoScalingGroup", "legacy-asg"),  # migration
        ("AwsAutoScalingLaunchConfiguration", "legacy-lc"),  # migration
    }
    assert after[("AwsAutoScalingAutoScalingGroup", "web-asg")] == "PASS"

    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert rolled.code == 0, rolled.out + rolled.err
    assert template(ec2, ids["web-lt"]) == (1, 3)  # the old default again, v3 kept
    assert defaults(ec2) == {"ManagedBy": "account"}  # unset again, not "optional"
    assert images(ec2)["golden-2019"] == "v2.0"
    assert "AWS cannot undo that, so rollback leaves them" in rolled.out
    again = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert again.code == 0
    rollback_intents = [r for r in journal_records(journal) if r["type"] == "rollback-intent"]
    assert len(rollback_intents) == 2  # template and defaults, once each; never the AMI


def test_rollback_leaves_a_default_someone_else_moved(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    template_id = create_template(ec2, "app-lt", "optional")
    journal = tmp_path / "j.jsonl"
    common = ("--endpoint-url", moto_url, "--regions", REGION)
    resources = ("--resources", "launch-templates")
    applied = cli("apply", "--yes", *common, *resources, "--journal", str(journal))
    assert applied.code == 0, applied.out + applied.err
    assert template(ec2, template_id) == (2, 2)
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": DEMO_AMI}
    )
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="3")
    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert rolled.code == 1
    assert "default is now version 3, not ours; left alone" in rolled.out
    assert template(ec2, template_id) == (3, 3)
