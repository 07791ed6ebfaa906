"""Closed IMDS value sets: AWS strings are narrowed at the adapter boundary, never guessed.

Stubber answers with the real botocore model's shapes; it does not check enum values,
so it can play an AWS that answers a value this version of imdsguard does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from imdsguard.aws.account_defaults import get_account_defaults
from imdsguard.aws.instances import check_modify_permission, get_instances
from imdsguard.aws.launch_templates import get_template_versions
from imdsguard.errors import AwsError
from imdsguard.model.scan import MetadataOptions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

FULL = {
    "HttpTokens": "required",
    "HttpEndpoint": "disabled",
    "HttpPutResponseHopLimit": 3,
    "State": "pending",
    "HttpProtocolIpv6": "enabled",
    "InstanceMetadataTags": "enabled",
}


def instances_reply(metadata: dict[str, Any]) -> dict[str, Any]:
    instance = {"InstanceId": "i-1", "State": {"Name": "running"}, "MetadataOptions": metadata}
    return {"Reservations": [{"Instances": [instance]}]}


def test_every_documented_value_is_read_as_is(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    stubber.add_response("describe_instances", instances_reply(FULL))
    [instance] = get_instances(client)
    assert instance.metadata == MetadataOptions(
        "required", "disabled", 3, "pending", "enabled", "enabled"
    )


@pytest.mark.parametrize(
    "field", ["HttpTokens", "HttpEndpoint", "State", "HttpProtocolIpv6", "InstanceMetadataTags"]
)
def test_an_unknown_instance_value_fails_the_read_naming_the_field(
    ec2: tuple[EC2Client, Stubber], field: str
) -> None:
    client, stubber = ec2
    stubber.add_response("describe_instances", instances_reply({**FULL, field: "sometimes"}))
    with pytest.raises(AwsError) as caught:
        list(get_instances(client))
    assert caught.value.code == "UnexpectedValue"
    assert f"MetadataOptions.{field} must be one of " in str(caught.value)
    assert str(caught.value).endswith(", got 'sometimes'")


def test_an_unknown_template_value_fails_the_read(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    version = {
        "LaunchTemplateId": "lt-1",
        "VersionNumber": 1,
        "LaunchTemplateData": {"MetadataOptions": {"HttpTokens": "sometimes"}},
    }
    stubber.add_response("describe_launch_template_versions", {"LaunchTemplateVersions": [version]})
    with pytest.raises(AwsError, match=r"MetadataOptions\.HttpTokens"):
        get_template_versions(client, "lt-1", (1,))


def test_an_unknown_account_default_fails_the_read(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    level = {"HttpTokens": "sometimes"}
    stubber.add_response("get_instance_metadata_defaults", {"AccountLevel": level})
    with pytest.raises(
        AwsError,
        match=r"AccountLevel\.HttpTokens must be one of optional, required, got 'sometimes'",
    ):
        get_account_defaults(client, "eu-west-1")


def test_no_preference_never_reaches_an_instance(ec2: tuple[EC2Client, Stubber]) -> None:
    client, _ = ec2  # no response queued: a request would fail the stubber
    options = MetadataOptions(http_tokens="no-preference")
    with pytest.raises(AwsError) as caught:
        check_modify_permission(client, "i-1", options)
    assert caught.value.code == "InvalidParameterValue"
