"""Write-side adapters for account IMDS defaults (per Region) and AMI ImdsSupport."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from imdsguard.aws.ec2 import parse_image
from imdsguard.aws.errors import aws_errors
from imdsguard.errors import AwsError
from imdsguard.model.launch import Image

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

DefaultsFields = Mapping[str, Any]  # ModifyInstanceMetadataDefaults parameters


def _ignored(operation: str) -> AwsError:
    # Real EC2 never answers a DryRun with success; an emulator that does may have acted.
    return AwsError(
        "DryRunIgnored",
        "the endpoint executed a DryRun request instead of answering DryRunOperation",
        operation,
    )


def _dry_run(call: Any, operation: str, **params: Any) -> None:
    try:
        call(DryRun=True, **params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
            return
        with aws_errors(operation):
            raise
    raise _ignored(operation)


def modify_defaults(client: EC2Client, fields: DefaultsFields, dry_run: bool = False) -> None:
    """Set only ``fields``: AWS leaves the others unchanged (no-preference/-1 clear one)."""
    operation = "ModifyInstanceMetadataDefaults"
    if dry_run:
        _dry_run(client.modify_instance_metadata_defaults, operation, **fields)
        return
    with aws_errors(operation):
        client.modify_instance_metadata_defaults(**fields)


def get_image(client: EC2Client, image_id: str) -> Image | None:
    """One owned AMI, or ``None`` once deregistered (a filter: ImageIds= would fail)."""
    with aws_errors("DescribeImages"):
        reply = client.describe_images(Filters=[{"Name": "image-id", "Values": [image_id]}])
    images = reply.get("Images", [])
    return parse_image(images[0]) if images else None


def require_imdsv2(client: EC2Client, image_id: str) -> None:
    """ModifyImageAttribute ImdsSupport=v2.0. IRREVERSIBLE: AWS cannot unset it."""
    with aws_errors("ModifyImageAttribute"):
        client.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})


def check_image_permission(client: EC2Client, image_id: str) -> None:
    """DryRun ModifyImageAttribute re-setting the current description, never ImdsSupport:
    an endpoint that ignores DryRun (moto does for this call) must not make it irreversible."""
    with aws_errors("DescribeImageAttribute"):
        reply = client.describe_image_attribute(ImageId=image_id, Attribute="description")
    description = str((reply.get("Description") or {}).get("Value") or "")
    _dry_run(
        client.modify_image_attribute,
        "ModifyImageAttribute(DryRun)",
        ImageId=image_id,
        Description={"Value": description},
    )
