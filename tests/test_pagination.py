"""More than 1,000 instances in one Region: DescribeInstances must be followed page by page."""

from __future__ import annotations

from typing import Literal

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import own
from tests.faultproxy import FaultProxy

# moto's MaxResults counts reservations, not instances (docs/aws-behaviour.md#the-emulator), so a
# second page
# needs more than 1,000 reservations: 1,005 launches, the first with 20 instances.
RESERVATIONS = 1005
FIRST_BATCH = 20


@pytest.mark.slow
def test_more_than_1000_instances_are_all_read_across_pages(
    factory: SessionFactory, proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    ec2 = factory.ec2(own(factory), "eu-west-1")
    launched: set[str] = set()
    for n in range(RESERVATIONS):
        count = FIRST_BATCH if n == 0 else 1
        tokens: Literal["optional", "required"] = "required" if n % 2 else "optional"
        reply = ec2.run_instances(
            ImageId="ami-12345678",
            MinCount=count,
            MaxCount=count,
            MetadataOptions={"HttpTokens": tokens},
        )
        launched.update(i["InstanceId"] for i in reply["Instances"])
    result = run_scan(proxied_factory, ScopeOptions(regions=("eu-west-1",)), EvaluationOptions())
    assert len(launched) == RESERVATIONS - 1 + FIRST_BATCH
    assert {f.resource_id for f in result.findings} == launched
    assert len(result.findings) == len(launched)  # nothing read twice
    assert proxy.calls[("DescribeInstances", "eu-west-1")] == 2
    # The NextToken-bearing second request carried MaxResults=1000 too (large bucket).
    pages = [r for r in proxy.forwarded if r.action == "DescribeInstances"]
    assert all(r.param("MaxResults") == "1000" for r in pages)
    assert pages[1].param("NextToken")
    assert result.scopes[0].instances == len(launched)
