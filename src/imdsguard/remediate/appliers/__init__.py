"""The applier registry: per resource kind, how to re-read, write and DryRun a Change.

apply.py and rollback.py are kind-agnostic; they look the applier up by ``Change.kind``.
Instances use the generic steps (write ``after``, restore ``before``); a kind whose change
is not "write these settings" (a launch template gets a new default version, account
defaults have unset values) also brings its own apply and rollback steps. A new kind is
one module in this package that calls ``register`` and is imported at the bottom.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.model.scan import MetadataOptions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


@dataclass
class ScopeClients:
    """Clients for one (account, Region), created once and shared by that scope's workers."""

    factory: SessionFactory
    access: AccountAccess
    region: str
    _ec2: EC2Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ec2(self) -> EC2Client:
        with self._lock:
            if self._ec2 is None:
                self._ec2 = self.factory.ec2(self.access, self.region)
            return self._ec2


@dataclass(frozen=True, slots=True)
class Observed:
    """A re-read: the current settings, or ``None`` if the resource is gone (``why``)."""

    options: MetadataOptions | None
    why: str = ""


# (StepContext, Change, resumed) -> ChangeResult; typed loosely to avoid an import cycle
# with imdsguard.remediate.engine, which imports this registry.
Step = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Applier:
    """Each function raises AwsError on failure; ``write`` must send the full set."""

    read: Callable[[ScopeClients, str], Observed]
    read_many: Callable[[ScopeClients, Sequence[str]], dict[str, Observed]]
    write: Callable[[ScopeClients, str, MetadataOptions], None]
    dry_run: Callable[[ScopeClients, str, MetadataOptions], None]


@dataclass(frozen=True, slots=True)
class StepApplier:
    """A kind with its own apply and rollback steps; ``dry_run`` as for Applier.

    ``pace`` is (capacity, refill per second) of the EC2 bucket its writes spend.
    """

    dry_run: Callable[[ScopeClients, str, MetadataOptions], None]
    apply: Step
    rollback: Step
    pace: tuple[float, float]


_APPLIERS: dict[str, Applier | StepApplier] = {}


def register(kind: str, applier: Applier | StepApplier) -> None:
    if kind in _APPLIERS:
        raise ValueError(f"two appliers for {kind!r}")
    _APPLIERS[kind] = applier


def lookup(kind: str) -> Applier | StepApplier:
    try:
        return _APPLIERS[kind]
    except KeyError:
        raise ValueError(f"no applier for resource kind {kind!r}") from None


def applier_for(kind: str) -> Applier:
    """The generic applier of ``kind`` (the generic steps only run for such kinds)."""
    applier = lookup(kind)
    if not isinstance(applier, Applier):
        raise ValueError(f"resource kind {kind!r} has its own steps")
    return applier


def steps_for(kind: str) -> StepApplier | None:
    applier = lookup(kind)
    return applier if isinstance(applier, StepApplier) else None


# Importing the applier modules registers them.
from imdsguard.remediate.appliers import account_defaults as account_defaults  # noqa: E402
from imdsguard.remediate.appliers import images as images  # noqa: E402
from imdsguard.remediate.appliers import instances as instances  # noqa: E402
from imdsguard.remediate.appliers import launch_templates as launch_templates  # noqa: E402
