"""Frozen option objects: the only form in which CLI input reaches the core."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from imdsguard.errors import UsageError, redact
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.scan import ImdsDisabledPolicy

ACCOUNT_ID = re.compile(r"^\d{12}$")
# IAM role names: 1-64 of [\w+=,.@-], optionally behind a path ("team/Audit").
ROLE_NAME = re.compile(r"^(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
# STS AssumeRole's RoleSessionName and DurationSeconds (docs/aws-behaviour.md#credentials).
ROLE_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
DURATION_SECONDS = (900, 43200)
# EC2 instance ids: i- and 8 (older) or 17 hex digits.
INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


@dataclass(frozen=True, slots=True)
class AwsOptions:
    """How to reach AWS: credentials, endpoint and retry behaviour."""

    profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 8
    # How other accounts' roles are assumed; None: not sent, so STS's own default applies.
    role_session_name: str = "imdsguard"
    duration_seconds: int | None = None

    def __post_init__(self) -> None:
        if not ROLE_SESSION_NAME.fullmatch(self.role_session_name):
            raise UsageError(
                f"bad --role-session-name {self.role_session_name!r}: "
                "2-64 characters of [\\w+=,.@-]"
            )
        low, high = DURATION_SECONDS
        if self.duration_seconds is not None and not low <= self.duration_seconds <= high:
            raise UsageError(f"--duration-seconds must be {low}..{high} (the STS range)")
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise UsageError(
                    f"bad --endpoint-url {redact(self.endpoint_url)!r}: expected http(s)://host[:port]"
                )


@dataclass(frozen=True, slots=True)
class ScopeOptions:
    """Which accounts and Regions to cover, and how to enter them."""

    regions: tuple[str, ...] | None = None
    accounts: tuple[str, ...] | None = None
    organization: bool = False
    role_name: str | None = None
    external_id: str | None = None
    max_workers: int = 8

    def __post_init__(self) -> None:
        for account in self.accounts or ():
            if not ACCOUNT_ID.match(account):
                raise UsageError(f"malformed account id {account!r}: expected 12 digits")
        if self.role_name is not None and not ROLE_NAME.match(self.role_name):
            raise UsageError(f"bad role name {self.role_name!r}: see IAM role naming rules")
        if self.external_id is not None and not EXTERNAL_ID.match(self.external_id):
            raise UsageError("bad external id: 2-1224 characters of [\\w+=,.@:/-]")
        # Once each, in order: a Region or account named twice must not be read twice.
        for name in ("regions", "accounts"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(dict.fromkeys(value)))
        if self.organization and self.accounts:
            raise UsageError("--organization and --accounts are mutually exclusive")
        if self.organization and self.role_name is None:
            raise UsageError(
                "--organization enters every member account with AssumeRole: give --role-name"
            )
        if self.max_workers < 1:
            raise UsageError("--max-workers must be at least 1")


# An IAM role ARN or pattern for aws:PrincipalArn; wildcards allowed (account "*", names).
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}|\*):role/[\w+=,.@/*?-]+$")
GuardrailFormat = Literal["scp", "iam"]
# The partitions whose ARNs imdsguard writes: commercial, China, GovCloud (US).
Partition = Literal["aws", "aws-cn", "aws-us-gov"]
PARTITIONS: tuple[Partition, ...] = ("aws", "aws-cn", "aws-us-gov")


@dataclass(frozen=True, slots=True)
class GuardrailOptions:
    """What the generated guardrail policy allows, and in which form it is printed."""

    format: GuardrailFormat = "scp"
    max_hop_limit: int | None = None
    allow_roles: tuple[str, ...] = ()
    pin_template_versions: bool = False
    partition: Partition = "aws"

    def __post_init__(self) -> None:
        if self.max_hop_limit is not None and not 1 <= self.max_hop_limit <= 64:
            raise UsageError("--max-hop-limit must be 1 to 64 (the IMDS hop limit range)")
        for arn in self.allow_roles:
            if not ROLE_ARN.match(arn):
                raise UsageError(
                    f"bad --allow-role {arn!r}: expected an IAM role ARN such as "
                    "arn:aws:iam::*:role/ImdsAdmin"
                )


PermissionsCommand = Literal["scan", "apply", "all"]
PermissionsFormat = Literal["json", "cloudformation", "terraform"]


@dataclass(frozen=True, slots=True)
class PermissionsOptions:
    """Which commands and kinds a generated policy covers, and in which form it is printed."""

    command: PermissionsCommand
    kinds: tuple[str, ...] = RESOURCE_NAMES
    format: PermissionsFormat = "json"
    partition: Partition = "aws"
    # Restrict sts:AssumeRole to this role (as scan's --role-name); None: any role.
    role_name: str | None = None
    # Let apply's policy also roll instances back (ModifyInstanceMetadataOptions unconditioned).
    rollback: bool = False
    security_hub: bool = False

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in RESOURCE_NAMES]
        if unknown or not self.kinds:
            raise UsageError(
                f"unknown kind(s) {', '.join(unknown)}; one of {', '.join(RESOURCE_NAMES)}"
            )
        if self.role_name is not None and not ROLE_NAME.match(self.role_name):
            raise UsageError(f"bad role name {self.role_name!r}: see IAM role naming rules")
        if self.partition not in PARTITIONS:
            raise UsageError(
                f"unknown partition {self.partition!r}; one of {', '.join(PARTITIONS)}"
            )


@dataclass(frozen=True, slots=True)
class EvaluationOptions:
    """Policy knobs for the pure rules."""

    imds_disabled: ImdsDisabledPolicy = "pass"
    # AMI ImdsSupport only decides when nothing else does (docs/aws-behaviour.md#the-api, launch
    # precedence), so by default an AMI without v2.0 is INFO; --strict-amis makes it FAIL.
    strict_amis: bool = False


# Metric retention caps a useful lookback at 455 days (1-hour points,
# docs/aws-behaviour.md#usage-metrics).
MAX_LOOKBACK_DAYS = 455


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What to change and what to hold back: evidence window, overrides, exemptions, hops."""

    lookback_days: int = 14
    include_in_use: bool = False
    include_unknown: bool = False
    exclude_tags: tuple[tuple[str, str], ...] = ()
    exclude_ids: frozenset[str] = frozenset()
    hop_limit: int | None = None
    container_hop_limit: bool = False
    # The kinds scanned and planned (--resources), as for scan.
    resources: tuple[str, ...] = RESOURCE_NAMES
    strict_amis: bool = False
    # Account defaults: also HttpTokensEnforced=enabled where every instance passes.
    enforce: bool = False
    # Plan AMI ImdsSupport=v2.0 changes (irreversible; apply asks again).
    amis: bool = False

    def __post_init__(self) -> None:
        if not _is_int(self.lookback_days) or not 1 <= self.lookback_days <= MAX_LOOKBACK_DAYS:
            raise UsageError(f"--lookback-days must be 1..{MAX_LOOKBACK_DAYS}")
        if self.hop_limit is not None and (
            not _is_int(self.hop_limit) or not 1 <= self.hop_limit <= 64
        ):
            raise UsageError("--hop-limit must be 1..64 (the EC2 range)")


