"""Scans against the moto server: Regions, accounts, organizations, pagination, evidence."""

from __future__ import annotations

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import OWN_ACCOUNT, seed


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
