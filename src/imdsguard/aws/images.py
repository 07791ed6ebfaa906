"""EC2 AMIs: DescribeImages (owned images, re-reads, names, launch AMIs) and ImdsSupport writes.

get_* call AWS; parse_* are pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors, check_permission
from imdsguard.model.launch import Image

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PAGE_SIZE = 1000  # DescribeImages MaxResults maximum
# Filter values per Describe call: well under the documented request size limits.
IMAGE_BATCH = 200


def parse_image(raw: Mapping[str, Any]) -> Image:
    """Pure: one DescribeImages entry -> Image."""
    return Image(
        image_id=str(raw["ImageId"]),
        name=raw.get("Name"),
        imds_support=raw.get("ImdsSupport"),
        state=str(raw.get("State", "available")),
        creation_date=raw.get("CreationDate"),
    )


def get_owned_images(client: EC2Client) -> Iterator[Image]:
    """Every AMI the account owns in the client's Region (DescribeImages has no
    ImdsSupport filter, docs/aws-behaviour.md#the-api, so each one is judged client-side)."""
    paginator = client.get_paginator("describe_images")
    with aws_errors("DescribeImages"):
        for page in paginator.paginate(Owners=["self"], PaginationConfig={"PageSize": PAGE_SIZE}):
            for raw in page.get("Images", []):
                yield parse_image(raw)


def get_image(client: EC2Client, image_id: str) -> Image | None:
    """One owned AMI, or ``None`` once deregistered (a filter: ImageIds= would fail)."""
    with aws_errors("DescribeImages"):
        reply = client.describe_images(Filters=[{"Name": "image-id", "Values": [image_id]}])
    images = reply.get("Images", [])
    return parse_image(images[0]) if images else None


def get_images(client: EC2Client, image_ids: Sequence[str]) -> dict[str, Image]:
    """AMI id -> Image for every one the account can launch from (owned, shared or public);
    a deregistered or unshared one is simply absent.

    A filter, not ImageIds=: with ImageIds one deregistered AMI fails the whole call.
    Without Owners, DescribeImages answers every image the account has launch permission
    for, public ones included.
    """
    images: dict[str, Image] = {}
    ids = sorted(set(image_ids))
    with aws_errors("DescribeImages"):
        for start in range(0, len(ids), IMAGE_BATCH):
            chunk = ids[start : start + IMAGE_BATCH]
            reply = client.describe_images(Filters=[{"Name": "image-id", "Values": chunk}])
            for raw in reply.get("Images", []):
                image = parse_image(raw)
                images[image.image_id] = image
    return images


def get_image_names(client: EC2Client, image_ids: Sequence[str]) -> dict[str, str]:
    """AMI id -> name for the images still visible; missing ones are simply absent."""
    return {i: image.name or "" for i, image in get_images(client, image_ids).items()}


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
    check_permission(
        client.modify_image_attribute,
        "ModifyImageAttribute(DryRun)",
        ImageId=image_id,
        Description={"Value": description},
    )
