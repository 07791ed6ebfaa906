"""PURE verdicts: one registered rule per resource kind, resource -> Finding (or None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from imdsguard.model.scan import Finding, MetadataOptions, Resource, Scope
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


def launches_imdsv1(md: MetadataOptions, options: EvaluationOptions) -> bool:
    """Would an instance launched with these settings answer IMDSv1 (or count as failing)?

    A disabled endpoint serves nothing, so it follows the same --imds-disabled policy
    as instances do.
    """
    if md.http_endpoint == "disabled":
        return options.imds_disabled == "fail"
    return md.http_tokens != "required"


# Importing the rule modules registers them.
from imdsguard.rules import account_defaults as account_defaults  # noqa: E402
from imdsguard.rules import auto_scaling_groups as auto_scaling_groups  # noqa: E402
from imdsguard.rules import images as images  # noqa: E402
from imdsguard.rules import instances as instances  # noqa: E402
from imdsguard.rules import launch_configurations as launch_configurations  # noqa: E402
from imdsguard.rules import launch_templates as launch_templates  # noqa: E402
