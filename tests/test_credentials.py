"""Assumed-role credentials (aws/session.py): refreshed before they expire, assumed once per
account, and the --role-session-name / --duration-seconds options."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.session
import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.cli import build_parser
from imdsguard.collect.accounts import account_access
from imdsguard.commands.common import aws_options
from imdsguard.demo.fleet import Group
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import CliResult, seed
from tests.faultproxy import FaultProxy, ProxyRequest, ShortSessions, delay, denied

Cli = Callable[..., CliResult]
OTHER = "222222222222"
ROLE = "OrganizationAccountAccessRole"
REGIONS = ("eu-west-1", "us-east-1", "eu-central-1")


def scan_other(cli: Cli, proxy: FaultProxy, *extra: str) -> CliResult:
    return cli(
        "scan",
        "--endpoint-url",
        proxy.url,
        "--accounts",
        OTHER,
        "--role-name",
        ROLE,
        "--regions",
        "eu-west-1",
        "--format",
        "json",
        "--no-history",
        "--quiet",
        *extra,
    )


def assume_role_requests(proxy: FaultProxy) -> list[ProxyRequest]:
    return [r for r in proxy.forwarded if r.action == "AssumeRole"]


def test_a_scan_outlives_its_short_sessions_by_refreshing_them(
    cli: Cli, factory: SessionFactory, proxy: FaultProxy
) -> None:
    seed(factory, "eu-west-1", Group("web", 2), account=OTHER)
    short = ShortSessions(seconds=2.0)
    signed: list[tuple[float, str]] = []  # (when, access key) of every call but STS's

    def record(req: ProxyRequest) -> None:
        if req.service != "sts":
            signed.append((time.monotonic(), req.access_key))

    proxy.rules[:0] = [record, short.rule]
    proxy.rewrites.append(short.rewrite)
    # The scan lasts past the first session's expiry: calls after this one need a new one.
    proxy.rules.append(delay("DescribeInstances", 2.5))

    run = scan_other(cli, proxy)

    doc = run.json()
    assert [(s["region"], s["status"], s["error"]) for s in doc["scopes"]] == [
        ("eu-west-1", "ok", None)
    ]
    instances = [f["status"] for f in doc["findings"] if f["resource_type"] == "AwsEc2Instance"]
    assert instances == ["FAIL", "FAIL"]
    assert short.expired == 0, "a call was signed with expired credentials"
    assert len(short.issued) > 1
    first_key, first_deadline = short.issued[0]
    late = [key for when, key in signed if when > first_deadline]
    assert late, "nothing was called after the first session expired"
    assert first_key not in late
    assert set(late) <= {key for key, _ in short.issued[1:]}
    for key, _ in short.issued:
        assert key not in run.out + run.err


def test_a_refresh_that_fails_is_an_assume_role_scope_error(cli: Cli, proxy: FaultProxy) -> None:
    short = ShortSessions(seconds=2.0)
    answered: list[ProxyRequest] = []

    def deny_refresh(req: ProxyRequest) -> Any:
        if req.action != "AssumeRole":
            return None
        answered.append(req)
        return denied("AccessDenied") if len(answered) > 1 else None

    proxy.rules[:0] = [short.rule, deny_refresh]
    proxy.rewrites.append(short.rewrite)

    run = scan_other(cli, proxy, "--resources", "instances")

    assert run.code == 3
    assert "Traceback" not in run.err
    (scope,) = run.json()["scopes"]
    assert scope["status"] == "error"
    assert scope["error"].startswith("instances: AccessDenied on AssumeRole: ")
    assert len(answered) > 1


def test_an_account_is_assumed_once_and_adds_no_botocore_session(
    proxy: FaultProxy, proxied_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[botocore.session.Session] = []

    class Counted(botocore.session.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(botocore.session, "Session", Counted)
    proxied_factory.identity()
    # As apply enters the account once per scope, several at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        entered = list(
            pool.map(lambda _: account_access(proxied_factory, OTHER, ROLE, None), range(8))
        )
    assert len(set(entered)) == 1
    access = entered[0]
    for region in REGIONS:
        proxied_factory.ec2(access, region).describe_instances()
    result = run_scan(
        proxied_factory,
        ScopeOptions(regions=REGIONS, accounts=(OTHER,), role_name=ROLE),
        EvaluationOptions(),
    )

    assert [s.error for s in result.scopes] == [None, None, None]
    assert len(assume_role_requests(proxy)) == 1
    # An entered account adds only its credentials: every client comes from the one
    # base session, whose models and client classes it shares.
    assert created == []
    caller = next(r.access_key for r in proxy.forwarded if r.action == "GetCallerIdentity")
    keys = {r.access_key for r in proxy.forwarded if r.service == "ec2"}
    assert len(keys) == 1
    assert caller not in keys


def test_role_session_name_and_duration_reach_assume_role(cli: Cli, proxy: FaultProxy) -> None:
    assert scan_other(cli, proxy, "--resources", "instances").code == 0
    (default,) = assume_role_requests(proxy)
    assert (default.param("RoleSessionName"), default.param("DurationSeconds")) == (
        "imdsguard",
        None,
    )
    proxy.forwarded.clear()
    run = scan_other(
        cli,
        proxy,
        "--resources",
        "instances",
        "--role-session-name",
        "audit@example.com",
        "--duration-seconds",
        "900",
    )
    assert run.code == 0
    (chosen,) = assume_role_requests(proxy)
    assert (chosen.param("RoleSessionName"), chosen.param("DurationSeconds")) == (
        "audit@example.com",
        "900",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["apply", "plan.json"],
        ["rollback", "journal.jsonl"],
        ["plan"],
        ["scan"],
    ],
)
def test_every_command_with_a_role_takes_the_session_options(argv: list[str]) -> None:
    args = build_parser().parse_args(
        [*argv, "--role-session-name", "ops-1", "--duration-seconds", "3600"]
    )
    options = aws_options(args)
    assert (options.role_session_name, options.duration_seconds) == ("ops-1", 3600)
    assert args.role_name is None
