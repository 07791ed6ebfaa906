"""Frozen resource kinds that decide how NEW instances launch (templates, ASGs, AMIs, defaults),
and the Describe records the launch kinds are joined from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from imdsguard.model.effective import NOT_JOINED, EffectiveTokens
from imdsguard.model.scan import (
    HttpTokens,
    JSONValue,
    MetadataOptions,
    Switch,
    SwitchSetting,
    TokensSetting,
)

LaunchSourceKind = Literal["launch-template", "launch-configuration"]

# How a group names a template version besides a number (an omitted Version means $Default).
DEFAULT = "$Default"
LATEST = "$Latest"

DECLARATIVE_POLICY = "declarative-policy"
LC_REMEDIATION = (
    "launch configurations cannot be modified: migrate the groups that use it to a "
    "launch template that requires IMDSv2"
)


def _metadata_json(md: MetadataOptions, specified: bool) -> dict[str, JSONValue]:
    return {
        "http_tokens": md.http_tokens,
        "http_endpoint": md.http_endpoint,
        "hop_limit": md.hop_limit,
        # False: the version carries no MetadataOptions, so AWS defaults (optional) apply.
        "metadata_options_set": specified,
    }


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    """One launch-template version that matters: the default, the latest, or one a group uses."""

    number: int
    metadata: MetadataOptions
    metadata_specified: bool
    used_by: tuple[str, ...] = ()  # Auto Scaling groups launching exactly this version
    image_id: str | None = None
    effective: EffectiveTokens = NOT_JOINED

    def as_json(self, default: int, latest: int) -> dict[str, JSONValue]:
        doc: dict[str, JSONValue] = {
            "version": self.number,
            "is_default": self.number == default,
            "is_latest": self.number == latest,
        }
        doc.update(_metadata_json(self.metadata, self.metadata_specified))
        doc["image_id"] = self.image_id
        doc.update(self.effective.as_json())
        doc["used_by_groups"] = list(self.used_by)
        return doc


@dataclass(frozen=True, slots=True)
class LaunchTemplate:
    """An EC2 launch template with its default, latest and group-referenced versions."""

    RESOURCE_TYPE: ClassVar[str] = "AwsEc2LaunchTemplate"

    template_id: str
    name: str | None
    default_version: int
    latest_version: int
    versions: tuple[TemplateVersion, ...]  # sorted by number, one entry per version

    @property
    def resource_id(self) -> str:
        return self.template_id

    def version(self, number: int) -> TemplateVersion | None:
        return next((v for v in self.versions if v.number == number), None)

    def evidence(self) -> dict[str, JSONValue]:
        default = self.version(self.default_version)
        latest = self.version(self.latest_version)
        groups = sorted({g for v in self.versions for g in v.used_by})
        return {
            "default_version": self.default_version,
            "default_http_tokens": default.metadata.http_tokens if default else None,
            "default_hop_limit": default.metadata.hop_limit if default else None,
            # What a $Default launch gets under the launch precedence (docs/resources.md).
            "default_effective_http_tokens": default.effective.http_tokens if default else None,
            "default_effective_source": default.effective.source if default else "unknown",
            "latest_version": self.latest_version,
            "latest_http_tokens": latest.metadata.http_tokens if latest else None,
            "used_by_groups": list(groups),
            "versions": [
                v.as_json(self.default_version, self.latest_version) for v in self.versions
            ],
        }


@dataclass(frozen=True, slots=True)
class LaunchConfiguration:
    """An Auto Scaling launch configuration (immutable; only migration fixes it)."""

    RESOURCE_TYPE: ClassVar[str] = "AwsAutoScalingLaunchConfiguration"

    name: str
    metadata: MetadataOptions
    metadata_specified: bool
    used_by: tuple[str, ...] = ()
    created_time: datetime | None = None
    image_id: str | None = None
    explicit_tokens: HttpTokens | None = None  # MetadataOptions.HttpTokens, when it is set
    effective: EffectiveTokens = NOT_JOINED

    @property
    def resource_id(self) -> str:
        return self.name

    def evidence(self) -> dict[str, JSONValue]:
        doc = _metadata_json(self.metadata, self.metadata_specified)
        doc["image_id"] = self.image_id
        doc.update(self.effective.as_json())
        doc["used_by_groups"] = list(self.used_by)
        doc["created_time"] = self.created_time.isoformat() if self.created_time else None
        doc["remediation"] = LC_REMEDIATION
        return doc


@dataclass(frozen=True, slots=True)
class LaunchSource:
    """What a group launches from, resolved: a template version or a launch configuration.

    ``http_tokens`` is ``None`` when the source could not be found (deleted template or
    launch configuration, or a version number that no longer exists).
    """

    kind: LaunchSourceKind
    identifier: str  # template id (or name when unresolved) or launch configuration name
    via: str  # LaunchTemplate | LaunchConfigurationName | MixedInstancesPolicy[.Overrides]
    requested_version: str | None = None  # "$Default", "$Latest" or a number, as configured
    resolved_version: int | None = None
    http_tokens: TokensSetting | None = None
    http_endpoint: SwitchSetting | None = None
    effective: EffectiveTokens = NOT_JOINED

    def as_json(self) -> dict[str, JSONValue]:
        doc: dict[str, JSONValue] = {
            "kind": self.kind,
            "id": self.identifier,
            "via": self.via,
            "requested_version": self.requested_version,
            "resolved_version": self.resolved_version,
            "http_tokens": self.http_tokens,
            "http_endpoint": self.http_endpoint,
        }
        doc.update(self.effective.as_json())
        return doc


@dataclass(frozen=True, slots=True)
class AutoScalingGroup:
    """An Auto Scaling group and every launch source it can launch from."""

    RESOURCE_TYPE: ClassVar[str] = "AwsAutoScalingAutoScalingGroup"

    name: str
    sources: tuple[LaunchSource, ...]

    @property
    def resource_id(self) -> str:
        return self.name

    def evidence(self) -> dict[str, JSONValue]:
        tokens = [s.http_tokens for s in self.sources]
        return {
            "launch_sources": [s.as_json() for s in self.sources],
            "requires_tokens": bool(tokens) and all(t == "required" for t in tokens),
        }


@dataclass(frozen=True, slots=True)
class Image:
    """An AMI the account owns; ``imds_support`` is ``v2.0`` or unset."""

    RESOURCE_TYPE: ClassVar[str] = "AwsEc2Image"

    image_id: str
    name: str | None
    imds_support: str | None
    state: str = "available"
    creation_date: str | None = None

    @property
    def resource_id(self) -> str:
        return self.image_id

    def evidence(self) -> dict[str, JSONValue]:
        return {
            "imds_support": self.imds_support,
            "image_state": self.state,
            "creation_date": self.creation_date,
        }


@dataclass(frozen=True, slots=True)
class AccountImdsDefaults:
    """The account's IMDS defaults in one Region (GetInstanceMetadataDefaults).

    ``None`` means no preference: the next rule in the launch precedence decides.
    """

    RESOURCE_TYPE: ClassVar[str] = "AwsEc2AccountImdsDefaults"

    region: str
    http_tokens: HttpTokens | None = None
    http_endpoint: Switch | None = None
    hop_limit: int | None = None
    instance_metadata_tags: Switch | None = None
    http_tokens_enforced: str | None = None
    managed_by: str | None = None
    managed_exception_message: str | None = None

    @property
    def resource_id(self) -> str:
        return f"imds-defaults/{self.region}"

    @property
    def name(self) -> str | None:
        return None

    @property
    def account_can_change(self) -> bool:
        return self.managed_by != DECLARATIVE_POLICY

    def evidence(self) -> dict[str, JSONValue]:
        return {
            "http_tokens": self.http_tokens,
            "http_endpoint": self.http_endpoint,
            "hop_limit": self.hop_limit,
            "instance_metadata_tags": self.instance_metadata_tags,
            "http_tokens_enforced": self.http_tokens_enforced,
            "managed_by": self.managed_by,
            "managed_exception_message": self.managed_exception_message,
            "account_can_change": self.account_can_change,
            "note": None
            if self.account_can_change
            else "managed by an AWS Organizations declarative policy: this account cannot "
            "change these defaults; change the policy instead",
        }


# Describe replies as read, before collect.launch joins them into the resources above.


@dataclass(frozen=True, slots=True)
class TemplateSummary:
    """One DescribeLaunchTemplates entry."""

    template_id: str
    name: str | None
    default_version: int
    latest_version: int


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One DescribeLaunchTemplateVersions entry, reduced to its IMDS settings and its AMI."""

    template_id: str
    number: int
    metadata: MetadataOptions
    metadata_specified: bool
    explicit_tokens: HttpTokens | None  # MetadataOptions.HttpTokens, when the version sets it
    image_id: str | None


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """A group's reference to a template, as configured (by id or by name)."""

    via: str
    version: str = DEFAULT  # AWS: an omitted Version means $Default
    template_id: str | None = None
    template_name: str | None = None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """One DescribeAutoScalingGroups entry, reduced to what it launches from."""

    name: str
    launch_configuration: str | None
    templates: tuple[TemplateRef, ...]
