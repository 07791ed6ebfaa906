"""EC2 launch templates: DescribeLaunchTemplates(Versions), CreateLaunchTemplateVersion and
ModifyLaunchTemplate. get_* call AWS; parse_* are pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from imdsguard.aws.errors import aws_errors
from imdsguard.aws.instances import parse_explicit_tokens, parse_metadata_options
from imdsguard.errors import AwsError
from imdsguard.model.launch import TemplateSummary, VersionRecord
from imdsguard.model.scan import MetadataOptions

if TYPE_CHECKING:
    from botocore.model import Shape
    from mypy_boto3_ec2 import EC2Client

# DescribeLaunchTemplates accepts MaxResults 1-200. moto answers at most MaxResults (15 when
# unset) and never sends a NextToken (docs/aws-behaviour.md#the-emulator), so asking for the AWS
# maximum keeps up to 200 templates per Region visible in the emulator; AWS itself paginates.
TEMPLATE_PAGE_SIZE = 200
# moto also caps DescribeLaunchTemplateVersions at 15 when MaxResults is unset, and AWS
# refuses MaxResults together with explicit Versions, so explicit versions go in batches.
VERSION_BATCH = 15
VERSION_NOT_FOUND = "InvalidLaunchTemplateId.VersionNotFound"
GONE = frozenset(
    {
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.VersionNotFound",
    }
)
# Versions created after the plan are few; AWS's MaxResults maximum also keeps moto, which
# never paginates this call (docs/aws-behaviour.md#the-emulator), from stopping at 15.
MAX_VERSIONS = 200


@dataclass(frozen=True, slots=True)
class VersionData:
    """One template version as written: its full data and its description."""

    number: int
    data: Mapping[str, Any]
    description: str

    @property
    def metadata(self) -> Mapping[str, Any] | None:
        options = self.data.get("MetadataOptions")
        return options if isinstance(options, Mapping) else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def parse_template(raw: Mapping[str, Any]) -> TemplateSummary:
    """Pure: one DescribeLaunchTemplates entry -> TemplateSummary."""
    return TemplateSummary(
        template_id=str(raw["LaunchTemplateId"]),
        name=raw.get("LaunchTemplateName"),
        default_version=int(raw.get("DefaultVersionNumber", 1)),
        latest_version=int(raw.get("LatestVersionNumber", 1)),
    )


def parse_template_version(raw: Mapping[str, Any]) -> VersionRecord:
    """Pure: one DescribeLaunchTemplateVersions entry -> VersionRecord."""
    data = raw.get("LaunchTemplateData") or {}
    metadata = data.get("MetadataOptions")
    return VersionRecord(
        template_id=str(raw["LaunchTemplateId"]),
        number=int(raw["VersionNumber"]),
        metadata=parse_metadata_options(metadata),
        metadata_specified=bool(metadata),
        explicit_tokens=parse_explicit_tokens(metadata),
        image_id=data.get("ImageId") or None,
    )


def get_launch_templates(client: EC2Client) -> list[TemplateSummary]:
    """Every launch template in the client's Region, paginated."""
    paginator = client.get_paginator("describe_launch_templates")
    with aws_errors("DescribeLaunchTemplates"):
        return [
            parse_template(raw)
            for page in paginator.paginate(PaginationConfig={"PageSize": TEMPLATE_PAGE_SIZE})
            for raw in page.get("LaunchTemplates", [])
        ]


def get_template_versions(
    client: EC2Client, template_id: str, numbers: tuple[int, ...]
) -> list[VersionRecord]:
    """The given versions of one template; versions that no longer exist are left out.

    AWS fails the whole call if one explicit version was deleted (a group can still point
    at it); then each version is asked for alone so the others are still read.
    """
    records: list[VersionRecord] = []
    with aws_errors("DescribeLaunchTemplateVersions"):
        for start in range(0, len(numbers), VERSION_BATCH):
            batch = numbers[start : start + VERSION_BATCH]
            try:
                records.extend(_describe_versions(client, template_id, batch))
            except ClientError as exc:
                if _code(exc) != VERSION_NOT_FOUND:
                    raise
                records.extend(_versions_one_by_one(client, template_id, batch))
    return records


def _describe_versions(
    client: EC2Client, template_id: str, numbers: tuple[int, ...]
) -> Iterator[VersionRecord]:
    paginator = client.get_paginator("describe_launch_template_versions")
    pages = paginator.paginate(LaunchTemplateId=template_id, Versions=[str(n) for n in numbers])
    for page in pages:
        for raw in page.get("LaunchTemplateVersions", []):
            yield parse_template_version(raw)


