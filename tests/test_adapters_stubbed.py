"""Adapters against the real botocore model (Stubber) where moto is not faithful.

Stubber validates every canned reply against botocore's EC2 model, so these pin the
response shapes our parse_* functions read, for calls moto lacks or gets wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from imdsguard.aws.account_defaults import get_account_defaults, parse_account_defaults
from imdsguard.aws.autoscaling import parse_group, parse_launch_configuration
from imdsguard.aws.images import get_images
from imdsguard.aws.launch_templates import (
    get_launch_templates,
    get_template_versions,
    parse_template_version,
)
from imdsguard.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


# --- account defaults: moto has no Get/ModifyInstanceMetadataDefaults (HTTP 500) ---


def test_account_defaults_parse_the_account_level_shape(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    level = {
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled",
        "InstanceMetadataTags": "disabled",
        "ManagedBy": "account",
        "HttpTokensEnforced": "enabled",
    }
    stubber.add_response("get_instance_metadata_defaults", {"AccountLevel": level})
    defaults = get_account_defaults(client, "eu-west-1")
    assert (defaults.http_tokens, defaults.hop_limit, defaults.http_tokens_enforced) == (
        "required",
        2,
        "enabled",
    )
    assert (defaults.managed_by, defaults.account_can_change) == ("account", True)


def test_account_defaults_managed_by_declarative_policy(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    level = {
        "HttpTokens": "optional",
        "ManagedBy": "declarative-policy",
        "ManagedExceptionMessage": "Ask the platform team",
    }
    stubber.add_response("get_instance_metadata_defaults", {"AccountLevel": level})
    defaults = get_account_defaults(client, "eu-west-1")
    assert defaults.account_can_change is False
    assert defaults.managed_exception_message == "Ask the platform team"


def test_account_defaults_with_nothing_set_are_no_preference(
    ec2: tuple[EC2Client, Stubber],
) -> None:
    client, stubber = ec2
    stubber.add_response("get_instance_metadata_defaults", {"AccountLevel": {}})
    defaults = get_account_defaults(client, "eu-west-1")
    assert (defaults.http_tokens, defaults.hop_limit, defaults.managed_by) == (None, None, None)


def test_botocore_model_has_no_top_level_managed_by(ec2: tuple[EC2Client, Stubber]) -> None:
    """AWS's doc example shows ManagedBy at the top level; botocore's model does not.

    If this starts failing, botocore learned the top-level field and the Stubber test
    above can cover that shape too.
    """
    _, stubber = ec2
    with pytest.raises(ParamValidationError):
        stubber.add_response(
            "get_instance_metadata_defaults",
            {"AccountLevel": {"HttpTokens": "required"}, "ManagedBy": "declarative-policy"},
        )


@pytest.mark.parametrize(
    "reply",
    [
        # The documentation example's shape: ManagedBy next to AccountLevel.
        {
            "AccountLevel": {"HttpTokens": "required"},
            "ManagedBy": "declarative-policy",
            "ManagedExceptionMessage": "managed centrally",
        },
        # The botocore model's shape.
        {
            "AccountLevel": {
                "HttpTokens": "required",
                "ManagedBy": "declarative-policy",
                "ManagedExceptionMessage": "managed centrally",
            }
        },
    ],
)
def test_parse_account_defaults_reads_managed_by_in_both_places(reply: dict[str, Any]) -> None:
    defaults = parse_account_defaults(reply, "us-east-1")
    assert defaults.managed_by == "declarative-policy"
    assert defaults.managed_exception_message == "managed centrally"
    assert defaults.resource_id == "imds-defaults/us-east-1"


def test_parse_account_defaults_clears_no_preference_values() -> None:
    reply = {"AccountLevel": {"HttpTokens": "no-preference", "HttpPutResponseHopLimit": -1}}
    defaults = parse_account_defaults(reply, "us-east-1")
    assert (defaults.http_tokens, defaults.hop_limit) == (None, None)


def test_account_defaults_denied_is_an_aws_error(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    stubber.add_client_error("get_instance_metadata_defaults", "UnauthorizedOperation")
    with pytest.raises(AwsError) as info:
        get_account_defaults(client, "eu-west-1")
    assert info.value.code == "UnauthorizedOperation"


# --- launch templates: moto caps describes at 15 (or MaxResults) and never pages ---


def summary(n: int) -> dict[str, Any]:
    return {
        "LaunchTemplateId": f"lt-{n}",
        "LaunchTemplateName": f"template-{n}",
        "DefaultVersionNumber": 1,
        "LatestVersionNumber": 2,
    }


def test_launch_templates_follow_next_token(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    stubber.add_response(
        "describe_launch_templates",
        {"LaunchTemplates": [summary(1), summary(2)], "NextToken": "page-2"},
        {"MaxResults": 200},
    )
    stubber.add_response(
        "describe_launch_templates",
        {"LaunchTemplates": [summary(3)]},
        {"MaxResults": 200, "NextToken": "page-2"},
    )
    templates = get_launch_templates(client)
    assert [t.template_id for t in templates] == ["lt-1", "lt-2", "lt-3"]
    assert (templates[0].default_version, templates[0].latest_version) == (1, 2)


def version_reply(number: int, md: dict[str, Any] | None) -> dict[str, Any]:
    data = {"MetadataOptions": md} if md is not None else {}
    return {"LaunchTemplateId": "lt-1", "VersionNumber": number, "LaunchTemplateData": data}


def test_template_versions_skip_a_deleted_version_but_read_the_rest(
    ec2: tuple[EC2Client, Stubber],
) -> None:
    client, stubber = ec2
    not_found = "InvalidLaunchTemplateId.VersionNotFound"
    stubber.add_client_error("describe_launch_template_versions", not_found)
    stubber.add_response(
        "describe_launch_template_versions",
        {"LaunchTemplateVersions": [version_reply(1, {"HttpTokens": "required"})]},
        {"LaunchTemplateId": "lt-1", "Versions": ["1"]},
    )
    stubber.add_client_error("describe_launch_template_versions", not_found)
    records = get_template_versions(client, "lt-1", (1, 7))
    assert [(r.number, r.metadata.http_tokens) for r in records] == [(1, "required")]


def test_template_versions_other_errors_fail_the_read(ec2: tuple[EC2Client, Stubber]) -> None:
    client, stubber = ec2
    stubber.add_client_error("describe_launch_template_versions", "UnauthorizedOperation")
    with pytest.raises(AwsError):
        get_template_versions(client, "lt-1", (1,))


def test_template_version_without_metadata_options_means_aws_defaults() -> None:
    record = parse_template_version(version_reply(3, None))
    assert (record.number, record.metadata.http_tokens, record.metadata_specified) == (
        3,
        "optional",
        False,
    )


def test_explicit_tokens_are_per_field_and_the_ami_is_kept() -> None:
    endpoint_only = version_reply(4, {"HttpEndpoint": "enabled"})
    endpoint_only["LaunchTemplateData"]["ImageId"] = "ami-0abc"
    record = parse_template_version(endpoint_only)
    # MetadataOptions present, but HttpTokens left to the launch precedence.
    assert (record.metadata_specified, record.explicit_tokens) == (True, None)
    assert record.image_id == "ami-0abc"
    explicit = parse_template_version(version_reply(5, {"HttpTokens": "optional"}))
    assert (explicit.explicit_tokens, explicit.image_id) == ("optional", None)


def test_launch_amis_are_read_by_filter_for_any_owner_and_missing_ones_are_absent(
    ec2: tuple[EC2Client, Stubber],
) -> None:
    client, stubber = ec2
    # No Owners: public and shared AMIs launch too. The stub fails on any other parameter.
    stubber.add_response(
        "describe_images",
        {"Images": [{"ImageId": "ami-public", "ImdsSupport": "v2.0", "State": "available"}]},
        {"Filters": [{"Name": "image-id", "Values": ["ami-gone", "ami-public"]}]},
    )
    found = get_images(client, ["ami-public", "ami-gone", "ami-public"])
    assert {i: image.imds_support for i, image in found.items()} == {"ami-public": "v2.0"}


# --- Auto Scaling shapes ---


def test_parse_group_reads_every_template_reference() -> None:
    raw = {
        "AutoScalingGroupName": "mixed",
        "MixedInstancesPolicy": {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "base"},
                "Overrides": [
                    {"InstanceType": "m5.large"},
                    {
                        "InstanceType": "m6g.large",
                        "LaunchTemplateSpecification": {
                            "LaunchTemplateId": "lt-arm",
                            "Version": "4",
                        },
                    },
                ],
            }
        },
    }
    group = parse_group(raw)
    assert group.launch_configuration is None
    assert [(r.via, r.template_id, r.template_name, r.version) for r in group.templates] == [
        ("MixedInstancesPolicy", None, "base", "$Default"),  # omitted Version = $Default
        ("MixedInstancesPolicy.Overrides", "lt-arm", None, "4"),
    ]


def test_parse_group_with_launch_configuration() -> None:
    group = parse_group({"AutoScalingGroupName": "old", "LaunchConfigurationName": "lc-1"})
    assert (group.launch_configuration, group.templates) == ("lc-1", ())


def test_parse_launch_configuration_missing_metadata_is_optional() -> None:
    config = parse_launch_configuration({"LaunchConfigurationName": "lc-1"})
    assert (config.metadata.http_tokens, config.metadata_specified) == ("optional", False)
    required = parse_launch_configuration(
        {"LaunchConfigurationName": "lc-2", "MetadataOptions": {"HttpTokens": "required"}}
    )
    assert (required.metadata.http_tokens, required.metadata_specified) == ("required", True)
    assert (config.explicit_tokens, required.explicit_tokens) == (None, "required")


def test_parse_launch_configuration_keeps_its_ami_and_per_field_tokens() -> None:
    config = parse_launch_configuration(
        {
            "LaunchConfigurationName": "lc-3",
            "ImageId": "ami-0abc",
            "MetadataOptions": {"HttpPutResponseHopLimit": 2},
        }
    )
    assert (config.image_id, config.metadata_specified, config.explicit_tokens) == (
        "ami-0abc",
        True,
        None,
    )
