"""Replies that look successful but are not AWS's answer: never "nothing there".

botocore parses an empty, cut-off or foreign HTTP 200 into an empty result; moto never
sends one, so the loopback fault proxy spoils moto's real answers (its headers, request
id included, stay as they were). Every operation the scan and the plan call, times every
kind of bad reply, must end in the ground truth or in that scope reported as an error:
never a silent loss, never exit 4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from imdsguard.aws import replies
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.demo.fleet import DEMO_ROLE, Group, seed_scope
from imdsguard.demo.launch_fleet import seed_launch_settings
from tests.conftest import CliResult, own, seed
from tests.faultproxy import BAD_REPLIES, FaultProxy, ProxyRequest, Reply, bad_reply

Cli = Callable[..., CliResult]
REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The retries of a bad reply still happen (and are counted); only the sleep goes.
    monkeypatch.setattr(replies, "_BACKOFF", 0.0)


# --- the botocore behaviour aws/replies.py relies on ------------------------------------


def raw_ec2(url: str) -> Any:
    return boto3.Session(region_name=REGION).client(
        "ec2", endpoint_url=url, config=SessionFactory(endpoint_url=url).config
    )


def test_botocore_reads_a_foreign_200_as_an_empty_answer(proxy: FaultProxy) -> None:
    """The fail-open behaviour the rule exists for: without it, nothing is there."""
    proxy.rewrites.append(bad_reply("foreign-xml", "DescribeInstances"))
    reply = raw_ec2(proxy.url).describe_instances()
    assert reply.get("Reservations", []) == []


def test_botocore_reads_an_empty_200_from_a_json_service_as_an_empty_answer(
    proxy: FaultProxy,
) -> None:
    proxy.rewrites.append(bad_reply("empty", "ListAccounts"))
    client = boto3.Session(region_name="us-east-1").client("organizations", endpoint_url=proxy.url)
    assert client.list_accounts().get("Accounts", []) == []


def test_the_rule_fails_the_call_after_a_bounded_number_of_tries(proxy: FaultProxy) -> None:
    proxy.rewrites.append(bad_reply("empty", "DescribeInstances"))
    client = raw_ec2(proxy.url)
    replies.install(client)
    with pytest.raises(ClientError) as caught:
        client.describe_instances()
    error = caught.value.response["Error"]
    assert error["Code"] == replies.CODE
    port = proxy.url.rsplit(":", 1)[1]
    assert error["Message"] == (
        f"reply from 127.0.0.1:{port} is not an EC2 DescribeInstances response "
        f"(empty body), {replies.ATTEMPTS} times"
    )
    # Our retries, ahead of botocore's (which would not retry an HTTP 200 at all).
    assert proxy.calls[("DescribeInstances", REGION)] == replies.ATTEMPTS


def test_one_bad_reply_is_retried_through(factory: SessionFactory, proxy: FaultProxy) -> None:
    [instance] = seed(factory, REGION, Group("a", 1))
    proxy.rewrites.append(bad_reply("foreign-xml", "DescribeInstances", times=1))
    client = raw_ec2(proxy.url)
    replies.install(client)
    reply = client.describe_instances()
    assert [i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"]] == [instance]
    assert proxy.calls[("DescribeInstances", REGION)] == 2


def test_real_error_replies_still_reach_botocores_own_retries(proxy: FaultProxy) -> None:
    # A throttle is not a bad reply: standard mode retries it, as before.
    from tests.faultproxy import throttle
    from tests.test_faults import first_n

    proxy.rules.append(first_n(2, "DescribeInstances", throttle, REGION))
    client = raw_ec2(proxy.url)
    replies.install(client)
    client.describe_instances()
    assert proxy.faults[("DescribeInstances", REGION)] == 2


# --- the fault matrix -------------------------------------------------------------------

# (operation, what to run): the scan's calls, and the plan's own.
SCAN_OPERATIONS = (
    "GetCallerIdentity",
    "ListAccounts",
    "AssumeRole",
    "DescribeRegions",
    "DescribeInstances",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
    "DescribeAutoScalingGroups",
    "DescribeLaunchConfigurations",
    "DescribeImages",
    "GetInstanceMetadataDefaults",
)
PLAN_OPERATIONS = ("GetMetricData",)


@pytest.fixture(scope="module")
def estate(moto_server: str) -> str:
    """An organization of two accounts with every kind in one Region, seeded once."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=30
    ).read()
    factory = SessionFactory(endpoint_url=moto_server, max_attempts=3)
    org = factory.organizations()
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="workloads", Email="w@example.com")
    own = AccountAccess(factory.identity().account_id)
    other = factory.assume(member["CreateAccountStatus"]["AccountId"], DEMO_ROLE, None)
    for access in (own, other):
        seed_scope(
            factory,
            access,
            REGION,
            (Group("ok", 2, tokens="required", imdsv1_calls=0), Group("v1", 2, imdsv1_calls=0)),
        )
    seed_launch_settings(factory, own, REGION, defaults_required=True)
    return moto_server