def _versions_one_by_one(
    client: EC2Client, template_id: str, numbers: tuple[int, ...]
) -> list[VersionRecord]:
    records: list[VersionRecord] = []
    for number in numbers:
        try:
            records.extend(_describe_versions(client, template_id, (number,)))
        except ClientError as exc:
            if _code(exc) != VERSION_NOT_FOUND:
                raise
    return records


def get_template(client: EC2Client, template_id: str) -> TemplateSummary | None:
    """Re-read one template's default and latest version numbers; ``None`` if deleted."""
    try:
        reply = client.describe_launch_templates(LaunchTemplateIds=[template_id])
    except ClientError as exc:
        if _code(exc) in GONE:
            return None
        with aws_errors("DescribeLaunchTemplates"):
            raise
    templates = reply.get("LaunchTemplates", [])
    return parse_template(templates[0]) if templates else None


def _version(raw: Mapping[str, Any]) -> VersionData:
    return VersionData(
        number=int(raw["VersionNumber"]),
        data=dict(raw.get("LaunchTemplateData") or {}),
        description=str(raw.get("VersionDescription") or ""),
    )


def get_version(client: EC2Client, template_id: str, number: int) -> VersionData | None:
    try:
        reply = client.describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=[str(number)]
        )
    except ClientError as exc:
        if _code(exc) in GONE:
            return None
        with aws_errors("DescribeLaunchTemplateVersions"):
            raise
    versions = reply.get("LaunchTemplateVersions", [])
    return _version(versions[0]) if versions else None


def find_version(client: EC2Client, template_id: str, since: int, marker: str) -> int | None:
    """The version numbered ``since`` or later whose description carries ``marker``."""
    with aws_errors("DescribeLaunchTemplateVersions"):
        reply = client.describe_launch_template_versions(
            LaunchTemplateId=template_id, MinVersion=str(since), MaxResults=MAX_VERSIONS
        )
    for raw in reply.get("LaunchTemplateVersions", []):
        if marker in str(raw.get("VersionDescription") or ""):
            return int(raw["VersionNumber"])
    return None


def _fit(value: Any, shape: Shape) -> Any:
    """Keep only what the request shape accepts: describe answers carry read-only fields
    (and names) that CreateLaunchTemplateVersion's parameter validation rejects."""
    if shape.type_name == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return {k: _fit(v, members[k]) for k, v in value.items() if k in members}
    if shape.type_name == "list":
        return [_fit(item, shape.member) for item in value]  # type: ignore[attr-defined]
    return value


def with_metadata(client: EC2Client, data: Mapping[str, Any], options: MetadataOptions) -> Any:
    """Pure but for the model lookup: ``data`` as request data, MetadataOptions replaced."""
    shape = client.meta.service_model.operation_model("CreateLaunchTemplateVersion").input_shape
    assert shape is not None
    request = _fit(dict(data), shape.members["LaunchTemplateData"])
    request["MetadataOptions"] = {
        "HttpTokens": options.http_tokens,
        "HttpEndpoint": options.http_endpoint,
        "HttpPutResponseHopLimit": options.hop_limit,
        "HttpProtocolIpv6": options.http_protocol_ipv6,
        "InstanceMetadataTags": options.instance_metadata_tags,
    }
    return request


def create_version(client: EC2Client, template_id: str, source: int, data: Any, marker: str) -> int:
    """A new version from ``source`` with the full ``data`` (moto does not inherit
    SourceVersion, docs/aws-behaviour.md#the-emulator). ``marker`` is the ClientToken, so AWS
    itself answers a
    retried request with the same version, and sits in the description for resume."""
    with aws_errors("CreateLaunchTemplateVersion"):
        reply = client.create_launch_template_version(
            LaunchTemplateId=template_id,
            SourceVersion=str(source),
            LaunchTemplateData=data,
            VersionDescription=f"imdsguard: require IMDSv2 ({marker})",
            ClientToken=marker,
        )
    return int(reply["LaunchTemplateVersion"]["VersionNumber"])


def set_default(client: EC2Client, template_id: str, number: int, dry_run: bool = False) -> None:
    """ModifyLaunchTemplate(DefaultVersion); with ``dry_run`` only the permission check."""
    try:
        client.modify_launch_template(
            LaunchTemplateId=template_id, DefaultVersion=str(number), DryRun=dry_run
        )
    except ClientError as exc:
        if dry_run and _code(exc) == "DryRunOperation":
            return
        with aws_errors("ModifyLaunchTemplate"):
            raise
    if dry_run:
        # Harmless here (it re-sets the current default), but it tested no permission.
        raise AwsError(
            "DryRunIgnored",
            "the endpoint executed a DryRun request instead of answering DryRunOperation",
            "ModifyLaunchTemplate(DryRun)",
        )
