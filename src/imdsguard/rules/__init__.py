"""PURE verdicts: one registered rule per resource kind, resource -> Finding (or None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from imdsguard.model.scan import Finding, MetadataOptions, Resource, Scope, Status
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


def launch_verdict(md: MetadataOptions, options: EvaluationOptions) -> tuple[Status, str]:
    """How a launch with these settings is judged: on HttpTokens, as AWS Config's rules
    for EC2.170 and AutoScaling.3 do, except where ``--imds-disabled`` decides.

    Returns the status and ``tokens-required``, ``tokens-optional`` or ``imds-disabled``.
    A disabled endpoint fails under ``--imds-disabled fail``; otherwise it changes only
    the reason of a launch that requires tokens (see docs/resources.md, "Verdicts").
    """
    if md.http_endpoint == "disabled":
        if options.imds_disabled == "fail":
            return "FAIL", "imds-disabled"
        if md.http_tokens == "required":
            return "PASS", "imds-disabled"
    if md.http_tokens == "required":
        return "PASS", "tokens-required"
    return "FAIL", "tokens-optional"


def launches_imdsv1(md: MetadataOptions, options: EvaluationOptions) -> bool:
    """Does a launch with these settings fail (answer IMDSv1, or break the policy)?"""
    return launch_verdict(md, options)[0] == "FAIL"


# Importing the rule modules registers them.
from imdsguard.rules import account_defaults as account_defaults  # noqa: E402
from imdsguard.rules import auto_scaling_groups as auto_scaling_groups  # noqa: E402
from imdsguard.rules import images as images  # noqa: E402
from imdsguard.rules import instances as instances  # noqa: E402
from imdsguard.rules import launch_configurations as launch_configurations  # noqa: E402
from imdsguard.rules import launch_templates as launch_templates  # noqa: E402
