"""PURE launch precedence: explicit setting, account default, AMI, AWS's default (no AWS)."""

from __future__ import annotations

import itertools

import pytest

from imdsguard.collect.effective import (
    NOT_READ,
    LaunchContext,
    effective_tokens,
    images_to_read,
    needs_defaults,
)
from imdsguard.model.effective import EffectiveTokens
from imdsguard.model.launch import Image
from imdsguard.model.scan import HttpTokens

# Each rule's outcome for each case: a value decides, None passes to the next rule, and
# UNKNOWN stops (a rule that could not be read must not be skipped).
UNKNOWN = "unknown"
Outcome = tuple[HttpTokens, str] | str | None

EXPLICIT: dict[str, tuple[HttpTokens | None, Outcome]] = {
    "unset": (None, None),
    "optional": ("optional", ("optional", "explicit")),
    "required": ("required", ("required", "explicit")),
}
DEFAULTS: dict[str, tuple[LaunchContext, Outcome]] = {
    "unreadable": (LaunchContext(defaults_error="UnauthorizedOperation"), UNKNOWN),
    "no-preference": (LaunchContext(), None),
    "optional": (LaunchContext(defaults_tokens="optional"), ("optional", "account-default")),
    "required": (LaunchContext(defaults_tokens="required"), ("required", "account-default")),
}
V2, PLAIN, GONE, PENDING = "ami-v2", "ami-plain", "ami-gone", "ami-pending"
FOUND = {
    V2: Image(V2, None, "v2.0"),
    PLAIN: Image(PLAIN, None, None),
    PENDING: Image(PENDING, None, "v2.0", state="pending"),
}
# AMI case -> (image id, are the AMIs readable, outcome)
AMIS: dict[str, tuple[str | None, bool, Outcome]] = {
    "imds-support-v2": (V2, True, ("required", "ami")),
    "no-imds-support": (PLAIN, True, None),
    "deregistered": (GONE, True, UNKNOWN),
    "not-available": (PENDING, True, UNKNOWN),
    "unreadable": (V2, False, UNKNOWN),
    "no-image-id": (None, True, UNKNOWN),
    "ssm-parameter": ("resolve:ssm:/golden/ami", True, UNKNOWN),
}
AWS_DEFAULT: Outcome = ("optional", "aws-default")


def expected(*outcomes: Outcome) -> Outcome:
    return next(o for o in (*outcomes, AWS_DEFAULT) if o is not None)


@pytest.mark.parametrize(
    ("explicit_case", "defaults_case", "ami_case"),
    list(itertools.product(EXPLICIT, DEFAULTS, AMIS)),
)
def test_the_first_rule_that_decides_wins_and_unread_rules_stop(
    explicit_case: str, defaults_case: str, ami_case: str
) -> None:
    explicit, explicit_outcome = EXPLICIT[explicit_case]
    context, defaults_outcome = DEFAULTS[defaults_case]
    image_id, readable, ami_outcome = AMIS[ami_case]
    context = LaunchContext(
        context.defaults_tokens,
        context.defaults_error,
        images=FOUND if readable else {},
        images_error=None if readable else "RequestLimitExceeded",
    )
    result = effective_tokens(explicit, image_id, context)
    want = expected(explicit_outcome, defaults_outcome, ami_outcome)
    if want == UNKNOWN:
        assert (result.http_tokens, result.source) == (None, "unknown")
        assert result.reason
    else:
        assert (result.http_tokens, result.source) == want
        assert result.reason is None


def test_unknown_says_why() -> None:
    denied = LaunchContext(defaults_error="UnauthorizedOperation on GetInstanceMetadataDefaults")
    assert effective_tokens(None, V2, denied).reason == (
        "account default not read: UnauthorizedOperation on GetInstanceMetadataDefaults"
    )
    read = LaunchContext(images=FOUND)
    assert effective_tokens(None, GONE, read).reason == (
        "AMI ami-gone not found: deregistered or not shared with the account"
    )
    assert effective_tokens(None, PENDING, read).reason == "AMI ami-pending is pending"
    assert effective_tokens(None, None, read).reason == "no ImageId: the AMI is chosen at launch"


def test_a_join_without_reads_knows_only_explicit_settings() -> None:
    assert effective_tokens("optional", None, NOT_READ) == EffectiveTokens("optional", "explicit")
    assert effective_tokens(None, V2, NOT_READ).source == "unknown"


def test_defaults_and_amis_are_read_only_when_the_precedence_reaches_them() -> None:
    explicit: list[tuple[HttpTokens | None, str | None]] = [("required", V2), ("optional", None)]
    assert not needs_defaults(explicit)
    settings = [*explicit, (None, PLAIN), (None, PLAIN), (None, "resolve:ssm:/x"), (None, None)]
    assert needs_defaults(settings)
    # Explicit settings need no AMI, and an SSM parameter is no AMI id to look up.
    assert images_to_read(settings, defaults_tokens=None) == (PLAIN,)
    assert images_to_read(settings, defaults_tokens="optional") == ()