def _is_int(value: object) -> bool:
    """A real integer: not a bool, a float or a string that looks like one."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    """How fast and how carefully to write: the per-scope token bucket, waits, DryRun."""

    capacity: float = 100.0
    refill_per_second: float = 5.0
    workers_per_scope: int = 16
    verify_timeout: float = 60.0
    check_permissions: bool = False

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.refill_per_second <= 0:
            raise UsageError("--rate-capacity must be >= 1 and --rate-refill > 0")
        if self.workers_per_scope < 1 or self.verify_timeout <= 0:
            raise UsageError("--workers-per-scope must be >= 1 and --verify-timeout > 0")


OnBreakage = Literal["rollback", "halt"]
ON_BREAKAGE: tuple[OnBreakage, ...] = ("rollback", "halt")


MAX_SOAK_SECONDS = 14 * 86400.0


@dataclass(frozen=True, slots=True)
class RolloutOptions:
    """A staged rollout (docs/rollout.md): the waves as given (``--waves`` or
    ``--wave-by``, checked by plan/waves.py), the soak, and what halts it."""

    waves: str | None = None
    wave_by: str | None = None
    soak_seconds: float = 600.0
    poll_seconds: float = 60.0
    alarms: tuple[str, ...] = ()
    on_breakage: OnBreakage = "rollback"

    def __post_init__(self) -> None:
        if self.waves is not None and self.wave_by is not None:
            raise UsageError("--waves and --wave-by are two ways to cut waves: give one")
        if self.soak_seconds < 0 or self.poll_seconds <= 0:
            raise UsageError("--soak must be 0 or more and --poll-interval more than 0")
        if max(self.soak_seconds, self.poll_seconds) > MAX_SOAK_SECONDS:
            # Beyond this a soak outlives the metrics it reads (1-minute points are kept
            # 15 days: docs/aws-behaviour.md#usage-metrics), and far beyond, the clock.
            raise UsageError("--soak and --poll-interval must be at most 14d")
        if self.on_breakage not in ON_BREAKAGE:
            raise UsageError(f"--on-breakage must be one of {', '.join(ON_BREAKAGE)}")


ExecutorName = Literal["local", "dask"]
# The scheduler address schemes Dask's comms speak; anything else is a typo.
SCHEDULER = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$")


def _scheduler_ok(address: str) -> bool:
    if not SCHEDULER.match(address):
        return False
    try:
        urlsplit(address).hostname  # noqa: B018  (raises on a bad IPv6 literal or port)
        urlsplit(address).port  # noqa: B018
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """Where scopes run: this process's thread pool, or a Dask cluster
    (docs/organization-scale.md#dask). ``scheduler`` None with dask: a LocalCluster here."""

    name: ExecutorName = "local"
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.scheduler is not None and self.name != "dask":
            raise UsageError("--scheduler needs --executor dask")
        if self.scheduler is not None and not _scheduler_ok(self.scheduler):
            raise UsageError(
                f"bad --scheduler {redact(self.scheduler)!r}: expected tls://host:port "
                "(or tcp:// on a trusted network)"
            )
