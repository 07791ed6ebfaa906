"""The one contract every remediable kind implements, and what the engine hands it.

An applier knows its kind's API: how to re-read a resource, write the change, verify it,
undo it and DryRun it. The engine (remediate/engine.py) knows everything else: scopes,
threads, pacing, the throttling and denial policy and the journal, and offers it to an
applier only through ``Context``. This module imports no applier and no engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeVar

from imdsguard.model.kinds import PlanKind
from imdsguard.model.remediation import Change, ChangeResult
from imdsguard.model.scan import MetadataOptions

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

T = TypeVar("T")
# (capacity, refill per second) of an EC2 request bucket (docs/aws-behaviour.md#rate-limits).
Pace = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ScopeClients:
    """The clients of one (account, Region), shared by that scope's workers.

    SessionFactory already creates each client once and caches it; this only holds them.
    """

    region: str
    ec2: EC2Client


@dataclass(frozen=True, slots=True)
class Observed:
    """A re-read: the current settings, or ``None`` if the resource is gone (``why``)."""

    options: MetadataOptions | None
    why: str = ""


# Where an applied change stands now (``imdsguard status``): still as applied, set back
# so that IMDSv1 is allowed again, or the resource no longer exists.
Standing = Literal["in-place", "regressed", "gone"]


@dataclass(frozen=True, slots=True)
class Present:
    """An applied change as its resource shows it now; ``now`` says what it has, in the
    words of the kind's API."""

    standing: Standing
    now: str


class Context(Protocol):
    """What an applier may use for one change; the engine gives one per scope and kind."""

    @property
    def clients(self) -> ScopeClients: ...

    @property
    def verify_timeout(self) -> float:
        """Seconds a change may take to show as in force (--verify-timeout)."""
        ...

    def read(self, call: Callable[[], T]) -> T:
        """Run a read call; throttling that outlives botocore's retries is waited out.

        A denied read stops the scope: without the re-read no change may be written.
        """
        ...

    def write(self, call: Callable[[], T]) -> T:
        """Run a write call paced by the kind's bucket (``Applier.pace``); throttling is
        waited out, a denial stops the scope."""
        ...

    def intend(self, change: Change) -> None:
        """Journal, durably, that ``change``'s first write is about to be sent."""
        ...

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """The scope's one object under ``key``, made on first use: what a kind's workers
        in one scope share (instances: the batched poller)."""
        ...


class Applier(ABC):
    """How one kind's changes are applied, rolled back and DryRun.

    One instance per kind serves every scope and thread, so it keeps no state of its own
    (per-scope state goes through ``Context.shared``). A module in this package that
    defines ``APPLIER`` makes its kind remediable (appliers/registry.py), together with
    ``remediable=True`` in the kind's row of model/kinds.py.
    """

    kind: ClassVar[PlanKind]  # its row in model/kinds.py has remediable=True
    # The bucket the kind's writes spend; None: the scope's bucket for instance writes
    # (--rate-capacity, --rate-refill).
    pace: ClassVar[Pace | None] = None
    # For a kind AWS cannot undo: what rollback says once about ``{n}`` such changes
    # instead of touching them. None: rollback restores the kind.
    irreversible: ClassVar[str | None] = None

    @abstractmethod
    def apply(self, ctx: Context, change: Change, resumed: bool) -> ChangeResult:
        """Re-read; skip what is gone or compliant, leave drift alone; ``ctx.intend``,
        write, verify. ``resumed``: an interrupted run journaled this change's intent, so
        its write may have gone through; never write a second time."""

    def rollback(self, ctx: Context, change: Change) -> ChangeResult:
        """Restore ``change.before`` unless the resource changed after apply (then
        ``drifted``, left alone); idempotent. Only kinds with ``irreversible`` None are
        ever rolled back, and they must override this."""
        raise TypeError(f"{self.kind} changes cannot be rolled back")

    @abstractmethod
    def present(self, clients: ScopeClients, changes: Sequence[Change]) -> dict[str, Present]:
        """Re-read, now, the resources of applied ``changes`` (one scope, this kind): where
        each stands, by ``Change.key``. Reads only, unpaced; raises AwsError."""

    @abstractmethod
    def dry_run(self, clients: ScopeClients, change: Change) -> None:
        """DryRun the change's write: AwsError DryRunOperation means allowed."""
