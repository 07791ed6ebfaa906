"""EC2 instances: DescribeInstances (scan and re-reads) and ModifyInstanceMetadataOptions.

get_* call AWS; parse_* are pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from imdsguard.aws.errors import aws_errors, check_permission, known
from imdsguard.aws.instance_pages import targeted
from imdsguard.errors import AwsError
from imdsguard.model.scan import (
    HTTP_TOKENS,
    METADATA_STATES,
    SWITCH,
    HttpTokens,
    Instance,
    MetadataOptions,
    one_of,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ModifyInstanceMetadataOptionsRequestTypeDef

# DescribeInstances with MaxResults stays in the paginated bucket (100, +20/s) instead of
# the unpaginated one (50, +10/s). See docs/aws-behaviour.md#rate-limits.
PAGE_SIZE = 1000
# Filter values per Describe call: well under the documented request size limits.
INSTANCE_BATCH = 200

_Member = TypeVar("_Member", bound=str)


def parse_metadata_options(raw: Mapping[str, Any] | None) -> MetadataOptions:
    """Pure: MetadataOptions dict -> dataclass, filling documented defaults.

    Raises AwsError naming the field when AWS answers a value outside its documented set.
    """
    raw = raw or {}
    default = MetadataOptions()

    def setting(key: str, allowed: tuple[_Member, ...], fallback: str) -> _Member:
        return known(raw.get(key, fallback), allowed, f"MetadataOptions.{key}")

    return MetadataOptions(
        http_tokens=setting("HttpTokens", HTTP_TOKENS, default.http_tokens),
        http_endpoint=setting("HttpEndpoint", SWITCH, default.http_endpoint),
        hop_limit=int(raw.get("HttpPutResponseHopLimit", default.hop_limit)),
        state=setting("State", METADATA_STATES, default.state),
        http_protocol_ipv6=setting("HttpProtocolIpv6", SWITCH, default.http_protocol_ipv6),
        instance_metadata_tags=setting(
            "InstanceMetadataTags", SWITCH, default.instance_metadata_tags
        ),
    )


def parse_explicit_tokens(raw: Mapping[str, Any] | None) -> HttpTokens | None:
    """Pure: the HttpTokens a MetadataOptions block sets itself, ``None`` when it leaves it
    out. Per field: a block that sets only HttpEndpoint leaves tokens to the launch
    precedence (docs/aws-behaviour.md#the-api)."""
    if not raw or raw.get("HttpTokens") is None:
        return None
    return known(raw["HttpTokens"], HTTP_TOKENS, "MetadataOptions.HttpTokens")


def parse_tags(raw: Any) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in raw or () if "Key" in t}


def parse_instance(raw: Mapping[str, Any]) -> Instance:
    """Pure: one DescribeInstances instance dict -> Instance."""
    tags = parse_tags(raw.get("Tags"))
    launch_time = raw.get("LaunchTime")
    profile = raw.get("IamInstanceProfile") or {}
    return Instance(
        instance_id=str(raw["InstanceId"]),
        instance_state=str((raw.get("State") or {}).get("Name", "unknown")),
        metadata=parse_metadata_options(raw.get("MetadataOptions")),
        name=tags.get("Name"),
        iam_instance_profile=profile.get("Arn"),
        launch_time=launch_time if isinstance(launch_time, datetime) else None,
        image_id=raw.get("ImageId"),
        instance_type=raw.get("InstanceType"),
        tags=tags,
    )


def get_instances(client: EC2Client) -> Iterator[Instance]:
    """Stream every instance in the client's Region, page by page.

    ``targeted``: each page is parsed for what parse_instance reads only, for a ninth of
    the CPU botocore's parser spends on all of it (aws/instance_pages.py, bench parse).
    """
    paginator = client.get_paginator("describe_instances")
    with aws_errors("DescribeInstances"):
        for page in targeted(paginator.paginate(PaginationConfig={"PageSize": PAGE_SIZE})):
            for reservation in page.get("Reservations", []):
                for raw in reservation.get("Instances", []):
                    yield parse_instance(raw)


def get_instance(client: EC2Client, instance_id: str) -> Instance | None:
    """Re-read one instance; ``None`` if AWS no longer knows it."""
    try:
        with aws_errors("DescribeInstances"):
            reply = client.describe_instances(InstanceIds=[instance_id])
    except AwsError as exc:
        if exc.code == "InvalidInstanceID.NotFound":
            return None
        raise
    for reservation in reply.get("Reservations", []):
        for raw in reservation.get("Instances", []):
            return parse_instance(raw)
    # EC2 answers an id it does not know with InvalidInstanceID.NotFound, never with an
    # empty list: only that error may close a change as "gone" (resume never retries it).
    raise AwsError(
        "MissingFromReply",
        f"DescribeInstances answered without {instance_id} and without InvalidInstanceID.NotFound",
        "DescribeInstances",
    )


def get_instances_by_id(client: EC2Client, instance_ids: Sequence[str]) -> dict[str, Instance]:
    """The instances still known to EC2, by id; absent only if EC2 says it does not know it.

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
            for page in targeted(pages):
                for reservation in page.get("Reservations", []):
                    for raw in reservation.get("Instances", []):
                        instance = parse_instance(raw)
                        found[instance.instance_id] = instance
    # A filter answers a vanished id with silence, and so might a reply that is not
    # EC2's: ask for each missing one by id, so only InvalidInstanceID.NotFound says gone.
    for instance_id in ids:
        if instance_id not in found:
            again = get_instance(client, instance_id)
            if again is not None:
                found[instance_id] = again
    return found


def _request(
    instance_id: str, options: MetadataOptions
) -> ModifyInstanceMetadataOptionsRequestTypeDef:
    # Always the FULL set: real EC2 keeps omitted fields, moto resets them
    # (docs/aws-behaviour.md#the-emulator),
    # so only a full set gives the same result everywhere. AWS asks for HttpEndpoint with
    # tokens or hop limit anyway.
    try:
        # ``no-preference`` belongs to account defaults only; EC2 would refuse it here.
        return {
            "InstanceId": instance_id,
            "HttpTokens": one_of(options.http_tokens, HTTP_TOKENS, "HttpTokens"),
            "HttpEndpoint": one_of(options.http_endpoint, SWITCH, "HttpEndpoint"),
            "HttpPutResponseHopLimit": options.hop_limit,
            "HttpProtocolIpv6": one_of(options.http_protocol_ipv6, SWITCH, "HttpProtocolIpv6"),
            "InstanceMetadataTags": one_of(
                options.instance_metadata_tags, SWITCH, "InstanceMetadataTags"
            ),
        }
    except ValueError as exc:
        raise AwsError("InvalidParameterValue", str(exc), "ModifyInstanceMetadataOptions") from exc


def modify_metadata_options(client: EC2Client, instance_id: str, options: MetadataOptions) -> None:
    """Set the full metadata options of one instance; raises AwsError (after retries)."""
    request = _request(instance_id, options)
    request["DryRun"] = False
    with aws_errors("ModifyInstanceMetadataOptions"):
        client.modify_instance_metadata_options(**request)


def check_modify_permission(client: EC2Client, instance_id: str, options: MetadataOptions) -> None:
    """DryRun the modify; return if allowed (DryRunOperation), raise AwsError if not."""
    check_permission(
        client.modify_instance_metadata_options,
        "ModifyInstanceMetadataOptions(DryRun)",
        **_request(instance_id, options),
    )
