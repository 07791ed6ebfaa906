"""Helpers shared by the remediation tests: read a fleet's metadata options back from moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from imdsguard.aws.session import SessionFactory
from imdsguard.model.remediation import settings_json
from imdsguard.model.scan import JSONValue
from tests.conftest import CliResult, own


def options_of(factory: SessionFactory, region: str) -> dict[str, dict[str, JSONValue]]:
    """Instance id -> every setting we change, straight from DescribeInstances."""
    from imdsguard.aws.instances import get_instances

    client = factory.ec2(own(factory), region)
    return {i.instance_id: settings_json(i.metadata) for i in get_instances(client)}


def journal_records(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_plan(cli: Callable[..., CliResult], tmp_path: Path, *args: str) -> Path:
    """Run ``plan ARGS --output tmp_path/plan.json``, which must succeed; return the path."""
    plan = tmp_path / "plan.json"
    result = cli("plan", *args, "--output", str(plan))
    assert result.code == 0, result.err
    return plan


def put_rejected(
    factory: SessionFactory, region: str, instance_id: str, when: datetime, value: float
) -> None:
    """A MetadataNoTokenRejected data point: ``value`` IMDSv1 calls refused at ``when``."""
    factory.cloudwatch(own(factory), region).put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "MetadataNoTokenRejected",
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Timestamp": when,
                "Value": value,
                "Unit": "Count",
            }
        ],
    )
