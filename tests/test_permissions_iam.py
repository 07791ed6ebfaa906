"""Least privilege, proven: the real CLI under exactly the generated policies, IAM enforced.

moto enforces IAM once INITIAL_NO_AUTH_ACTION_COUNT requests have been served; the setting
is read when moto's settings load, so this module runs its own moto server process (the
suite's shared one in conftest.py never enforces). The first BOOTSTRAP requests create an
admin user; everything after is signed and authorized, seeding included.

What moto's enforcement does not cover, said where it matters: it evaluates no identity
policy Condition (so the HttpTokens=required condition is checked in test_permissions.py,
not here); as AWS, it always allows sts:GetCallerIdentity; and it names CloudWatch's actions
after the SigV4 signing name, ``monitoring:``, where IAM says ``cloudwatch:`` (so the role
gets the generated policy in moto's spelling, and a denied GetMetricData comes from the
fault proxy, as AWS would send it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.demo.fleet import Group, seed_scope
from imdsguard.demo.launch_fleet import DEMO_AMI, seed_launch_settings
from imdsguard.model.kinds import KINDS
from imdsguard.options import PermissionsOptions
from imdsguard.permissions import actions_of, parts
from tests.conftest import OWN_ACCOUNT, CliResult
from tests.faultproxy import FaultProxy, denied

REGION = "us-east-1"
ROLE = "imdsguard-audit"
OTHER_ACCOUNT = "111111111111"
# CreateUser, PutUserPolicy, CreateAccessKey: the admin that seeds everything else.
BOOTSTRAP = 3
SERVER = (
    "import sys\n"
    "from imdsguard.demo.server import emulator\n"
    "with emulator() as url:\n"
    "    print(url, flush=True)\n"
    "    sys.stdin.read()\n"
)
# Everything a read-only run may call: Describe*, Get*, List*, plus entering accounts.
READ_ONLY = re.compile(r"^(Describe|Get|List)\w+$|^AssumeRole$")
# AWS authorizes GetCallerIdentity for everyone, even under an explicit Deny (STS API
# reference), so no policy can take it away: it is the one action not dropped below.
UNDENIABLE = frozenset({"sts:GetCallerIdentity"})


@dataclass
class Estate:
    url: str
    iam: Any
    sts: Any
    admin_arn: str


@pytest.fixture(scope="module")
def enforcing() -> Iterator[Estate]:
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP)}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        url = process.stdout.readline().decode().strip()
        yield _seed(url)
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def _seed(url: str) -> Estate:
    unsigned = boto3.client("iam", endpoint_url=url, region_name=REGION)
    user = unsigned.create_user(UserName="admin")["User"]
    admin = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    unsigned.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(admin))
    key = unsigned.create_access_key(UserName="admin")["AccessKey"]
    creds = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
        "aws_session_token": None,
    }
    iam = boto3.client("iam", endpoint_url=url, region_name=REGION, **creds)  # type: ignore[call-overload]
    sts = boto3.client("sts", endpoint_url=url, region_name=REGION, **creds)  # type: ignore[call-overload]
    with pytest.MonkeyPatch.context() as env:
        # The factory's own credentials are the admin's: it reads them from the environment
        # when its first client is made, and keeps them.
        env.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        env.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        factory = SessionFactory(endpoint_url=url, max_attempts=2)
        factory.identity()
    access = AccountAccess(OWN_ACCOUNT)
    groups = (
        Group("good", 1, tokens="required", imdsv1_calls=0),
        Group("legacy", 1, imdsv1_calls=0),
    )
    seed_scope(factory, access, REGION, groups)
    seed_launch_settings(factory, access, REGION, defaults_required=True)
    factory.autoscaling(access, REGION).create_launch_configuration(
        LaunchConfigurationName="good-lc",
        ImageId=DEMO_AMI,
        InstanceType="t3.micro",
        MetadataOptions={"HttpTokens": "required"},
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    return Estate(url, iam, sts, user["Arn"])


def _moto_spelling(statements: list[dict[str, Any]]) -> str:
    # moto checks "<signing name>:<operation>"; only CloudWatch's signing name differs.
    document = {"Version": "2012-10-17", "Statement": statements}
    return json.dumps(document).replace('"cloudwatch:', '"monitoring:')


def _as_role(
    estate: Estate, monkeypatch: pytest.MonkeyPatch, statements: list[dict[str, Any]]
) -> dict[str, str]:
    """Give the role exactly ``statements``; make the CLI run as it; return its credentials."""
    document = _moto_spelling(statements)
    estate.iam.put_role_policy(RoleName=ROLE, PolicyName="imdsguard", PolicyDocument=document)
    role_arn = f"arn:aws:iam::{OWN_ACCOUNT}:role/{ROLE}"
    creds = estate.sts.assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    return {k: str(v) for k, v in creds.items()}


def _policy(command: str, **kwargs: Any) -> list[dict[str, Any]]:
    return parts(PermissionsOptions(command=command, **kwargs)).statements  # type: ignore[arg-type]


def _without(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    result = []
    for s in statements:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        kept = [a for a in actions if a != action]
        if kept:
            result.append({**s, "Action": kept})
    return result


@pytest.fixture
def proxy(enforcing: Estate) -> Iterator[FaultProxy]:
    with FaultProxy(enforcing.url) as recording:
        yield recording


SCAN = ("scan", "--regions", REGION, "--format", "json", "--quiet", "--no-history")


def test_scan_and_plan_are_read_only(
    enforcing: Estate,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    _as_role(enforcing, monkeypatch, _policy("scan"))
    scan = cli(*SCAN, "--endpoint-url", proxy.url)
    assert scan.code == 1, scan.err  # FAILs, and every scope read
    document = scan.json()
    assert document["summary"]["scope_errors"] == 0
    passed = {f["resource_type"] for f in document["findings"] if f["status"] == "PASS"}
    assert passed == {k.resource_type for k in KINDS}  # every kind was really read
    plan = cli(
        "plan", "--regions", REGION, "--container-hop-limit", "--quiet",
        "--output", str(tmp_path / "plan.json"), "--endpoint-url", proxy.url,
    )  # fmt: skip
    assert plan.code in (0, 1), plan.out
    assert "AccessDenied" not in plan.out + plan.err
    called = {r.action for r in proxy.forwarded}
    assert "GetMetricData" in called
    assert {a for a in called if not READ_ONLY.match(a)} == set()


def test_apply_and_rollback_fit_the_remediation_policy(
    enforcing: Estate,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    _as_role(enforcing, monkeypatch, _policy("scan"))
    plan_path, journal = tmp_path / "plan.json", tmp_path / "run.jsonl"
    cli("plan", "--regions", REGION, "--include-unknown", "--quiet", "--output", str(plan_path),
        "--endpoint-url", proxy.url)  # fmt: skip
    planned = json.loads(plan_path.read_text())["changes"]
    assert {c["kind"] for c in planned} >= {"instance", "launch-template"}
    _as_role(enforcing, monkeypatch, _policy("apply"))
    proxy.forwarded.clear()
    applied = cli("apply", str(plan_path), "--journal", str(journal), "--endpoint-url", proxy.url)
    # 1: the pinned template and the migrations are held by design, never denied.
    assert applied.code == 1, applied.out + applied.err
    assert "Applied: 2 applied; 4 held" in applied.out
    # status only reads: the scan policy is enough, and nothing it calls writes.
    _as_role(enforcing, monkeypatch, _policy("scan"))
    start = len(proxy.forwarded)
    checked = cli("status", str(journal), "--endpoint-url", proxy.url)
    assert checked.code == 0, checked.out + checked.err
    called = {r.action for r in proxy.forwarded[start:]}
    assert {"DescribeInstances", "GetMetricData"} <= called
    assert {a for a in called if not READ_ONLY.match(a)} == set()
    # Rollback restores HttpTokens=optional, which only --rollback's policy allows on AWS
    # (moto ignores the condition, so the two differ here only in that statement).
    _as_role(enforcing, monkeypatch, _policy("apply", rollback=True))
    rolled = cli("rollback", str(journal), "--endpoint-url", proxy.url)
    assert rolled.code == 0, rolled.out + rolled.err
    called = {r.action for r in proxy.forwarded}
    assert {"ModifyInstanceMetadataOptions", "CreateLaunchTemplateVersion"} <= called


# For each action of the scan policy: the command that needs it, and what must become an
# error. ``None`` kinds: the whole account or scope fails (entering, listing).
SCAN_ACTIONS = sorted(actions_of(_policy("scan")) - UNDENIABLE)
SPECIAL: dict[str, tuple[str, ...]] = {
    "sts:AssumeRole": (*SCAN, "--accounts", f"{OWN_ACCOUNT},{OTHER_ACCOUNT}", "--role-name", ROLE),
    "organizations:ListAccounts": (*SCAN, "--organization", "--role-name", ROLE),
    # Without --regions, an account's Regions must be listed first.
    "ec2:DescribeRegions": ("scan", "--format", "json", "--quiet", "--no-history"),
}


def test_every_scan_action_is_dropped_below_but_the_undeniable() -> None:
    assert set(SCAN_ACTIONS) | UNDENIABLE == actions_of(_policy("scan"))


@pytest.mark.parametrize("action", SCAN_ACTIONS)
def test_a_missing_permission_fails_closed_and_names_itself(
    action: str,
    *,
    enforcing: Estate,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    statements = _policy("scan")
    if action == "cloudwatch:GetMetricData":
        # moto would deny monitoring:GetMetricData in a body botocore cannot parse.
        proxy.rules.append(
            lambda r: denied("AccessDenied") if r.action == "GetMetricData" else None
        )
    else:
        statements = _without(statements, action)
    _as_role(enforcing, monkeypatch, statements)
    if action == "cloudwatch:GetMetricData":
        plan = cli("plan", "--regions", REGION, "--quiet", "--output", str(tmp_path / "p.json"),
                   "--endpoint-url", proxy.url)  # fmt: skip
        assert plan.code == 3, plan.out
        assert action in plan.out
        changes = json.loads((tmp_path / "p.json").read_text())["changes"]
        assert not [c for c in changes if c["kind"] == "instance"]  # none without evidence
        return
    result = cli(*SPECIAL.get(action, SCAN), "--endpoint-url", proxy.url)
    assert result.code == 3, result.out + result.err
    document = result.json()
    errors = [s["error"] for s in document["scopes"] if s["error"]]
    assert errors
    assert all(action in e for e in errors), errors
    needing = {k.resource_type for k in KINDS if action in k.reads}
    passed = {f["resource_type"] for f in document["findings"] if f["status"] == "PASS"}
    assert not needing & passed
