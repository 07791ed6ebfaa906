"""Every applier, by kind: each module of this package but the contract and this one
defines ``APPLIER``, so making a kind remediable is adding its module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from imdsguard.remediate import appliers as package
from imdsguard.remediate.appliers.interface import Applier

NOT_APPLIERS = frozenset({"interface", "registry"})


def _discover() -> dict[str, Applier]:
    found: dict[str, Applier] = {}
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.name in NOT_APPLIERS:
            continue
        applier = importlib.import_module(f"{package.__name__}.{module.name}").APPLIER
        if not isinstance(applier, Applier):
            raise TypeError(f"appliers.{module.name}.APPLIER is no Applier")
        if applier.kind in found:
            raise ValueError(f"two appliers for {applier.kind!r}")
        found[applier.kind] = applier
    return found


APPLIERS: Mapping[str, Applier] = _discover()


def applier_for(kind: str) -> Applier:
    try:
        return APPLIERS[kind]
    except KeyError:
        raise ValueError(f"no applier for resource kind {kind!r}") from None
