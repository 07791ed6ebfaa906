"""Plain frozen data shared by every pipeline stage: scopes, resources, findings, results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeAlias, TypeVar, get_args

if TYPE_CHECKING:
    from imdsguard.model.findings import Findings

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]

Status = Literal["PASS", "FAIL", "INFO"]
ImdsDisabledPolicy = Literal["pass", "fail"]

# Exit codes shared by every command (documented in the README).
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3

ALL_REGIONS = "*"


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """One account in one Region: the unit that is read, throttled and reported."""

    account_id: str
    region: str


# The closed value sets of EC2 MetadataOptions (DescribeInstances, launch templates and
# launch configurations use the same ones).
HttpTokens = Literal["optional", "required"]
Switch = Literal["enabled", "disabled"]  # HttpEndpoint, HttpProtocolIpv6, InstanceMetadataTags
MetadataState = Literal["pending", "applied"]
# An account-defaults change keeps its before/after in MetadataOptions in the terms of
# ModifyInstanceMetadataDefaults, where ``no-preference`` clears a field
# (docs/aws-behaviour.md#the-api). Nothing read from an instance or template carries it.
NoPreference = Literal["no-preference"]
TokensSetting: TypeAlias = HttpTokens | NoPreference
SwitchSetting: TypeAlias = Switch | NoPreference

HTTP_TOKENS: tuple[HttpTokens, ...] = get_args(HttpTokens)
SWITCH: tuple[Switch, ...] = get_args(Switch)
METADATA_STATES: tuple[MetadataState, ...] = get_args(MetadataState)
NO_PREFERENCE: NoPreference = "no-preference"
TOKENS_OR_UNSET: tuple[TokensSetting, ...] = (*HTTP_TOKENS, NO_PREFERENCE)
SWITCH_OR_UNSET: tuple[SwitchSetting, ...] = (*SWITCH, NO_PREFERENCE)

_Member = TypeVar("_Member", bound=str)


def one_of(value: object, allowed: tuple[_Member, ...], field: str) -> _Member:
    """Narrow ``value`` to a member of a closed set; ValueError naming ``field`` if it is none."""
    for member in allowed:
        if value == member:
            return member
    raise ValueError(f"{field} must be one of {', '.join(allowed)}, got {value!r}")


@dataclass(frozen=True, slots=True)
class MetadataOptions:
    """An instance's (or template's) IMDS settings, with AWS's documented defaults.

    The defaults apply when the API leaves a field out (moto does, see
    docs/aws-behaviour.md#the-emulator):
    a missing field never crashes evaluation, and a missing HttpTokens reads as the
    insecure ``optional``, which is what AWS launches without other instructions.
    """

    http_tokens: TokensSetting = "optional"
    http_endpoint: SwitchSetting = "enabled"
    hop_limit: int = 1
    state: MetadataState = "applied"
    http_protocol_ipv6: SwitchSetting = "disabled"
    instance_metadata_tags: SwitchSetting = "disabled"

    def as_json(self) -> dict[str, JSONValue]:
        return {
            "http_tokens": self.http_tokens,
            "http_endpoint": self.http_endpoint,
            "hop_limit": self.hop_limit,
            "metadata_state": self.state,
            "http_protocol_ipv6": self.http_protocol_ipv6,
            "instance_metadata_tags": self.instance_metadata_tags,
        }


class Resource(Protocol):
    """Anything a rule can judge. Each kind is one frozen dataclass."""

    RESOURCE_TYPE: ClassVar[str]

    @property
    def resource_id(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    def evidence(self) -> dict[str, JSONValue]:
        """Kind-specific fields that every report shows next to the verdict."""
        ...


@dataclass(frozen=True, slots=True)
class Instance:
    """An EC2 instance as far as IMDS is concerned."""

    RESOURCE_TYPE: ClassVar[str] = "AwsEc2Instance"

    instance_id: str
    instance_state: str
    metadata: MetadataOptions
    name: str | None = None
    iam_instance_profile: str | None = None
    launch_time: datetime | None = None
    image_id: str | None = None
    instance_type: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def resource_id(self) -> str:
        return self.instance_id

    def evidence(self) -> dict[str, JSONValue]:
        return {
            "instance_state": self.instance_state,
            "http_tokens": self.metadata.http_tokens,
            "http_endpoint": self.metadata.http_endpoint,
            "hop_limit": self.metadata.hop_limit,
            "metadata_state": self.metadata.state,
            "iam_instance_profile": self.iam_instance_profile,
            "launch_time": self.launch_time.isoformat() if self.launch_time else None,
            "image_id": self.image_id,
            "instance_type": self.instance_type,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """A verdict on one resource in one scope, with the reason and the evidence."""

    scope: Scope
    resource: Resource
    status: Status
    reason: str

    @property
    def resource_type(self) -> str:
        return self.resource.RESOURCE_TYPE

    @property
    def resource_id(self) -> str:
        return self.resource.resource_id

    @property
    def name(self) -> str | None:
        return self.resource.name


@dataclass(frozen=True, slots=True)
class ScopeOutcome:
    """How reading one scope went. ``error`` set means the scope is NOT known compliant.

    ``region`` is ``ALL_REGIONS`` when the whole account could not be entered (for
    example AssumeRole failed), so its Regions could not even be listed.
    """

    account_id: str
    region: str
    error: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    skipped: int = 0

    @property
    def status(self) -> Literal["ok", "error"]:
        return "error" if self.error is not None else "ok"

    @property
    def instances(self) -> int:
        return self.counts.get(Instance.RESOURCE_TYPE, 0)


@dataclass(frozen=True, slots=True)
class Summary:
    passed: int
    failed: int
    info: int
    scope_errors: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one scan learned. Every report format is a pure function of this.

    ``findings`` is a stream (model/findings.py): iterate it, never hold it whole.
    """

    tool_version: str
    generated_at: datetime
    scopes: tuple[ScopeOutcome, ...]
    findings: Findings
    # Set when the report is filtered to one framework (``--compliance``); see compliance.py.
    framework: str | None = None
    # The --resources kinds read, in model.kinds.RESOURCE_NAMES order; None = not recorded,
    # so nothing may be concluded about a kind (fail closed).
    kinds: tuple[str, ...] | None = None
    # The EvaluationOptions the verdicts were judged under; None = not recorded.
    evaluation: Mapping[str, JSONValue] | None = None
    # The caller's partition (GetCallerIdentity): every ARN a report builds is in it. Not in
    # the JSON document or the history, so a stored scan reports as "aws".
    partition: str = "aws"

    @property
    def scope_errors(self) -> tuple[ScopeOutcome, ...]:
        return tuple(s for s in self.scopes if s.error is not None)

    @property
    def summary(self) -> Summary:
        statuses = self.findings.statuses()
        return Summary(
            passed=statuses["PASS"],
            failed=statuses["FAIL"],
            info=statuses["INFO"],
            scope_errors=len(self.scope_errors),
        )

    def exit_code(self) -> int:
        """3 beats 1: an incomplete audit must never look clean, or merely failing."""
        summary = self.summary
        if summary.scope_errors:
            return EXIT_INCOMPLETE
        if summary.failed:
            return EXIT_FINDINGS
        return EXIT_OK
