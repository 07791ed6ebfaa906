"""PURE verdicts: one registered rule per resource kind, resource -> Finding (or None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from imdsguard.model import Finding, Resource, Scope
from imdsguard.options import EvaluationOptions

R = TypeVar("R")
Rule = Callable[[Scope, Any, EvaluationOptions], Finding | None]

_RULES: dict[type, Rule] = {}


def rule(
    kind: type[R],
) -> Callable[[Callable[[Scope, R, EvaluationOptions], Finding | None]], Rule]:
    """Register the rule for one resource kind (one module per kind in this package)."""

    def register(fn: Callable[[Scope, R, EvaluationOptions], Finding | None]) -> Rule:
        if kind in _RULES:
            raise ValueError(f"two rules for {kind.__name__}")
        _RULES[kind] = fn
        return fn

    return register


def evaluate(scope: Scope, resource: Resource, options: EvaluationOptions) -> Finding | None:
    """Judge one resource; ``None`` means it is out of scope (e.g. a terminated instance)."""
    return _RULES[type(resource)](scope, resource, options)


# Importing the rule modules registers them.
from imdsguard.rules import instances as instances  # noqa: E402