@pytest.fixture(scope="module")
def truth(estate: str) -> dict[str, Any]:
    """The scan and the plan with nothing spoiled."""
    from imdsguard.cli import main

    def capture(command: str) -> Any:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["--debug", *run_argv(estate, command)])
        return json.loads(out.getvalue())

    return {"scan": capture("scan"), "plan": capture("plan")}


def run_argv(url: str, command: str) -> list[str]:
    extra = ["--format", "json", "--no-history"] if command == "scan" else ["--output", "-"]
    return [
        command, "--endpoint-url", url, "--organization", "--role-name", DEMO_ROLE,
        "--regions", REGION, "--quiet", *extra,
    ]  # fmt: skip


def keyed(findings: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    return {(f["account_id"], f["region"], f["resource_id"]): f["status"] for f in findings}


def test_the_ground_truth_has_every_kind_in_both_accounts(truth: dict[str, Any]) -> None:
    scan = truth["scan"]
    assert scan["summary"]["scope_errors"] == 0
    assert {f["account_id"] for f in scan["findings"]} == {s["account_id"] for s in scan["scopes"]}
    assert len({s["account_id"] for s in scan["scopes"]}) == 2
    # Every kind was scanned, and every kind has something to lose in the matrix below.
    assert len(scan["scan_options"]["resources"]) == 6
    assert len({f["resource_type"] for f in scan["findings"]}) == 6
    assert truth["plan"]["changes"]


@pytest.mark.parametrize("kind", BAD_REPLIES)
@pytest.mark.parametrize("operation", SCAN_OPERATIONS)
def test_scan_never_loses_a_resource_silently(
    operation: str, kind: str, estate: str, truth: dict[str, Any], cli: Cli
) -> None:
    with FaultProxy(estate) as proxy:
        proxy.rewrites.append(bad_reply(kind, operation))
        result = cli(*run_argv(proxy.url, "scan"))
        assert any(action == operation for action, _ in proxy.calls), "never called"
    assert "Traceback" not in result.err
    if not result.out:
        # Nothing could be scanned at all (the caller's identity): one plain line, exit 3.
        assert result.code == 3, result.err
        [line] = result.err.strip().splitlines()
        assert line.startswith("imdsguard: error: NotAnAwsAnswer"), line
        return
    doc = json.loads(result.out)
    got = keyed(doc["findings"])
    if got == keyed(truth["scan"]["findings"]) and not doc["summary"]["scope_errors"]:
        # Read completely after all, e.g. named Regions need no DescribeRegions answer.
        assert result.code == 1, result.err
        return
    assert result.code == 3, (operation, kind, result.err)
    errors = {(s["account_id"], s["region"]): s["error"] for s in doc["scopes"] if s["error"]}
    assert errors, "a bad reply must show as a scope error"
    assert all(replies.CODE in e for e in errors.values()), errors
    unlisted = any("cannot list accounts" in e for e in errors.values())
    for (account, region, resource), status in keyed(truth["scan"]["findings"]).items():
        if (account, region, resource) in got:
            assert got[(account, region, resource)] == status
        else:
            # Missing only where the output says its scope (or account, or the account
            # listing) is incomplete.
            assert unlisted or (account, region) in errors or (account, "*") in errors, resource


@pytest.mark.parametrize("kind", BAD_REPLIES)
def test_plan_never_plans_on_evidence_it_could_not_read(
    kind: str, estate: str, truth: dict[str, Any], cli: Cli
) -> None:
    with FaultProxy(estate) as proxy:
        proxy.rewrites.append(bad_reply(kind, "GetMetricData"))
        result = cli(*run_argv(proxy.url, "plan"))
    assert result.code == 3, result.err
    doc = json.loads(result.out)
    truth_instances = {
        c["resource_id"] for c in truth["plan"]["changes"] if c["kind"] == "instance"
    }
    assert truth_instances
    planned = {c["resource_id"] for c in doc["changes"] if c["kind"] == "instance"}
    assert not planned, "no instance may be changed on unread evidence"
    held = {h["resource_id"]: h["reason"] for h in doc["held"]}
    assert all(held[i] == "usage-unknown" for i in truth_instances)
    assert any(replies.CODE in e["error"] for e in doc["scope_errors"])


def test_a_single_bad_reply_per_operation_costs_nothing(
    estate: str, truth: dict[str, Any], cli: Cli
) -> None:
    """A flaky proxy must not cost a whole Region: one bad reply of each call is retried."""
    with FaultProxy(estate) as proxy:
        for operation in SCAN_OPERATIONS:
            proxy.rewrites.append(bad_reply("truncated", operation, times=1))
        result = cli(*run_argv(proxy.url, "scan"))
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert doc["summary"] == truth["scan"]["summary"]
    assert keyed(doc["findings"]) == keyed(truth["scan"]["findings"])


def paged_accounts(req: ProxyRequest, body: bytes) -> bytes:
    """ListAccounts in two pages, as AWS answers (20 a page); moto answers in one."""
    if req.action != "ListAccounts":
        return body
    if b"NextToken" not in req.body:
        doc = json.loads(body)
        return json.dumps({"Accounts": doc["Accounts"][:1], "NextToken": "page-2"}).encode()
    return body


def test_organization_listing_cut_off_on_page_two_is_an_error(
    factory: SessionFactory, proxy: FaultProxy, cli: Cli
) -> None:
    factory.organizations().create_organization(FeatureSet="ALL")
    proxy.rewrites.append(paged_accounts)
    # Page 2 never reaches moto (it knows no such token): a JSON body cut off mid-way.
    proxy.rules.append(
        lambda req: (
            Reply('{"Accounts": [{"Id": "2222', content_type="application/x-amz-json-1.1")
            if req.action == "ListAccounts" and b"NextToken" in req.body
            else None
        )
    )
    result = cli(
        "scan", "--endpoint-url", proxy.url, "--organization", "--role-name", DEMO_ROLE,
        "--regions", REGION, "--resources", "instances", "--format", "json", "--quiet",
    )  # fmt: skip
    assert result.code == 3, result.err
    doc = json.loads(result.out)
    [error] = [s for s in doc["scopes"] if s["error"]]
    assert error["region"] == "*"
    assert "cannot list accounts" in error["error"]
    assert "not an Organizations ListAccounts response" in error["error"]
    assert proxy.calls[("ListAccounts", "us-east-1")] == 1 + replies.ATTEMPTS


def test_an_organization_listing_with_no_account_is_never_clean(
    factory: SessionFactory, proxy: FaultProxy, cli: Cli
) -> None:
    factory.organizations().create_organization(FeatureSet="ALL")
    # A well-formed answer, request id and all, that lists nobody.
    proxy.rewrites.append(
        lambda req, body: b'{"Accounts": []}' if req.action == "ListAccounts" else body
    )
    result = cli(
        "scan", "--endpoint-url", proxy.url, "--organization", "--role-name", DEMO_ROLE,
        "--regions", REGION, "--resources", "instances", "--format", "json", "--quiet",
    )  # fmt: skip
    assert result.code == 3, result.err
    doc = json.loads(result.out)
    [error] = [s for s in doc["scopes"] if s["error"]]
    assert "no ACTIVE account" in error["error"]


def test_security_hub_counts_only_what_the_reply_says_was_imported(
    factory: SessionFactory, proxy: FaultProxy, cli: Cli
) -> None:
    seed(factory, REGION, Group("a", 1))
    # Security Hub is a REST API: its operation is in the path, not an Action parameter.
    proxy.rewrites.append(
        bad_reply("empty", "", when=lambda req: req.path.startswith("/findings/import"))
    )
    result = cli(
        "scan", "--endpoint-url", proxy.url, "--regions", REGION, "--resources", "instances",
        "--security-hub", "--quiet", "--no-history",
    )  # fmt: skip
    assert result.code == 3, result.err
    assert "BatchImportFindings" in result.err
    assert replies.CODE in result.err


def first_metric_page_partial(req: ProxyRequest, body: bytes) -> bytes:
    """Page 1 as CloudWatch sends it when more follows: PartialData, no calls yet, a token.

    moto answers in one page; the 42 IMDSv1 calls are what page 2 would have carried.
    """
    if req.action != "GetMetricData" or b"NextToken" in req.body:
        return body
    doc = json.loads(body)
    for result in doc["MetricDataResults"]:
        result.update(StatusCode="PartialData", Values=[0.0], Timestamps=[1_700_000_000])
    return json.dumps({**doc, "NextToken": "page-2"}).encode()


@pytest.mark.parametrize(
    ("page_two", "code"),
    [
        # An empty 200: not CloudWatch's answer, so the scope's evidence is an error.
        ("", 3),
        # A real-looking answer with nothing of the rest of the window: the query's last
        # word is still PartialData, so its usage is unknown (held, not an error).
        ('{"MetricDataResults": []}', 1),
    ],
)
def test_an_instance_with_imdsv1_calls_on_an_unread_page_is_never_planned(
    page_two: str, code: int, factory: SessionFactory, proxy: FaultProxy, cli: Cli
) -> None:
    [instance] = seed(factory, REGION, Group("legacy-billing", 1, imdsv1_calls=42))
    proxy.rewrites.append(first_metric_page_partial)
    page = Reply(
        page_two,
        content_type="application/x-amz-json-1.0",
        headers=(("x-amzn-RequestId", "5a1d0e6c-example"),),
    )
    proxy.rules.append(
        lambda req: page if req.action == "GetMetricData" and b"NextToken" in req.body else None
    )
    result = cli(
        "plan", "--endpoint-url", proxy.url, "--regions", REGION, "--resources", "instances",
        "--output", "-", "--quiet",
    )  # fmt: skip
    doc = json.loads(result.out)
    assert not doc["changes"]
    [held] = doc["held"]
    assert (held["resource_id"], held["reason"]) == (instance, "usage-unknown")
    assert result.code == code, result.err


EMPTY_DESCRIBE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse '
    b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>5e3c-example</requestId>'
    b"<reservationSet/></DescribeInstancesResponse>"
)


