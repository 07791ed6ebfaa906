"""--security-hub: ASFF findings imported into moto's Security Hub over HTTP, in batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.stub import Stubber

from imdsguard.aws.securityhub import import_findings
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.report import asff
from tests.conftest import OWN_ACCOUNT, CliResult, own, seed
from tests.faultproxy import Fault, FaultProxy, ProxyRequest
from tests.sample import sample_result

Cli = Callable[..., CliResult]
IMPORT_PATH = "/findings/import"  # BatchImportFindings in the botocore model
ROLE = "OrganizationAccountAccessRole"
OTHER = "444455556666"


def hub_findings(
    factory: SessionFactory, region: str, account: str | None = None
) -> list[dict[str, Any]]:
    access = own(factory) if account is None else factory.assume(account, ROLE, None)
    client = factory.securityhub(access, region)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = client.get_findings(**kwargs)
        found += [dict(f) for f in page["Findings"]]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def test_security_hub_imports_every_finding_in_batches_of_100(
    cli: Cli, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    seed(proxied_factory, "eu-west-1", Group("legacy", 150), Group("web", 30, tokens="required"))
    result = cli(
        "scan",
        "--resources",
        "instances",
        "--endpoint-url",
        proxy.url,
        "--regions",
        "eu-west-1",
        "--quiet",
        "--format",
        "csv",
        "--security-hub",
    )
    assert result.code == 1, result.err
    assert "180 of 180 finding(s) imported, 0 failed" not in result.err  # --quiet
    # Security Hub is a REST API: the proxy sees the operation as its path.
    sent = [r for r in proxy.forwarded if r.path == IMPORT_PATH]
    assert len(sent) == 2  # 180 findings: 100 + 80
    stored = hub_findings(proxied_factory, "eu-west-1")
    assert len(stored) == 180
    assert {f["AwsAccountId"] for f in stored} == {OWN_ACCOUNT}
    failed = [f for f in stored if f["Compliance"]["Status"] == "FAILED"]
    assert len(failed) == 150
    assert failed[0]["Resources"][0]["Details"]["AwsEc2Instance"]["MetadataOptions"]


def test_each_accounts_findings_go_to_its_own_hub_and_region(
    cli: Cli, factory: SessionFactory, moto_url: str
) -> None:
    seed(factory, "eu-west-1", Group("own", 2))
    seed(factory, "us-east-1", Group("other", 3), account=OTHER, role=ROLE)
    accounts = f"{OWN_ACCOUNT},{OTHER}"
    result = cli(
        "scan",
        "--resources",
        "instances",
        "--endpoint-url",
        moto_url,
        "--regions",
        "eu-west-1,us-east-1",
        "--accounts",
        accounts,
        "--role-name",
        ROLE,
        "--quiet",
        "--format",
        "csv",
        "--security-hub",
    )
    assert result.code == 1, result.err
    assert len(hub_findings(factory, "eu-west-1")) == 2
    assert hub_findings(factory, "us-east-1") == []
    other = hub_findings(factory, "us-east-1", account=OTHER)
    assert len(other) == 3
    assert {f["AwsAccountId"] for f in other} == {OTHER}
    assert hub_findings(factory, "eu-west-1", account=OTHER) == []


def test_security_hub_refusal_is_printed_and_exits_3(
    cli: Cli, proxied_factory: SessionFactory, proxy: FaultProxy
) -> None:
    seed(proxied_factory, "eu-west-1", Group("web", 1, tokens="required"))

    def deny(req: ProxyRequest) -> Fault | None:
        if req.path == IMPORT_PATH:
            return Fault(403, "AccessDeniedException", "not subscribed")
        return None

    proxy.rules.append(deny)
    result = cli(
        "scan",
        "--resources",
        "instances",
        "--endpoint-url",
        proxy.url,
        "--regions",
        "eu-west-1",
        "--quiet",
        "--format",
        "json",
        "--security-hub",
    )
    assert result.code == 3
    assert "security hub" in result.err
    assert "AccessDeniedException" in result.err
    assert "imdsguard: security hub: 0 of 1 finding(s) imported, 1 failed" in result.err
    assert json.loads(result.out)["summary"]["pass"] == 1  # the report is still complete


def test_refused_findings_are_returned_one_line_each(factory: SessionFactory) -> None:
    # moto accepts every finding that has Resources, so it never answers FailedFindings
    # for ours; Stubber stands in for Security Hub's partial refusal.
    client = factory.securityhub(None, "eu-west-1")
    finding = next(asff.findings(sample_result()))
    with Stubber(client) as stub:
        stub.add_response(
            "batch_import_findings",
            {
                "FailedCount": 1,
                "SuccessCount": 0,
                "FailedFindings": [{"Id": "x", "ErrorCode": "InvalidInput", "ErrorMessage": "bad"}],
            },
        )
        assert import_findings(client, [finding]) == ["x: InvalidInput bad"]
