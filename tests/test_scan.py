"""Scans against the moto server: Regions, accounts, organizations, pagination, evidence."""

from __future__ import annotations

import pytest

from imdsguard.aws.instances import get_instance
from imdsguard.aws.regions import enabled_regions
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.errors import AwsError, UsageError
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import OWN_ACCOUNT, own, seed
from tests.faultproxy import FaultProxy, html_500


def test_scan_reports_each_instance_with_verdict_and_evidence(factory: SessionFactory) -> None:
    [required] = seed(factory, "eu-west-1", Group("web", 1, tokens="required", role=True))
    [optional] = seed(factory, "eu-west-1", Group("legacy", 1))
    seed(factory, "eu-west-1", Group("gone", 1, then="terminate"))
    result = run_scan(factory, ScopeOptions(regions=("eu-west-1",)), EvaluationOptions())
    by_id = {f.resource_id: f for f in result.findings}
    assert set(by_id) == {required, optional}
    assert (by_id[required].status, by_id[required].reason) == ("PASS", "tokens-required")
    assert (by_id[optional].status, by_id[optional].reason) == ("FAIL", "tokens-optional")
    assert by_id[required].name == "web"
    assert by_id[required].resource.evidence()["iam_instance_profile"]
    assert by_id[optional].resource.evidence()["iam_instance_profile"] is None
    [scope] = result.scopes
    assert (scope.account_id, scope.region, scope.error) == (OWN_ACCOUNT, "eu-west-1", None)
    assert scope.instances == 2
    assert scope.skipped == 1
    assert result.exit_code() == 1


def test_default_regions_are_the_enabled_ones_of_the_callers_partition(
    factory: SessionFactory,
) -> None:
    result = run_scan(factory, ScopeOptions(), EvaluationOptions())
    regions = {s.region for s in result.scopes}
    # moto's DescribeRegions mixes in cn-* and us-gov-* and lists opt-in Regions.
    assert "us-east-1" in regions
    assert not {r for r in regions if r.startswith(("cn-", "us-gov-"))}
    assert "ap-east-1" not in regions  # not-opted-in in moto
    assert all(s.error is None for s in result.scopes)


def test_named_region_that_is_not_enabled_is_a_scope_error(factory: SessionFactory) -> None:
    seed(factory, "eu-west-1", Group("a", 1))
    options = ScopeOptions(regions=("eu-west-1", "ap-east-1"))
    result = run_scan(factory, options, EvaluationOptions())
    by_region = {s.region: s for s in result.scopes}
    assert by_region["eu-west-1"].error is None
    assert "not enabled" in (by_region["ap-east-1"].error or "")
    assert result.exit_code() == 3


def test_multi_region_multi_account_with_assume_role(factory: SessionFactory) -> None:
    other = "222222222222"
    [mine] = seed(factory, "us-east-1", Group("mine", 1))
    [theirs_east] = seed(factory, "us-east-1", Group("theirs", 1, tokens="required"), account=other)
    [theirs_west] = seed(factory, "eu-west-1", Group("theirs", 1), account=other)
    options = ScopeOptions(
        regions=("us-east-1", "eu-west-1"),
        accounts=(OWN_ACCOUNT, other),
        role_name="OrganizationAccountAccessRole",
    )
    result = run_scan(factory, options, EvaluationOptions())
    where = {f.resource_id: (f.scope.account_id, f.scope.region, f.status) for f in result.findings}
    assert where == {
        mine: (OWN_ACCOUNT, "us-east-1", "FAIL"),
        theirs_east: (other, "us-east-1", "PASS"),
        theirs_west: (other, "eu-west-1", "FAIL"),
    }
    assert len(result.scopes) == 4
    assert not result.scope_errors


def test_organization_discovery_scans_every_active_account(factory: SessionFactory) -> None:
    org = factory.organizations()
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="m", Email="m@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]
    [instance] = seed(factory, "eu-west-1", Group("x", 1), account=member_id)
    options = ScopeOptions(regions=("eu-west-1",), organization=True, role_name="Audit")
    result = run_scan(factory, options, EvaluationOptions())
    assert {s.account_id for s in result.scopes} == {OWN_ACCOUNT, member_id}
    assert [f.resource_id for f in result.findings] == [instance]


def test_account_outside_the_callers_without_role_name_is_a_usage_error(
    factory: SessionFactory,
) -> None:
    options = ScopeOptions(regions=("eu-west-1",), accounts=("222222222222",))
    with pytest.raises(UsageError, match="needs --role-name"):
        run_scan(factory, options, EvaluationOptions())


def test_a_region_named_twice_is_read_once(factory: SessionFactory) -> None:
    [instance] = seed(factory, "eu-west-1", Group("a", 1))
    result = run_scan(
        factory, ScopeOptions(regions=("eu-west-1", "eu-west-1")), EvaluationOptions()
    )
    assert [s.region for s in result.scopes] == ["eu-west-1"]
    assert [f.resource_id for f in result.findings] == [instance]


def test_an_enabled_region_botocore_cannot_place_is_still_scanned() -> None:
    # Dropping it would leave an enabled Region unaudited without a word.
    opt_in = {"us-east-1": "opt-in-not-required", "xx-new-1": "opted-in", "cn-north-1": "opted-in"}
    partitions = {"us-east-1": "aws", "cn-north-1": "aws-cn"}
    assert enabled_regions(opt_in, partitions.get, "aws") == ["us-east-1", "xx-new-1"]


def test_a_failed_reread_is_translated_not_raw_botocore(
    factory: SessionFactory, proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    [instance] = seed(factory, "eu-west-1", Group("a", 1))
    proxy.rules.append(lambda req: html_500() if req.action == "DescribeInstances" else None)
    with pytest.raises(AwsError, match="ResponseParserError"):
        get_instance(proxied_factory.ec2(own(proxied_factory), "eu-west-1"), instance)
    assert get_instance(factory.ec2(own(factory), "eu-west-1"), "i-0123456789abcdef0") is None
