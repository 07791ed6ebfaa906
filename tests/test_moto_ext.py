"""The emulator extension: moto lacks IMDS account defaults and drops AMI ImdsSupport."""

from __future__ import annotations

from imdsguard.aws.account_defaults import get_account_defaults
from imdsguard.aws.session import SessionFactory
from tests.conftest import own


def test_defaults_are_stored_per_region_and_cleared_with_no_preference(
    factory: SessionFactory,
) -> None:
    west = factory.ec2(own(factory), "eu-west-1")
    east = factory.ec2(own(factory), "us-east-1")
    west.modify_instance_metadata_defaults(
        HttpTokens="required", HttpPutResponseHopLimit=2, HttpTokensEnforced="enabled"
    )
    # Omitted fields stay as they were, as on AWS.
    west.modify_instance_metadata_defaults(HttpEndpoint="enabled")
    level = west.get_instance_metadata_defaults()["AccountLevel"]
    assert level == {
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled",
        "HttpTokensEnforced": "enabled",
        "ManagedBy": "account",
    }
    assert get_account_defaults(east, "us-east-1").http_tokens is None
    west.modify_instance_metadata_defaults(
        HttpTokens="no-preference", HttpPutResponseHopLimit=-1, HttpTokensEnforced="no-preference"
    )
    cleared = get_account_defaults(west, "eu-west-1")
    assert (cleared.http_tokens, cleared.hop_limit, cleared.http_tokens_enforced) == (
        None,
        None,
        None,
    )
    assert cleared.http_endpoint == "enabled"


def test_register_image_keeps_imds_support(factory: SessionFactory) -> None:
    ec2 = factory.ec2(own(factory), "eu-west-1")
    v2 = ec2.register_image(Name="golden-imdsv2", ImdsSupport="v2.0")["ImageId"]
    plain = ec2.register_image(Name="golden-2019")["ImageId"]
    images = {
        i["ImageId"]: i.get("ImdsSupport") for i in ec2.describe_images(Owners=["self"])["Images"]
    }
    assert images == {v2: "v2.0", plain: None}
