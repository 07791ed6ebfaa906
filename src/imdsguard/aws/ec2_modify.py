"""EC2 adapters for remediation: modify (real and DryRun), batched re-reads, AMI names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from imdsguard.aws.ec2 import parse_instance
from imdsguard.aws.errors import aws_errors
from imdsguard.errors import AwsError
from imdsguard.model.scan import Instance, MetadataOptions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ModifyInstanceMetadataOptionsRequestTypeDef

# Filter values per Describe call: well under the documented request size limits.
IMAGE_BATCH = 200
INSTANCE_BATCH = 200


def _request(
    instance_id: str, options: MetadataOptions, dry_run: bool
) -> ModifyInstanceMetadataOptionsRequestTypeDef:
    # Always the FULL set: real EC2 keeps omitted fields, moto resets them
    # (docs/aws-behaviour.md#the-emulator),
    # so only a full set gives the same result everywhere. AWS asks for HttpEndpoint with
    # tokens or hop limit anyway.
    return {
        "InstanceId": instance_id,
        "HttpTokens": options.http_tokens,  # type: ignore[typeddict-item]
        "HttpEndpoint": options.http_endpoint,  # type: ignore[typeddict-item]
        "HttpPutResponseHopLimit": options.hop_limit,
        "HttpProtocolIpv6": options.http_protocol_ipv6,  # type: ignore[typeddict-item]
        "InstanceMetadataTags": options.instance_metadata_tags,  # type: ignore[typeddict-item]
        "DryRun": dry_run,
    }


def modify_metadata_options(client: EC2Client, instance_id: str, options: MetadataOptions) -> None:
    """Set the full metadata options of one instance; raises AwsError (after retries)."""
    with aws_errors("ModifyInstanceMetadataOptions"):
        client.modify_instance_metadata_options(**_request(instance_id, options, False))


def check_modify_permission(client: EC2Client, instance_id: str, options: MetadataOptions) -> None:
    """DryRun the modify; return if allowed (DryRunOperation), raise AwsError if not."""
    try:
        client.modify_instance_metadata_options(**_request(instance_id, options, True))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
            return
        with aws_errors("ModifyInstanceMetadataOptions(DryRun)"):
            raise
    # Real EC2 never answers a DryRun with success; moto does, and APPLIES the change
    # (docs/aws-behaviour.md#the-emulator). Say so rather than report a permission we could not
    # really test.
    raise AwsError(
        "DryRunIgnored",
        "the endpoint executed a DryRun request instead of answering DryRunOperation",
        "ModifyInstanceMetadataOptions(DryRun)",
    )


def get_instances_by_id(client: EC2Client, instance_ids: Sequence[str]) -> dict[str, Instance]:
    """The instances still known to EC2, by id; vanished ones are simply absent.

    A filter, not InstanceIds=: with InstanceIds one vanished instance fails the call
    (InvalidInstanceID.NotFound) for all the others.
    """
    found: dict[str, Instance] = {}
    ids = sorted(set(instance_ids))
    paginator = client.get_paginator("describe_instances")
    with aws_errors("DescribeInstances"):
        for start in range(0, len(ids), INSTANCE_BATCH):
            chunk = ids[start : start + INSTANCE_BATCH]
            pages = paginator.paginate(Filters=[{"Name": "instance-id", "Values": chunk}])
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for raw in reservation.get("Instances", []):
                        instance = parse_instance(raw)
                        found[instance.instance_id] = instance
    return found


def get_image_names(client: EC2Client, image_ids: Sequence[str]) -> dict[str, str]:
    """AMI id -> name for the images still visible; missing ones are simply absent.

    A filter, not ImageIds=: with ImageIds one deregistered AMI fails the whole call.
    """
    names: dict[str, str] = {}
    ids = sorted(set(image_ids))
    with aws_errors("DescribeImages"):
        for start in range(0, len(ids), IMAGE_BATCH):
            chunk = ids[start : start + IMAGE_BATCH]
            reply = client.describe_images(Filters=[{"Name": "image-id", "Values": chunk}])
            for image in reply.get("Images", []):
                names[image["ImageId"]] = str(image.get("Name", ""))
    return names
