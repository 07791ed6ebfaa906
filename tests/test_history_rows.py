"""PURE row building: a ScanResult becomes the rows the history stores."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from imdsguard.history.rows import FindingRow, ScopeRow, scan_rows, scope_description
from imdsguard.model.findings import FindingList
from imdsguard.model.scan import (
    Finding,
    HttpTokens,
    Instance,
    MetadataOptions,
    ScanResult,
    Scope,
    ScopeOutcome,
)
from imdsguard.options import AwsOptions, ScopeOptions
from tests.sample import sample_result

SCOPE = Scope("111111111111", "eu-west-1")
LAUNCHED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def instance(instance_id: str, tokens: HttpTokens) -> Instance:
    return Instance(
        instance_id,
        "running",
        MetadataOptions(http_tokens=tokens),
        name="web",
        launch_time=LAUNCHED,
    )


RESULT = ScanResult(
    tool_version="9.9.9",
    generated_at=datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC),
    scopes=(
        ScopeOutcome(SCOPE.account_id, SCOPE.region, None, {"AwsEc2Instance": 2}, skipped=1),
        ScopeOutcome("222222222222", "*", "AccessDenied on AssumeRole: no"),
    ),
    findings=FindingList(
        (
            Finding(SCOPE, instance("i-1", "required"), "PASS", "tokens-required"),
            Finding(SCOPE, instance("i-2", "optional"), "FAIL", "tokens-optional"),
        )
    ),
)


def test_scan_row_carries_the_summary_and_the_description() -> None:
    scan = scan_rows(RESULT, "own account; all regions").scan
    assert scan.generated_at == "2026-02-03T04:05:06+00:00"
    assert scan.tool_version == "9.9.9"
    assert scan.scope_description == "own account; all regions"
    assert (scan.passed, scan.failed, scan.info, scan.scope_errors) == (1, 1, 0, 1)


def test_scope_rows_keep_errors_counts_and_skips() -> None:
    assert scan_rows(RESULT, "").scopes == (
        ScopeRow("111111111111", "eu-west-1", "ok", None, '{"AwsEc2Instance":2}', 1),
        ScopeRow("222222222222", "*", "error", "AccessDenied on AssumeRole: no", "{}", 0),
    )


def test_finding_rows_keep_the_verdict_and_the_evidence_apart() -> None:
    rows = list(scan_rows(RESULT, "").findings)
    assert [r.key for r in rows] == [
        ("111111111111", "eu-west-1", "AwsEc2Instance", "i-1"),
        ("111111111111", "eu-west-1", "AwsEc2Instance", "i-2"),
    ]
    fail: FindingRow = rows[1]
    assert (fail.name, fail.status, fail.reason) == ("web", "FAIL", "tokens-optional")
    evidence = json.loads(fail.evidence)
    assert evidence == list(RESULT.findings)[1].resource.evidence()
    assert evidence["launch_time"] == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize(
    ("aws", "scopes", "expected"),
    [
        (AwsOptions(), ScopeOptions(), "own account; all regions"),
        (
            AwsOptions(profile="audit"),
            ScopeOptions(regions=("eu-west-1", "us-east-1")),
            "own account; regions eu-west-1,us-east-1; profile audit",
        ),
        (
            AwsOptions(),
            ScopeOptions(accounts=("111111111111", "222222222222"), role_name="Audit"),
            "accounts 111111111111,222222222222; role Audit; all regions",
        ),
        (
            AwsOptions(endpoint_url="http://127.0.0.1:5000"),
            ScopeOptions(organization=True, role_name="Audit"),
            "organization; role Audit; all regions; endpoint http://127.0.0.1:5000",
        ),
    ],
)
def test_scope_description(aws: AwsOptions, scopes: ScopeOptions, expected: str) -> None:
    assert scope_description(aws, scopes) == expected


def test_scan_row_records_kinds_and_options_or_null_when_unknown() -> None:
    recorded = replace(
        RESULT,
        kinds=("instances", "amis"),
        evaluation={"imds_disabled": "fail", "strict_amis": False},
    )
    scan = scan_rows(recorded, "").scan
    assert scan.kinds == '["instances","amis"]'
    assert scan.evaluation == '{"imds_disabled":"fail","strict_amis":false}'
    assert scan_rows(RESULT, "").scan.kinds is None
    assert scan_rows(RESULT, "").scan.evaluation is None


def test_launch_settings_keep_their_effective_tokens_in_the_history() -> None:
    result = sample_result()
    rows = scan_rows(result, "sample").findings
    [template] = [r for r in rows if r.resource_type == "AwsEc2LaunchTemplate"]
    evidence = json.loads(template.evidence)
    assert (evidence["default_effective_http_tokens"], evidence["default_effective_source"]) == (
        "required",
        "account-default",
    )
    assert [v["effective_source"] for v in evidence["versions"]] == ["account-default", "explicit"]
