"""The template data sent to CreateLaunchTemplateVersion: the describe answer, made a request."""

from __future__ import annotations

import boto3

from imdsguard.aws.launch_templates import with_metadata
from imdsguard.model.scan import MetadataOptions

# What DescribeLaunchTemplateVersions returns, including fields only answers carry
# (MetadataOptions.State, Operator, IsPrimaryIpv6) that request validation rejects.
DESCRIBED = {
    "ImageId": "ami-1",
    "InstanceType": "t3.micro",
    "Operator": {"Managed": False, "Principal": "x"},
    "NetworkInterfaces": [
        {"DeviceIndex": 0, "Ipv6Addresses": [{"Ipv6Address": "::1", "IsPrimaryIpv6": True}]}
    ],
    "MetadataOptions": {"HttpTokens": "optional", "State": "applied", "HttpPutResponseHopLimit": 3},
    "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}],
}


def test_described_data_becomes_a_valid_request_with_the_new_options() -> None:
    client = boto3.client("ec2", region_name="eu-west-1")
    options = MetadataOptions(http_tokens="required", hop_limit=3)
    data = with_metadata(client, DESCRIBED, options)
    assert data["Operator"] == {"Principal": "x"}
    assert data["NetworkInterfaces"] == [
        {"DeviceIndex": 0, "Ipv6Addresses": [{"Ipv6Address": "::1"}]}
    ]
    assert data["TagSpecifications"] == DESCRIBED["TagSpecifications"]
    assert data["MetadataOptions"] == {
        "HttpTokens": "required",
        "HttpEndpoint": "enabled",
        "HttpPutResponseHopLimit": 3,
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled",
    }
    # botocore's own parameter validation accepts it (it raises on any unknown field).
    from botocore.validate import ParamValidator

    shape = client.meta.service_model.operation_model("CreateLaunchTemplateVersion").input_shape
    request = {"LaunchTemplateId": "lt-1", "LaunchTemplateData": data}
    report = ParamValidator().validate(request, shape)  # type: ignore[arg-type]
    assert not report.has_errors(), report.generate_report()
