"""History end to end: `scan` stores, `history` lists, `diff` compares, against moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.cli import build_parser
from imdsguard.commands.common import history_path
from imdsguard.demo.fleet import Group
from imdsguard.demo.launch_fleet import create_template
from imdsguard.history.rows import scan_rows
from imdsguard.history.store import open_history
from imdsguard.model.scan import ScopeOutcome
from tests.conftest import CliResult, own, seed
from tests.faultproxy import FaultProxy, ProxyRequest, denied
from tests.test_history_rows import RESULT

Cli = Callable[..., CliResult]
REGION = "eu-west-1"


def scan(cli: Cli, url: str, *extra: str) -> CliResult:
    return cli(
        "scan", "--endpoint-url", url, "--regions", REGION, "--quiet",
        "--resources", "instances", *extra,
    )  # fmt: skip


def doc(result: CliResult) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(result.out)
    return parsed


def test_diff_puts_the_regression_first(
    factory: SessionFactory, moto_url: str, cli: Cli, history_db: Path
) -> None:
    web = seed(factory, REGION, Group("web", 2, tokens="required"))
    [legacy] = seed(factory, REGION, Group("legacy", 1))
    [gone] = seed(factory, REGION, Group("gone", 1, tokens="required"))
    assert scan(cli, moto_url, "--format", "json").code == 1
    ec2 = factory.ec2(own(factory), REGION)
    ec2.modify_instance_metadata_options(InstanceId=web[0], HttpTokens="optional")
    ec2.modify_instance_metadata_options(InstanceId=legacy, HttpTokens="required")
    ec2.terminate_instances(InstanceIds=[gone])
    [fresh] = seed(factory, REGION, Group("fresh", 1, tokens="required"))
    assert scan(cli, moto_url, "--format", "json").code == 1
    assert history_db.exists()

    table = cli("diff")
    assert table.code == 1
    lines = table.out.splitlines()
    assert "REGRESSION: 1 new failure" in lines[1]
    assert lines[2].startswith("REGRESSIONS: new failures (1)")
    assert table.out.index(web[0]) < table.out.index("Fixed (1)") < table.out.index(legacy)

    drift = doc(cli("diff", "--format", "json"))
    assert list(drift)[:2] == ["regressions", "incomplete"]
    assert (drift["regressions"], drift["incomplete"]) == (1, False)
    assert [c["resource_id"] for c in drift["new_failure"]] == [web[0]]
    assert drift["new_failure"][0]["before"]["status"] == "PASS"
    assert drift["new_failure"][0]["after"]["evidence"]["http_tokens"] == "optional"
    assert [c["resource_id"] for c in drift["fixed"]] == [legacy]
    assert [c["resource_id"] for c in drift["new"]] == [fresh]
    assert [c["resource_id"] for c in drift["vanished"]] == [gone]
    assert drift["unknown"] == []
    assert drift["scope_errors"] == []


def test_resources_of_an_unreadable_scope_are_unknown_not_vanished(
    factory: SessionFactory, moto_url: str, proxy: FaultProxy, cli: Cli
) -> None:
    [instance] = seed(factory, REGION, Group("web", 1, tokens="required"))
    assert scan(cli, moto_url).code == 0

    def deny(req: ProxyRequest) -> Any:
        return denied() if req.action == "DescribeInstances" else None

    proxy.rules.append(deny)
    assert scan(cli, proxy.url).code == 3
    result = cli("diff", "--format", "json")
    assert result.code == 3
    drift = doc(result)
    assert drift["incomplete"] is True
    assert drift["vanished"] == []
    assert [(c["resource_id"], c["note"]) for c in drift["unknown"]] == [
        (instance, "scope error in B")
    ]
    [scope] = drift["scope_errors"]
    assert (scope["change"], scope["region"], scope["error_before"]) == ("new", REGION, None)
    assert "UnauthorizedOperation" in scope["error_after"]


def test_history_lists_scans_newest_first(moto_url: str, cli: Cli) -> None:
    assert cli("history").code == 0
    for _ in range(3):
        scan(cli, moto_url)
    listed = doc(cli("history", "--format", "json", "--limit", "2"))["scans"]
    assert [s["id"] for s in listed] == [3, 2]
    assert listed[0]["summary"] == {"pass": 0, "fail": 0, "info": 0, "scope_errors": 0}
    assert listed[0]["scope"] == f"own account; regions {REGION}; endpoint {moto_url}"
    table = cli("history")
    assert (table.code, table.out.count(moto_url)) == (0, 3)


def test_no_history_stores_nothing(moto_url: str, cli: Cli, history_db: Path) -> None:
    assert scan(cli, moto_url, "--no-history").code == 0
    assert not history_db.exists()


def test_a_history_failure_warns_and_keeps_the_scan(
    factory: SessionFactory, moto_url: str, cli: Cli, tmp_path: Path
) -> None:
    seed(factory, REGION, Group("legacy", 1))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = scan(cli, moto_url, "--format", "json", "--db", str(blocker / "h.sqlite3"))
    assert result.code == 1  # the scan's own verdict
    assert doc(result)["summary"]["fail"] == 1
    [warning] = result.err.splitlines()
    assert warning.startswith("imdsguard: warning: scan not saved to history:")


def test_scan_and_demo_history_targets(tmp_path: Path, history_db: Path) -> None:
    parser = build_parser()
    assert history_path(parser.parse_args(["scan"])) == history_db
    assert history_path(parser.parse_args(["scan", "--no-history"])) is None
    assert history_path(parser.parse_args(["scan", "--db", "~/h.db"])) == Path.home() / "h.db"
    # The demo keeps sample data out of the real history unless asked.
    assert history_path(parser.parse_args(["demo"])) is None
    assert history_path(parser.parse_args(["demo", "--db", str(tmp_path)])) == tmp_path


def test_db_and_no_history_are_exclusive(cli: Cli) -> None:
    run = cli("scan", "--db", "x", "--no-history")
    assert run.code == 2
    assert "not allowed with argument" in run.err


@pytest.mark.slow
def test_demo_stores_only_where_told(cli: Cli, tmp_path: Path, history_db: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    assert cli("demo", "--quiet", "--format", "json", "--db", str(db)).code == 1
    with open_history(db, create=False) as history:
        [(_, scan_row)] = history.list_scans()
    assert scan_row.scope_description.startswith("organization; role ")
    assert not history_db.exists()


def _store(db: Path, *scope_errors: str | None) -> None:
    with open_history(db) as history:
        for error in scope_errors:
            outcome = ScopeOutcome("111111111111", "eu-west-1", error)
            history.save(scan_rows(replace(RESULT, scopes=(outcome,)), "stored"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "no history database"),
        (("1", "2"), "no history database"),
    ],
)
def test_diff_without_a_database_is_a_usage_error(
    cli: Cli, argv: tuple[str, ...], message: str
) -> None:
    result = cli("diff", *argv)
    assert result.code == 2
    [line] = result.err.splitlines()
    assert message in line


@pytest.mark.parametrize(
    ("stored", "argv", "expected"),
    [
        (1, (), (2, "need two scans")),
        (1, ("1",), (2, "need two scans")),
        (2, ("1", "7"), (2, "no scan #7")),
        (2, ("7",), (2, "no scan #7")),
        (2, (), (0, "")),
        (2, ("2", "1"), (0, "")),
    ],
)
def test_diff_scan_ids(
    cli: Cli, history_db: Path, stored: int, argv: tuple[str, ...], expected: tuple[int, str]
) -> None:
    code, message = expected
    _store(history_db, *([None] * stored))
    result = cli("diff", *argv)
    assert result.code == code
    assert message in result.err
    assert len(result.err.splitlines()) == (1 if message else 0)


def test_diff_exits_3_when_b_has_a_scope_error(cli: Cli, history_db: Path) -> None:
    _store(history_db, None, "AccessDenied")
    result = cli("diff")
    assert result.code == 3
    assert "INCOMPLETE" in result.out


def scan_kinds(cli: Cli, url: str, kinds: str, *extra: str) -> CliResult:
    return cli(
        "scan", "--endpoint-url", url, "--regions", REGION, "--quiet", "--format", "json",
        "--resources", kinds, *extra,
    )  # fmt: skip


def test_a_kind_b_did_not_scan_is_unknown_not_vanished(
    factory: SessionFactory, moto_url: str, cli: Cli
) -> None:
    seed(factory, REGION, Group("web", 1, tokens="required"))
    template = create_template(factory.ec2(own(factory), REGION), "legacy-lt", "optional")
    assert scan_kinds(cli, moto_url, "instances,launch-templates").code == 1
    assert scan_kinds(cli, moto_url, "instances").code == 0

    result = cli("diff", "--format", "json")
    assert result.code == 3
    drift = doc(result)
    assert drift["incomplete"] is True
    assert drift["vanished"] == []
    assert [(c["resource_id"], c["note"]) for c in drift["unknown"]] == [
        (template, "kind not scanned in B")
    ]
    assert drift["kind_coverage"] == [{"change": "unscanned", "kind": "launch-templates"}]
    assert drift["b"]["resources"] == ["instances"]
    assert drift["evaluation_changed"] == []
    table = cli("diff")
    assert table.code == 3
    assert "INCOMPLETE" in table.out
    assert "Resource kinds A read and B did not (1)" in table.out


FAIL_THEN_PASS = (("--imds-disabled", "fail"), ("--imds-disabled", "pass"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((("--strict-amis",), ()), ("strict_amis", "FAIL", "INFO", 0)),
        (((), ("--strict-amis",)), ("strict_amis", "INFO", "FAIL", 1)),
        (FAIL_THEN_PASS, ("imds_disabled", "FAIL", "PASS", 0)),
        (FAIL_THEN_PASS[::-1], ("imds_disabled", "PASS", "FAIL", 1)),
    ],
)
def test_verdicts_moved_by_evaluation_options_are_re_judged(
    factory: SessionFactory,
    moto_url: str,
    cli: Cli,
    options: tuple[tuple[str, ...], tuple[str, ...]],
    expected: tuple[str, str, str, int],
) -> None:
    a_options, b_options = options
    option, before, after, code = expected
    [bastion] = seed(factory, REGION, Group("bastion", 1, tokens="required", endpoint="disabled"))
    image = factory.ec2(own(factory), REGION).register_image(Name="golden-2019")["ImageId"]
    scan_kinds(cli, moto_url, "instances,amis", *a_options)
    scan_kinds(cli, moto_url, "instances,amis", *b_options)

    result = cli("diff", "--format", "json")
    assert result.code == code
    drift = doc(result)
    [changed] = drift["evaluation_changed"]
    assert changed["option"] == option
    assert drift["fixed"] == drift["new_failure"] == []
    [moved] = drift["re_judged"]
    assert moved["resource_id"] == (image if option == "strict_amis" else bastion)
    assert (moved["before"]["status"], moved["after"]["status"]) == (before, after)
    assert moved["note"].startswith(f"re-judged under different options: {option} A ")
    table = cli("diff")
    assert table.code == code
    assert "EVALUATION OPTIONS DIFFER" in table.out
    assert "Re-judged under different evaluation options" in table.out
