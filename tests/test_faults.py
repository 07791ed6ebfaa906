"""Fault injection for what moto cannot do: throttling, denials, failed AssumeRole.

moto never throttles and never denies per Region (docs/aws-behaviour.md#the-emulator), so these
tests put the
loopback FaultProxy between imdsguard and the moto server.
"""

from __future__ import annotations

from collections.abc import Callable

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import OWN_ACCOUNT, CliResult, seed
from tests.faultproxy import Fault, FaultProxy, ProxyRequest, Rule, denied, html_500, throttle

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def first_n(n: int, action: str, fault: Callable[[], Fault], region: str = "") -> Rule:
    remaining = {"n": n}

    def rule(req: ProxyRequest) -> Fault | None:
        if req.action != action or (region and req.region != region) or remaining["n"] <= 0:
            return None
        remaining["n"] -= 1
        return fault()

    return rule


def always(action: str, fault: Fault, region: str = "", body: str = "") -> Rule:
    def rule(req: ProxyRequest) -> Fault | None:
        if req.action != action or (region and req.region != region):
            return None
        if body and body not in req.body.decode():
            return None
        return fault

    return rule


def test_throttling_is_retried_through(
    factory: SessionFactory, proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    ids = seed(factory, "eu-west-1", Group("a", 3))
    proxy.rules.append(first_n(2, "DescribeInstances", throttle, "eu-west-1"))
    result = run_scan(proxied_factory, ScopeOptions(regions=("eu-west-1",)), EvaluationOptions())
    assert proxy.faults[("DescribeInstances", "eu-west-1")] == 2
    assert sorted(f.resource_id for f in result.findings) == sorted(ids)
    assert not result.scope_errors
    assert result.exit_code() == 1


def test_throttling_past_the_retry_budget_is_a_scope_error(
    factory: SessionFactory, proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    seed(factory, "eu-west-1", Group("a", 1, tokens="required"))
    proxy.rules.append(always("DescribeInstances", throttle(), "eu-west-1"))
    result = run_scan(proxied_factory, ScopeOptions(regions=("eu-west-1",)), EvaluationOptions())
    [scope] = result.scopes
    assert "RequestLimitExceeded" in (scope.error or "")
    assert "retries exhausted" in (scope.error or "")
    # Standard mode with max_attempts=3: the call was tried exactly three times.
    assert proxy.faults[("DescribeInstances", "eu-west-1")] == 3
    assert result.exit_code() == 3


def test_access_denied_in_one_region_exit_3_and_other_regions_complete(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult]
) -> None:
    for region in REGIONS:
        seed(factory, region, Group("ok", 1, tokens="required"))
    proxy.rules.append(always("DescribeInstances", denied(), "eu-west-1"))
    run = cli(
        "scan",
        "--endpoint-url",
        proxy.url,
        "--regions",
        ",".join(REGIONS),
        "--format",
        "json",
        "--resources",
        "instances",
    )
    assert run.code == 3
    doc = run.json()
    scopes = {s["region"]: s for s in doc["scopes"]}
    assert scopes["eu-west-1"]["status"] == "error"
    assert "UnauthorizedOperation" in scopes["eu-west-1"]["error"]
    for region in ("us-east-1", "ap-southeast-2"):
        assert (scopes[region]["status"], scopes[region]["instances"]) == ("ok", 1)
    assert doc["summary"] == {"pass": 2, "fail": 0, "info": 0, "scope_errors": 1}


def test_failed_assume_role_for_one_account_gives_exit_3(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult]
) -> None:
    good, bad = "222222222222", "333333333333"
    seed(factory, "eu-west-1", Group("x", 1, tokens="required"), account=good)
    proxy.rules.append(always("AssumeRole", denied("AccessDenied"), body=bad))
    run = cli(
        "scan",
        "--endpoint-url",
        proxy.url,
        "--regions",
        "eu-west-1",
        "--accounts",
        f"{good},{bad}",
        "--role-name",
        "Audit",
        "--format",
        "json",
    )
    assert run.code == 3
    scopes = {(s["account_id"], s["region"]): s for s in run.json()["scopes"]}
    assert scopes[(good, "eu-west-1")]["status"] == "ok"
    failed = scopes[(bad, "*")]
    assert failed["status"] == "error"
    assert "AssumeRole" in failed["error"]
    assert "AccessDenied" in failed["error"]


def test_denied_organization_listing_is_reported_not_silent(
    proxy: FaultProxy, cli: Callable[..., CliResult]
) -> None:
    proxy.rules.append(always("ListAccounts", denied("AccessDeniedException")))
    run = cli(
        "scan", "--endpoint-url", proxy.url, "--organization", "--role-name", "Audit",
        "--format", "json", "--regions", "eu-west-1",
    )  # fmt: skip
    assert run.code == 3
    [scope] = run.json()["scopes"]
    assert scope["account_id"] == OWN_ACCOUNT
    assert "cannot list accounts" in scope["error"]


def test_denied_describe_regions_without_named_regions_is_an_account_error(
    proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    proxy.rules.append(always("DescribeRegions", denied()))
    result = run_scan(proxied_factory, ScopeOptions(), EvaluationOptions())
    [scope] = result.scopes
    assert (scope.account_id, scope.region) == (OWN_ACCOUNT, "*")
    assert "cannot list Regions" in (scope.error or "")
    assert result.exit_code() == 3


def test_a_non_aws_error_page_is_a_scope_error_not_a_crash(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult]
) -> None:
    for region in ("us-east-1", "eu-west-1"):
        seed(factory, region, Group("ok", 1, tokens="required"))
    proxy.rules.append(always("DescribeInstances", html_500(), "eu-west-1"))
    run = cli(
        "scan", "--endpoint-url", proxy.url, "--regions", "us-east-1,eu-west-1",
        "--resources", "instances", "--format", "json", "--quiet",
    )  # fmt: skip
    assert run.code == 3, run.err
    scopes = {s["region"]: s for s in run.json()["scopes"]}
    assert "ResponseParserError" in scopes["eu-west-1"]["error"]
    assert scopes["us-east-1"]["status"] == "ok"


def test_an_emulator_without_an_api_gets_a_plain_scope_error(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult]
) -> None:
    # Stock moto has no GetInstanceMetadataDefaults (demo/moto_ext.py adds it): HTTP 500.
    seed(factory, "eu-west-1", Group("ok", 1, tokens="required"))
    proxy.rules.append(always("GetInstanceMetadataDefaults", html_500()))
    run = cli(
        "scan", "--endpoint-url", proxy.url, "--regions", "eu-west-1",
        "--resources", "instances,account-defaults", "--format", "json", "--quiet",
    )  # fmt: skip
    assert run.code == 3, run.err
    error = run.json()["scopes"][0]["error"]
    assert error.startswith(
        "account-defaults: this endpoint does not implement GetInstanceMetadataDefaults; "
        "leave out account-defaults with --resources instances ("
    )
    # botocore's own text ends in a colon before the page it quotes; the sentence ends.
    assert error.endswith("Further retries may succeed)")
