"""The reply rule (aws/replies.py): what counts as an operation's answer, on AWS's shapes.

The pure part is tested on reply bodies as real AWS sends them (EC2's namespace with its
trailing slash, Query's result wrapper, JSON's required members); the botocore wiring is
pinned against a real moto server behind the loopback fault proxy.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel

from imdsguard.aws.replies import problem

_SESSION = botocore.session.get_session()


def op(service: str, name: str) -> OperationModel:
    return _SESSION.get_service_model(service).operation_model(name)


HEADERS = {"x-amzn-requestid": "c6e2b1f4-0000-4000-8000-000000000000"}
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
DESCRIBE_INSTANCES = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="{EC2_NS}">'
    "<requestId>8f7724cf-496f-496e-8fe3-example</requestId><reservationSet/>"
    "</DescribeInstancesResponse>\n"
).encode()
ASG = (
    b'<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">'
    b"<DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult>"
    b"<ResponseMetadata><RequestId>7c6e177f-example</RequestId></ResponseMetadata>"
    b"</DescribeAutoScalingGroupsResponse>"
)
XHTML = (
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Sign in'
    b"</title></head><body>Please log in to continue</body></html>"
)


@pytest.mark.parametrize(
    ("service", "name", "headers", "body"),
    [
        ("ec2", "DescribeInstances", HEADERS, DESCRIBE_INSTANCES),
        # No header: the body's requestId is enough (and vice versa below).
        ("ec2", "DescribeInstances", {}, DESCRIBE_INSTANCES),
        (
            "ec2",
            "DescribeInstances",
            HEADERS,
            DESCRIBE_INSTANCES.replace(b"/doc/2016-11-15/", b"/doc/2016-11-15"),
        ),
        # A prefixed root, and whitespace after it.
        (
            "ec2",
            "DescribeInstances",
            HEADERS,
            re.sub(rb"<(/?)D", rb"<\1ec2:D", DESCRIBE_INSTANCES).replace(b"xmlns=", b"xmlns:ec2=")
            + b" \r\n\t",
        ),
        ("autoscaling", "DescribeAutoScalingGroups", {}, ASG),
        ("organizations", "ListAccounts", HEADERS, b'{"Accounts": []}'),
        ("cloudwatch", "GetMetricData", HEADERS, b'{"MetricDataResults": [], "Messages": []}'),
        ("securityhub", "BatchImportFindings", HEADERS, b'{"FailedCount": 0, "SuccessCount": 3}'),
    ],
)
def test_real_answers_are_accepted(
    service: str, name: str, headers: dict[str, str], body: bytes
) -> None:
    assert problem(op(service, name), 200, headers, body) is None


@pytest.mark.parametrize(
    ("service", "name", "headers", "body", "why"),
    [
        ("ec2", "DescribeInstances", HEADERS, b"", "empty body"),
        ("ec2", "DescribeInstances", HEADERS, b"  \n", "empty body"),
        ("ec2", "DescribeInstances", HEADERS, DESCRIBE_INSTANCES[:120], "cut off"),
        (
            "ec2",
            "DescribeInstances",
            HEADERS,
            DESCRIBE_INSTANCES + b"<DescribeInstancesResponse>",
            "cut off",
        ),
        ("ec2", "DescribeInstances", HEADERS, DESCRIBE_INSTANCES.rstrip() + b"x", "cut off"),
        ("ec2", "DescribeInstances", HEADERS, XHTML, "root element is <html>"),
        (
            "ec2",
            "DescribeInstances",
            HEADERS,
            b"<!doctype html><h1>Proxy</h1>",
            "not an XML document",
        ),
        ("ec2", "DescribeInstances", HEADERS, b"\xff" + DESCRIBE_INSTANCES, "not UTF-8"),
        # Another operation's (real) answer is not this operation's answer.
        ("ec2", "DescribeImages", HEADERS, DESCRIBE_INSTANCES, "not <DescribeImagesResponse>"),
        (
            "ec2",
            "DescribeInstances",
            {},
            DESCRIBE_INSTANCES.replace(b"requestId", b"other"),
            "no request id",
        ),
        (
            "autoscaling",
            "DescribeAutoScalingGroups",
            {},
            ASG.replace(b"Result>", b"Other>"),
            "no <DescribeAutoScalingGroupsResult>",
        ),
        ("organizations", "ListAccounts", HEADERS, b'{"Accounts": [{"Id": "1111', "not JSON"),
        ("organizations", "ListAccounts", HEADERS, b"[]", "not a JSON object"),
        ("organizations", "ListAccounts", {}, b'{"Accounts": []}', "no request id"),
        (
            "securityhub",
            "BatchImportFindings",
            HEADERS,
            b"{}",
            "lacks the required FailedCount, SuccessCount",
        ),
        ("cloudwatch", "GetMetricData", HEADERS, b"<html></html>", "not JSON"),
    ],
)
def test_anything_else_is_a_problem(
    service: str, name: str, headers: dict[str, str], body: bytes, why: str
) -> None:
    found = problem(op(service, name), 200, headers, body)
    assert found is not None
    assert why in found


@pytest.mark.parametrize("status", [400, 403, 500, 503])
def test_error_replies_are_left_to_botocore(status: int) -> None:
    assert problem(op("ec2", "DescribeInstances"), status, {}, b"") is None


def test_the_protocols_imdsguard_relies_on_are_the_ones_botocore_resolves() -> None:
    # If botocore moves a service to another protocol (CloudWatch offers CBOR, JSON and
    # Query), the XML/JSON split above must follow: pin what it resolves today.
    resolved: dict[str, Any] = {
        s: _SESSION.get_service_model(s).resolved_protocol
        for s in ("ec2", "sts", "autoscaling", "organizations", "cloudwatch", "securityhub")
    }
    assert resolved == {
        "ec2": "ec2",
        "sts": "query",
        "autoscaling": "query",
        "organizations": "json",
        "cloudwatch": "json",
        "securityhub": "rest-json",
    }
