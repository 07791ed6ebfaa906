"""EC2 account IMDS defaults per Region: GetInstanceMetadataDefaults and its Modify.

get_* call AWS; parse_* are pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from imdsguard.aws.errors import aws_errors, check_permission, known
from imdsguard.model.launch import AccountImdsDefaults
from imdsguard.model.scan import HTTP_TOKENS, SWITCH

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

DefaultsFields = Mapping[str, Any]  # ModifyInstanceMetadataDefaults parameters


_Member = TypeVar("_Member", bound=str)


def _preference(level: Mapping[str, Any], key: str, allowed: tuple[_Member, ...]) -> _Member | None:
    """``no-preference`` (or absent) means the defaults leave the choice to the next rule."""
    value = level.get(key)
    if value in (None, "", "no-preference"):
        return None
    return known(value, allowed, f"AccountLevel.{key}")


def parse_account_defaults(raw: Mapping[str, Any], region: str) -> AccountImdsDefaults:
    """Pure: a GetInstanceMetadataDefaults reply -> AccountImdsDefaults.

    The botocore model puts ManagedBy/ManagedExceptionMessage inside AccountLevel, but
    AWS's own documentation example shows them at the top level, so both are read.
    """
    level = raw.get("AccountLevel") or {}
    hop = level.get("HttpPutResponseHopLimit")
    return AccountImdsDefaults(
        region=region,
        http_tokens=_preference(level, "HttpTokens", HTTP_TOKENS),
        http_endpoint=_preference(level, "HttpEndpoint", SWITCH),
        hop_limit=int(hop) if hop not in (None, -1) else None,
        instance_metadata_tags=_preference(level, "InstanceMetadataTags", SWITCH),
        http_tokens_enforced=_preference(level, "HttpTokensEnforced", SWITCH),
        managed_by=level.get("ManagedBy") or raw.get("ManagedBy"),
        managed_exception_message=level.get("ManagedExceptionMessage")
        or raw.get("ManagedExceptionMessage"),
    )


def get_account_defaults(client: EC2Client, region: str) -> AccountImdsDefaults:
    """The account's IMDS defaults in ``region``; a failed read raises (never 'no findings')."""
    with aws_errors("GetInstanceMetadataDefaults"):
        reply = client.get_instance_metadata_defaults()
    return parse_account_defaults(reply, region)


def modify_defaults(client: EC2Client, fields: DefaultsFields, dry_run: bool = False) -> None:
    """Set only ``fields``: AWS leaves the others unchanged (no-preference/-1 clear one)."""
    operation = "ModifyInstanceMetadataDefaults"
    if dry_run:
        check_permission(client.modify_instance_metadata_defaults, operation, **fields)
        return
    with aws_errors(operation):
        client.modify_instance_metadata_defaults(**fields)
