"""The command line as a user meets it: exit codes, the JSON schema, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.resources import files

import jsonschema
import pytest

from imdsguard import __version__
from imdsguard.aws.session import SessionFactory
from imdsguard.cli import build_parser
from imdsguard.demo.fleet import Group
from tests.conftest import CliResult, seed

Cli = Callable[..., CliResult]
SCHEMA = json.loads(files("imdsguard.report").joinpath("scan.schema.json").read_text())


def scan(cli: Cli, url: str, *extra: str) -> CliResult:
    """Instances only: these tests are about the instance verdicts and the CLI contract."""
    return cli(
        "scan", "--endpoint-url", url, "--regions", "eu-west-1", "--quiet",
        "--resources", "instances", *extra,
    )  # fmt: skip


def test_exit_0_when_everything_passes(factory: SessionFactory, moto_url: str, cli: Cli) -> None:
    seed(
        factory,
        "eu-west-1",
        Group("ok", 2, tokens="required"),
        Group("off", 1, endpoint="disabled"),
    )
    run = scan(cli, moto_url)
    assert run.code == 0, run.err
    assert "3 pass, 0 fail" in run.out


def test_exit_1_when_something_fails(factory: SessionFactory, moto_url: str, cli: Cli) -> None:
    seed(factory, "eu-west-1", Group("ok", 1, tokens="required"), Group("v1", 1))
    assert scan(cli, moto_url).code == 1


def test_imds_disabled_policy_fail(factory: SessionFactory, moto_url: str, cli: Cli) -> None:
    seed(factory, "eu-west-1", Group("off", 1, endpoint="disabled"))
    assert scan(cli, moto_url).code == 0
    assert scan(cli, moto_url, "--imds-disabled", "fail").code == 1


def test_json_document_matches_schema(factory: SessionFactory, moto_url: str, cli: Cli) -> None:
    seed(
        factory,
        "eu-west-1",
        Group("web", 1, tokens="required", role=True),
        Group("v1", 1),
        Group("stopped", 1, then="stop"),
    )
    run = scan(cli, moto_url, "--format", "json")
    doc = run.json()
    jsonschema.validate(doc, SCHEMA)
    assert doc["tool"] == {"name": "imdsguard", "version": __version__}
    assert doc["summary"] == {"pass": 1, "fail": 2, "info": 0, "scope_errors": 0}
    stopped = [f for f in doc["findings"] if f["name"] == "stopped"]
    assert stopped[0]["instance_state"] == "stopped"


def test_schema_rejects_an_error_scope_without_reason() -> None:
    bad = {
        "schema_version": "1.0",
        "tool": {"name": "imdsguard", "version": "x"},
        "generated_at": "2026-01-01T00:00:00+00:00",
        "scopes": [
            {"account_id": "123456789012", "region": "eu-west-1", "status": "error",
             "error": None, "instances": 0}
        ],
        "findings": [],
        "summary": {"pass": 0, "fail": 0, "scope_errors": 1},
    }  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_output_file(factory: SessionFactory, moto_url: str, cli: Cli, tmp_path: object) -> None:
    seed(factory, "eu-west-1", Group("v1", 1))
    target = f"{tmp_path}/scan.json"
    run = scan(cli, moto_url, "--format", "json", "--output", target)
    assert run.code == 1
    assert run.out == ""
    with open(target, encoding="utf-8") as handle:
        assert json.load(handle)["summary"]["fail"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "--regions", "mars-north-1"], "unknown Region name(s): mars-north-1"),
        (["scan", "--accounts", "12345"], "malformed account id '12345'"),
        (["scan", "--accounts", "123456789012", "--role-name", "bad role!"], "bad role name"),
        (["scan", "--profile", "no-such-profile"], "unknown AWS profile: no-such-profile"),
        (["scan", "--max-workers", "0"], "--max-workers: must be at least 1"),
        (["scan", "--organization", "--accounts", "123456789012"], "mutually exclusive"),
        (["frobnicate"], "invalid choice"),
        (["scan", "--endpoint-url", "notaurl"], "bad --endpoint-url 'notaurl'"),
        (["scan", "--role-session-name", "x"], "bad --role-session-name 'x'"),
        (["scan", "--duration-seconds", "899"], "--duration-seconds must be 900..43200"),
        (["scan", "--output", "/nonexistent-dir/scan.json"], "cannot write /nonexistent-dir"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, cli: Cli) -> None:
    run = cli(*argv)
    assert run.code == 2
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert message in lines[0]
    assert "Traceback" not in run.err


def test_no_credentials_is_one_line_and_exit_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, moto_url: str
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    run = scan(cli, moto_url)
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        "imdsguard: error: no AWS credentials found: set a profile (--profile), environment "
        "variables, SSO or an instance role"
    ]


def test_unreachable_endpoint_is_exit_3_not_a_traceback(cli: Cli) -> None:
    run = cli("scan", "--endpoint-url", "http://127.0.0.1:9", "--regions", "eu-west-1")
    assert run.code == 3
    assert "Traceback" not in run.err
    assert run.err.startswith("imdsguard: error: ConnectionError")


def test_debug_shows_the_traceback_and_keeps_the_exit_code(cli: Cli) -> None:
    plain = cli("scan", "--regions", "mars-north-1")
    debug = cli("--debug", "scan", "--regions", "mars-north-1")
    assert plain.code == debug.code == 2
    assert "Traceback" not in plain.err
    assert "Traceback (most recent call last)" in debug.err
    assert debug.err.rstrip().endswith(plain.err.rstrip())


def test_debug_keeps_exit_3_for_an_unreachable_endpoint(cli: Cli) -> None:
    run = cli("--debug", "scan", "--endpoint-url", "http://127.0.0.1:9", "--regions", "eu-west-1")
    assert run.code == 3
    assert "Traceback" in run.err


def test_every_command_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        result = subprocess.run(
            [sys.executable, "-m", "imdsguard", name, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, name
        assert "usage: imdsguard" in result.stdout


def test_version_via_python_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imdsguard", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert result.stdout.strip() == f"imdsguard {__version__}"


def test_standard_aws_endpoint_url_variable_is_honoured(
    factory: SessionFactory, moto_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    [instance] = seed(factory, "eu-west-1", Group("v1", 1))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    run = cli("scan", "--regions", "eu-west-1", "--resources", "instances", "--format", "json")
    assert run.code == 1
    assert [f["resource_id"] for f in run.json()["findings"]] == [instance]
