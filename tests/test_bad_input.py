"""Bad input, as a user or a damaged file gives it: exit 2 and one plain line, never exit 4.

Plan files and TOML configs with the wrong types, bytes that are not UTF-8, nesting no
config has, values such as 1e400; instance ids that are not ids; a password in the
endpoint URL, which must never be printed or stored.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from imdsguard.model.kinds import INSTANCES
from imdsguard.model.remediation import Change, Plan
from imdsguard.model.scan import MetadataOptions, Scope
from imdsguard.plan import planfile
from tests.conftest import OWN_ACCOUNT, CliResult
from tests.faultproxy import FaultProxy

Cli = Callable[..., CliResult]
# Nothing listens here: a test that got past input checking would exit 3, not 2.
NOWHERE = "http://127.0.0.1:9"


def one_line_usage_error(result: CliResult, *fragments: str) -> None:
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("imdsguard: error: "), lines[0]
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- the TOML config --------------------------------------------------------------------

CONFIGS = [
    ("lookback_days = 1e400\n", "lookback_days must be an integer from 1 to 455, got inf"),
    ("lookback_days = inf\n", "lookback_days must be an integer from 1 to 455, got inf"),
    ('lookback_days = "14"\n', "lookback_days must be an integer from 1 to 455, got '14'"),
    ("lookback_days = 14.0\n", "lookback_days must be an integer from 1 to 455, got 14.0"),
    ("lookback_days = 0\n", "lookback_days must be an integer from 1 to 455, got 0"),
    ("hop_limit = 2.5\n", "hop_limit must be an integer from 1 to 64, got 2.5"),
    ("hop_limit = true\n", "hop_limit must be an integer from 1 to 64, got true"),
    ("hop_limit = 65\n", "hop_limit must be an integer from 1 to 64, got 65"),
    ('exclude_ids = "i-0123456789abcdef0"\n', "exclude_ids must be a list of instance ids"),
    ("exclude_ids = 5\n", "exclude_ids must be a list of instance ids"),
    ("exclude_ids = 2026-12-01\n", "exclude_ids must be a list of instance ids"),
    ("[exclude_ids]\na = 1\n", "exclude_ids must be a list of instance ids"),
    ('exclude_ids = ["web-1"]\n', "exclude_ids: 'web-1' is not an instance id"),
    ("exclude_ids = [1, 2]\n", "exclude_ids must be a list of instance ids"),
    ("[exclude_tag]\nowner = 1\n", "exclude_tag must be a table of strings"),
    ("exclude_tag = [1]\n", "exclude_tag must be a table of strings"),
    ('include_in_use = "yes"\n', "include_in_use must be true or false, got 'yes'"),
]


@pytest.mark.parametrize(("text", "message"), CONFIGS)
def test_config_values_of_the_wrong_type_are_one_line(
    text: str, message: str, cli: Cli, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    result = cli("plan", "--config", str(config), "--endpoint-url", NOWHERE)
    one_line_usage_error(result, f"config {config}: {message}")


def test_a_config_that_is_not_utf8(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b'exclude_ids = ["i-0123456789abcdef0"] # \xff\xfe\n')
    result = cli("plan", "--config", str(config), "--endpoint-url", NOWHERE)
    one_line_usage_error(result, "is not UTF-8 text")


def test_a_config_nested_too_deeply(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("exclude_ids = " + "[" * 5000 + "]" * 5000 + "\n")
    result = cli("plan", "--config", str(config), "--endpoint-url", NOWHERE)
    one_line_usage_error(result, "nested too deeply")


@pytest.mark.parametrize("value", ["web-1", "i-123", "i-0123456789ABCDEF0", "sg-01234567"])
def test_exclude_ids_flag_takes_only_instance_ids(value: str, cli: Cli) -> None:
    result = cli("plan", "--exclude-ids", f"i-0123456789abcdef0,{value}", "--endpoint-url", NOWHERE)
    one_line_usage_error(result, "is not an instance id")


# --- the plan file ----------------------------------------------------------------------


def valid_plan() -> dict[str, Any]:
    change = Change(
        INSTANCES.plan_kind,
        Scope("123456789012", "eu-west-1"),
        "i-0123456789abcdef0",
        MetadataOptions(),
        MetadataOptions(http_tokens="required"),
    )
    return planfile.plan_json(Plan(datetime(2026, 12, 1, tzinfo=UTC), 14, (change,)))


def broken(path: str, value: Any) -> dict[str, Any]:
    """The valid plan with the value at ``path`` (dotted, list indexes as numbers) replaced."""
    doc = valid_plan()
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return doc


PLANS = [
    (broken("lookback_days", float("inf")), "lookback_days must be a positive integer"),
    (broken("lookback_days", "14"), "lookback_days must be a positive integer"),
    (broken("changes", "i-0123456789abcdef0"), "changes must be a list"),
    (broken("changes.0", "i-0123456789abcdef0"), "changes[0]: a change must be an object"),
    (broken("changes.0.after.hop_limit", 2.5), "hop_limit must be an integer from 1 to 64"),
    (broken("changes.0.after.hop_limit", True), "hop_limit must be an integer from 1 to 64"),
    (broken("changes.0.after.http_tokens", "maybe"), "http_tokens must be one of"),
    (broken("changes.0.after", []), "settings must be an object"),
    (broken("changes.0.kind", "volume"), "unknown change kind 'volume'"),
    (broken("changes.0.region", 5), "region must be a non-empty string"),
    (broken("changes.0.evidence", "lots"), "evidence must be an object"),
    (broken("held", {"a": 1}), "held must be a list"),
    (broken("created_at", 17), "created_at must be a non-empty string"),
]


@pytest.mark.parametrize(("doc", "message"), PLANS)
def test_malformed_plan_files_are_one_line(
    doc: dict[str, Any], message: str, cli: Cli, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    # 1e400 and inf are what json writes for an infinite float: a real file could hold it.
    plan.write_text(json.dumps(doc))
    result = cli("apply", str(plan), "--endpoint-url", NOWHERE)
    one_line_usage_error(result, "malformed plan file", message)


def test_the_valid_plan_itself_gets_past_input_checking(cli: Cli, tmp_path: Path) -> None:
    # The control for the table above: the same plan unbroken is read, and apply goes on
    # to AWS (nothing listens there, so it stops at exit 3).
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(valid_plan()))
    result = cli("apply", str(plan), "--endpoint-url", NOWHERE, "--journal", str(tmp_path / "j"))
    assert result.code == 3, result.err


def test_a_plan_with_1e400_in_it(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(valid_plan()).replace('"lookback_days": 14', '"lookback_days": 1e400')
    )
    one_line_usage_error(cli("apply", str(plan), "--endpoint-url", NOWHERE), "lookback_days")


def test_a_plan_that_is_not_utf8(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(json.dumps(valid_plan()).encode().replace(b'"web"', b'"\xff"') + b"\xff")
    one_line_usage_error(cli("apply", str(plan), "--endpoint-url", NOWHERE), "not UTF-8 text")


def test_a_plan_nested_too_deeply(cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("[" * 100_000 + "]" * 100_000)
    one_line_usage_error(cli("apply", str(plan), "--endpoint-url", NOWHERE), "nested too deeply")


# --- secrets in the endpoint URL --------------------------------------------------------


def test_a_password_in_the_endpoint_url_is_never_printed_or_stored(
    cli: Cli, moto_url: str, history_db: Path
) -> None:
    with_password = moto_url.replace("http://", "http://auditor:s3cr3t-pw@")
    result = cli(
        "--debug", "scan", "--endpoint-url", with_password, "--regions", "eu-west-1",
        "--resources", "instances", "--quiet", "--format", "json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "s3cr3t-pw" not in result.out + result.err
    rows = sqlite3.connect(history_db).execute("SELECT * FROM scans").fetchall()
    assert rows
    assert "s3cr3t-pw" not in repr(rows)
    assert "http://***@127.0.0.1" in repr(rows)
    assert "s3cr3t-pw" not in history_db.read_bytes().decode("latin-1")
    history = cli("history")
    assert "s3cr3t-pw" not in history.out + history.err


def test_a_password_in_an_unreachable_endpoint_url_is_not_in_the_error(cli: Cli) -> None:
    result = cli(
        "--debug", "scan", "--endpoint-url", "http://auditor:s3cr3t-pw@127.0.0.1:9",
        "--regions", "eu-west-1",
    )  # fmt: skip
    assert result.code == 3
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("imdsguard: error: ConnectionError")
    assert "s3cr3t-pw" not in last


# --- the documentation's own examples ---------------------------------------------------

DOCS = [Path("README.md"), *sorted(Path("docs").glob("*.md"))]
EXAMPLES = sorted(
    {
        (str(doc), line.strip().split(" #")[0].strip())
        for doc in DOCS
        for line in doc.read_text().splitlines()
        if line.startswith("    imdsguard ")
    }
)


@pytest.mark.parametrize(("doc", "example"), EXAMPLES)
def test_every_documented_example_is_accepted_as_written(doc: str, example: str) -> None:
    """Each example parses, and its options construct (the checks that need no AWS)."""
    from imdsguard.cli import build_parser
    from imdsguard.commands.common import aws_options, scope_options
    from imdsguard.commands.remediation_args import rollout_options

    argv = shlex.split(example)[1:]
    args = build_parser().parse_args(argv)
    if hasattr(args, "regions"):
        scope_options(args)
    if hasattr(args, "waves"):
        rollout_options(args)
    if hasattr(args, "endpoint_url"):
        aws_options(args)


# --- accounts that cannot be entered ----------------------------------------------------


def test_accounts_other_than_the_callers_need_a_role_before_anything_is_read(
    cli: Cli, proxy: FaultProxy
) -> None:
    result = cli(
        "scan", "--endpoint-url", proxy.url, "--accounts", f"{OWN_ACCOUNT},111111111111",
        "--regions", "eu-west-1",
    )  # fmt: skip
    one_line_usage_error(result, "--accounts 111111111111", "needs --role-name")
    # Only the caller's identity was asked, to tell its own account from the others.
    assert {action for action, _ in proxy.calls} == {"GetCallerIdentity"}


def test_the_callers_own_account_needs_no_role(cli: Cli, moto_url: str) -> None:
    result = cli(
        "scan", "--endpoint-url", moto_url, "--accounts", OWN_ACCOUNT, "--regions", "eu-west-1",
        "--resources", "instances", "--quiet", "--no-history",
    )  # fmt: skip
    assert result.code == 0, result.err


def test_organization_needs_a_role(cli: Cli) -> None:
    one_line_usage_error(cli("scan", "--organization", "--endpoint-url", NOWHERE), "--role-name")
