"""Plain frozen data for remediation: usage evidence, changes, holds, plans and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from imdsguard.model.scan import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    HTTP_TOKENS,
    SWITCH,
    SWITCH_OR_UNSET,
    TOKENS_OR_UNSET,
    JSONValue,
    MetadataOptions,
    Scope,
    one_of,
)

_Member = TypeVar("_Member", bound=str)

UsageStatus = Literal["in-use", "clean", "unknown"]
HoldReason = Literal[
    "imdsv1-in-use",
    "usage-unknown",
    "exempt",
    "pinned-version",  # a group pins a template version that allows IMDSv1
    "unreadable",  # fail closed: what we would change could not be read
    "declarative-policy",  # account defaults an Organizations policy owns
    "enforce-not-ready",  # --enforce, but instances or launch settings still fail
    "irreversible",  # AMI ImdsSupport: only with --amis and a confirmation
    "migration",  # launch configurations and groups: a migration, not a change
]
Outcome = Literal["applied", "skipped", "drifted", "failed", "denied"]
RollbackOutcome = Literal["restored", "skipped", "drifted", "failed", "denied"]

# The fields a change sets and rollback restores; ``state`` is AWS's progress, not a setting.
SETTINGS = (
    "http_tokens",
    "http_endpoint",
    "hop_limit",
    "http_protocol_ipv6",
    "instance_metadata_tags",
)


@dataclass(frozen=True, slots=True)
class Usage:
    """MetadataNoToken over the lookback window for one instance
    (docs/aws-behaviour.md#usage-metrics)."""

    status: UsageStatus
    calls: float = 0.0
    datapoints: int = 0
    last_seen: datetime | None = None
    error: str | None = None

    def as_json(self) -> dict[str, JSONValue]:
        return {
            "usage": self.status,
            "imdsv1_calls": self.calls,
            "datapoints": self.datapoints,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "error": self.error,
        }


RejectionStatus = Literal["rejected", "none", "unknown"]


@dataclass(frozen=True, slots=True)
class Rejections:
    """MetadataNoTokenRejected since one change: IMDSv1 calls refused because tokens are
    now required (docs/aws-behaviour.md#usage-metrics). ``unknown`` is never clean.

    ``none`` with ``datapoints == 0`` means CloudWatch had nothing for the window: the
    metric arrives minutes late, and a stopped instance publishes none; callers decide
    what that proves (docs/rollout.md).
    """

    status: RejectionStatus
    count: float = 0.0
    datapoints: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    error: str | None = None

    def as_json(self) -> dict[str, JSONValue]:
        return {
            "rejections": self.status,
            "rejected_calls": self.count,
            "datapoints": self.datapoints,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "error": self.error,
        }


def settings_json(options: MetadataOptions) -> dict[str, JSONValue]:
    return {name: getattr(options, name) for name in SETTINGS}


def settings_from_json(doc: Mapping[str, JSONValue], unset: bool = False) -> MetadataOptions:
    """Read settings back from a plan or journal; ValueError names any field that is off.

    ``unset``: account defaults, whose fields may be ``no-preference`` (hop limit ``-1``),
    as ModifyInstanceMetadataDefaults spells a field that is not set.
    """
    if not isinstance(doc, Mapping):
        raise ValueError(f"settings must be an object, got {type(doc).__name__}")
    default = MetadataOptions()
    tokens = TOKENS_OR_UNSET if unset else HTTP_TOKENS
    switch = SWITCH_OR_UNSET if unset else SWITCH

    def setting(name: str, allowed: tuple[_Member, ...]) -> _Member:
        return one_of(doc.get(name, getattr(default, name)), allowed, name)

    def hop_limit() -> int:
        hop = doc.get("hop_limit", default.hop_limit)
        if (
            isinstance(hop, bool)
            or not isinstance(hop, int)
            or not (1 <= hop <= 64 or (unset and hop == -1))
        ):
            raise ValueError(f"hop_limit must be an integer from 1 to 64, got {hop!r}")
        return hop

    return MetadataOptions(
        http_tokens=setting("http_tokens", tokens),
        http_endpoint=setting("http_endpoint", switch),
        http_protocol_ipv6=setting("http_protocol_ipv6", switch),
        instance_metadata_tags=setting("instance_metadata_tags", switch),
        hop_limit=hop_limit(),
    )


def same_settings(a: MetadataOptions, b: MetadataOptions) -> bool:
    """Equal in everything we set or restore (``state`` is ignored)."""
    return all(getattr(a, name) == getattr(b, name) for name in SETTINGS)


# The optional facts an instance change carries for the rollout's default order and
# --wave-by: its state at plan time, whether it has an instance profile, its Auto Scaling
# group (the aws:autoscaling:groupName tag AWS puts on group members) and its tags.
INSTANCE_FACTS = ("instance_state", "instance_profile", "auto_scaling_group", "tags")


@dataclass(frozen=True, slots=True)
class Change:
    """One resource to move from ``before`` to ``after``. ``kind`` picks its applier."""

    kind: str
    scope: Scope
    resource_id: str
    before: MetadataOptions
    after: MetadataOptions
    name: str | None = None
    evidence: Mapping[str, JSONValue] = field(default_factory=dict)
    # Kind-specific facts apply and rollback need beyond the settings: for a template the
    # old default version, for account defaults the fields that were unset (see appliers).
    state: Mapping[str, JSONValue] = field(default_factory=dict)
    # Instances: what a staged rollout orders by (INSTANCE_FACTS); empty in plans made
    # before 1.2, whose instances then all rank as "rest" (docs/rollout.md#the-default-order).
    facts: Mapping[str, JSONValue] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable identity in plans and journals."""
        return f"{self.scope.account_id}/{self.scope.region}/{self.kind}/{self.resource_id}"


@dataclass(frozen=True, slots=True)
class Hold:
    """A candidate left alone on purpose, and why (``detail`` carries the evidence)."""

    kind: str
    scope: Scope
    resource_id: str
    reason: HoldReason
    name: str | None = None
    detail: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """Exactly what ``apply`` will do, and what it will not touch."""

    created_at: datetime
    lookback_days: int
    changes: tuple[Change, ...]
    held: tuple[Hold, ...] = ()
    exempt: tuple[Hold, ...] = ()
    # Scopes the scan or the evidence read could not cover: (scope, error).
    scope_errors: tuple[tuple[Scope, str], ...] = ()
    role_name: str | None = None
    # Launch configurations and groups: what their owners must migrate (never changed).
    migrations: tuple[Hold, ...] = ()

    def exit_code(self) -> int:
        if self.scope_errors:
            return EXIT_INCOMPLETE
        return EXIT_FINDINGS if self.held or self.migrations else EXIT_OK


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What happened to one change (or to one rollback of it)."""

    change: Change
    outcome: Outcome | RollbackOutcome
    reason: str = ""
    observed: MetadataOptions | None = None
    # Kind-specific outcome facts, journaled with the outcome (e.g. the version created).
    state: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunResult:
    """The results of an apply or rollback run, with the plan's holds carried along."""

    results: tuple[ChangeResult, ...]
    scope_errors: tuple[tuple[Scope, str], ...] = ()
    held: tuple[Hold, ...] = ()
    success: tuple[str, ...] = ("applied",)
    notes: tuple[str, ...] = ()  # said once under the results (e.g. AMIs are irreversible)

    @property
    def problems(self) -> tuple[ChangeResult, ...]:
        return tuple(r for r in self.results if r.outcome not in self.success)

    def exit_code(self) -> int:
        if self.scope_errors:
            return EXIT_INCOMPLETE
        return EXIT_FINDINGS if self.held or self.problems else EXIT_OK
