"""``imdsguard status``: after apply, is each change still in place, and did anything break?"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.demo.launch_fleet import seed_launch_settings
from tests.conftest import OWN_ACCOUNT, CliResult, own, seed
from tests.faultproxy import FaultProxy, deny
from tests.remediation_helpers import put_rejected

REGION = "eu-west-1"
SCHEMA = json.loads(resources.files("imdsguard.report").joinpath("status.schema.json").read_text())


def _applied(
    factory: SessionFactory, url: str, cli: Callable[..., CliResult], tmp_path: Path, count: int = 2
) -> tuple[Path, list[str]]:
    """``count`` clean instances, all changed by one apply; the journal and the ids."""
    ids = seed(factory, REGION, Group("clean", count, imdsv1_calls=0))
    journal = tmp_path / "run.jsonl"
    applied = cli(
        "apply", "--yes", "--endpoint-url", url, "--regions", REGION,
        "--resources", "instances", "--journal", str(journal), "--quiet",
    )  # fmt: skip
    assert applied.code == 0, applied.out + applied.err
    return journal, ids


def _status(cli: Callable[..., CliResult], url: str, *journals: Path) -> tuple[int, Any]:
    """Run status as JSON, validated against its schema."""
    result = cli("status", *map(str, journals), "--endpoint-url", url, "--format", "json")
    doc = result.json()
    jsonschema.validate(doc, SCHEMA)
    return result.code, doc


def _by_id(doc: Any) -> dict[str, Any]:
    return {c["resource_id"]: c for c in doc["changes"]}


def test_every_change_in_place_is_exit_0_and_says_so(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, ids = _applied(factory, moto_url, cli, tmp_path)
    code, doc = _status(cli, moto_url, journal)
    assert code == 0
    assert {c["status"] for c in doc["changes"]} == {"in-place"}
    assert set(_by_id(doc)) == set(ids)
    assert doc["summary"]["verdict"] == "ok"
    assert all(c["rejections"]["rejections"] == "none" for c in doc["changes"])
    table = cli("status", str(journal), "--endpoint-url", moto_url)
    assert table.code == 0
    assert "OK: all 2 change(s) still in place" in table.out


def test_a_change_set_back_is_a_regression_with_what_it_has_now(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, ids = _applied(factory, moto_url, cli, tmp_path)
    factory.ec2(own(factory), REGION).modify_instance_metadata_options(
        InstanceId=ids[0], HttpTokens="optional", HttpEndpoint="enabled"
    )
    code, doc = _status(cli, moto_url, journal)
    assert code == 1
    rows = _by_id(doc)
    assert rows[ids[0]]["status"] == "regressed"
    assert "http_tokens required->optional" in rows[ids[0]]["now"]
    assert rows[ids[1]]["status"] == "in-place"
    assert doc["changes"][0]["resource_id"] == ids[0]  # what needs someone comes first
    table = cli("status", str(journal), "--endpoint-url", moto_url)
    assert table.code == 1
    assert "regressed" in table.out
    assert "ATTENTION: 1 change(s) SET BACK (IMDSv1 allowed again)" in table.out


def test_refused_imdsv1_calls_since_the_change_are_exit_1(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, ids = _applied(factory, moto_url, cli, tmp_path)
    put_rejected(factory, REGION, ids[1], datetime.now(UTC), 4.0)
    # Before the change IMDSv1 was allowed: nothing refused then can count.
    put_rejected(factory, REGION, ids[0], datetime.now(UTC) - timedelta(hours=2), 9.0)
    code, doc = _status(cli, moto_url, journal)
    assert code == 1
    rows = _by_id(doc)
    assert rows[ids[1]]["status"] == "in-place"
    assert rows[ids[1]]["rejections"]["rejections"] == "rejected"
    assert rows[ids[1]]["rejections"]["rejected_calls"] == 4.0
    assert rows[ids[0]]["rejections"]["rejections"] == "none"
    assert doc["summary"]["refused_calls"] == 4
    assert "4 IMDSv1 call(s) REFUSED on 1 instance(s)" in doc["summary"]["text"]


def _denied(
    action: str,
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp: Path,
) -> tuple[Path, int, Any]:
    """Apply, then deny ``action`` and run status: the journal, the exit code, the JSON."""
    journal, _ = _applied(factory, proxy.url, cli, tmp)
    proxy.rules.append(deny(action, frozenset({REGION})))
    return journal, *_status(cli, proxy.url, journal)


def test_unreadable_metrics_are_exit_3_never_clean(
    proxied_factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    _, code, doc = _denied("GetMetricData", proxied_factory, proxy, cli, tmp_path)
    assert code == 3
    assert {c["rejections"]["rejections"] for c in doc["changes"]} == {"unknown"}
    assert doc["summary"]["verdict"] == "incomplete"
    assert "UnauthorizedOperation" in doc["changes"][0]["rejections"]["error"]


def test_a_denied_describe_is_exit_3_and_never_in_place(
    proxied_factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    journal, code, doc = _denied("DescribeInstances", proxied_factory, proxy, cli, tmp_path)
    assert code == 3
    assert {c["status"] for c in doc["changes"]} == {"unreadable"}
    assert "in place" not in doc["summary"]["text"].split(";")[0]
    table = cli("status", str(journal), "--endpoint-url", proxy.url)
    assert table.code == 3
    assert "in-place" not in table.out
    assert "INCOMPLETE: 2 change(s) could not be checked" in table.out


def test_a_terminated_instance_is_gone_not_a_regression(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, ids = _applied(factory, moto_url, cli, tmp_path)
    factory.ec2(own(factory), REGION).terminate_instances(InstanceIds=[ids[0]])
    code, doc = _status(cli, moto_url, journal)
    assert code == 0
    rows = _by_id(doc)
    assert rows[ids[0]]["status"] == "gone"
    assert "terminated" in rows[ids[0]]["now"]
    assert "(1 resource(s) gone since)" in doc["summary"]["text"]


def test_a_rolled_back_change_is_not_checked_and_later_records_are_tolerated(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, _ = _applied(factory, moto_url, cli, tmp_path)
    with journal.open("a") as handle:  # a record type status has no use for (a rollout's)
        handle.write(json.dumps({"type": "soak-poll", "at": datetime.now(UTC).isoformat()}) + "\n")
    assert _status(cli, moto_url, journal)[0] == 0
    rolled = tmp_path / "rolled.jsonl"
    rolled.write_bytes(journal.read_bytes())
    rolled.write_text(
        "\n".join(line for line in rolled.read_text().splitlines() if "soak-poll" not in line)
        + "\n"
    )
    assert cli("rollback", str(rolled), "--endpoint-url", moto_url, "--quiet").code == 0
    code, doc = _status(cli, moto_url, rolled)
    assert code == 0
    assert doc["changes"] == []


def test_the_output_file_gets_the_format_and_stderr_the_summary(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, _ = _applied(factory, moto_url, cli, tmp_path, count=1)
    out = tmp_path / "status.json"
    result = cli(
        "status", str(journal), "--endpoint-url", moto_url, "--format", "json",
        "--output", str(out),
    )  # fmt: skip
    assert result.code == 0
    assert result.out == ""
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
    assert f"written to {out}" in result.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read journal"),
        ("", "is empty"),
        ('{"type": "header"\n{"type": "intent"}\n', "is corrupt"),
    ],
)
def test_a_missing_or_damaged_journal_is_one_line_and_exit_2(
    moto_url: str,
    cli: Callable[..., CliResult],
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    journal = tmp_path / "j.jsonl"
    if content is not None:
        journal.write_text(content)
    result = cli("status", str(journal), "--endpoint-url", moto_url)
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_launch_settings_set_back_are_regressions(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    seed_launch_settings(factory, own(factory), REGION)
    journal = tmp_path / "launch.jsonl"
    applied = cli(
        "apply", "--yes", "--endpoint-url", moto_url, "--regions", REGION, "--quiet",
        "--resources", "launch-templates,auto-scaling-groups,account-defaults",
        "--journal", str(journal),
    )  # fmt: skip
    assert applied.code in (0, 1), applied.out + applied.err  # the pinned version is held
    code, doc = _status(cli, moto_url, journal)
    assert code == 0, doc["summary"]
    assert {c["kind"] for c in doc["changes"]} == {"launch-template", "account-defaults"}
    [template] = [c for c in doc["changes"] if c["kind"] == "launch-template"]
    assert all(c["rejections"] is None for c in doc["changes"])  # instances only

    ec2 = factory.ec2(own(factory), REGION)
    ec2.modify_launch_template(LaunchTemplateId=template["resource_id"], DefaultVersion="1")
    ec2.modify_instance_metadata_defaults(HttpTokens="optional")
    code, doc = _status(cli, moto_url, journal)
    assert code == 1
    rows = {c["kind"]: c for c in doc["changes"]}
    assert rows["launch-template"]["status"] == "regressed"
    assert rows["launch-template"]["now"] == "default version 1, tokens optional"
    assert rows["account-defaults"]["status"] == "regressed"
    assert "HttpTokens required->optional" in rows["account-defaults"]["now"]


def test_other_accounts_are_entered_with_the_role_the_journal_recorded(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    other, role = "210987654321", "OrganizationAccountAccessRole"
    seed(factory, REGION, Group("mine", 1, imdsv1_calls=0))
    [theirs] = seed(factory, REGION, Group("theirs", 1, imdsv1_calls=0), account=other)
    journal = tmp_path / "j.jsonl"
    applied = cli(
        "apply", "--yes", "--endpoint-url", moto_url, "--regions", REGION, "--quiet",
        "--resources", "instances", "--accounts", f"{OWN_ACCOUNT},{other}",
        "--role-name", role, "--journal", str(journal),
    )  # fmt: skip
    assert applied.code == 0, applied.out + applied.err
    factory.ec2(factory.assume(other, role, None), REGION).modify_instance_metadata_options(
        InstanceId=theirs, HttpTokens="optional", HttpEndpoint="enabled"
    )
    code, doc = _status(cli, moto_url, journal)  # no --role-name: the plan's
    assert code == 1
    rows = _by_id(doc)
    assert (rows[theirs]["account_id"], rows[theirs]["status"]) == (other, "regressed")
    assert {c["status"] for c in doc["changes"] if c["resource_id"] != theirs} == {"in-place"}


def test_a_change_without_its_outcome_is_unfinished_and_exit_3(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    journal, ids = _applied(factory, moto_url, cli, tmp_path, count=1)
    header, intent = journal.read_text().splitlines()[:2]
    journal.write_text(f"{header}\n{intent}\n")  # killed after the intent
    code, doc = _status(cli, moto_url, journal)
    assert code == 3
    [row] = doc["changes"]
    assert (row["resource_id"], row["status"]) == (ids[0], "unfinished")
    assert f"apply --resume {journal}" in row["now"]


def test_a_rollout_journal_is_read_too(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed(factory, REGION, Group("clean", 2, imdsv1_calls=0))
    journal = tmp_path / "rollout.jsonl"
    applied = cli(
        "apply", "--yes", "--endpoint-url", moto_url, "--regions", REGION, "--quiet",
        "--resources", "instances", "--journal", str(journal),
        "--waves", "1,all", "--soak", "1s", "--poll-interval", "0.5s",
    )  # fmt: skip
    assert applied.code == 0, applied.out + applied.err
    assert json.loads(journal.read_text().splitlines()[0])["v"] == 2
    code, doc = _status(cli, moto_url, journal)
    assert code == 0
    assert set(_by_id(doc)) == set(ids)
