"""The applier registry: per resource kind, how to re-read, write and DryRun a Change.

apply.py and rollback.py are kind-agnostic; they look the applier up by ``Change.kind``.
A new kind (launch templates, account defaults, AMIs) is one module in this package that
calls ``register`` and is imported at the bottom of this file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.model import MetadataOptions

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


@dataclass(frozen=True, slots=True)
class Applier:
    """Each function raises AwsError on failure; ``write`` must send the full set."""

    read: Callable[[ScopeClients, str], Observed]
    write: Callable[[ScopeClients, str, MetadataOptions], None]
    dry_run: Callable[[ScopeClients, str, MetadataOptions], None]


_APPLIERS: dict[str, Applier] = {}


def register(kind: str, applier: Applier) -> None:
    if kind in _APPLIERS:
        raise ValueError(f"two appliers for {kind!r}")
    _APPLIERS[kind] = applier


def applier_for(kind: str) -> Applier:
    try:
        return _APPLIERS[kind]
    except KeyError:
        raise ValueError(f"no applier for resource kind {kind!r}") from None


# Importing the applier modules registers them.
from imdsguard.appliers import instances as instances  # noqa: E402