def test_apply_closes_an_instance_as_gone_only_when_ec2_says_not_found(
    factory: SessionFactory, proxy: FaultProxy, cli: Cli, tmp_path: Any
) -> None:
    """A real-looking reply that lists nothing is not 'gone': the change fails, and
    resume (which never retries 'gone') applies it."""
    [instance] = seed(factory, REGION, Group("a", 1, imdsv1_calls=0))
    plan = tmp_path / "plan.json"
    common = ("--endpoint-url", proxy.url, "--regions", REGION, "--quiet")
    planned = cli("plan", *common, "--resources", "instances", "--output", str(plan))
    assert planned.code == 0, planned.err
    # Every describe of the instance by id or filter answers "nothing", well-formed.
    proxy.rewrites.append(
        lambda req, body: (
            EMPTY_DESCRIBE
            if req.action == "DescribeInstances" and instance.encode() in req.body
            else body
        )
    )
    journal = tmp_path / "j.jsonl"
    applied = cli("apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(journal))
    assert applied.code != 0
    assert "gone" not in applied.out + applied.err
    assert "MissingFromReply" in applied.out + applied.err
    proxy.rewrites.clear()
    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url)
    assert resumed.code == 0, resumed.out + resumed.err
    options = factory.ec2(own(factory), REGION).describe_instances(InstanceIds=[instance])
    [[described]] = [r["Instances"] for r in options["Reservations"]]
    assert described["MetadataOptions"]["HttpTokens"] == "required"
