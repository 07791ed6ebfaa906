"""PURE: the HttpTokens the next launch from a launch setting gets, under AWS's precedence.

Per option, the first that decides (docs/aws-behaviour.md#the-api):

1. the launch setting's own (a template version's or launch configuration's) HttpTokens;
2. the Region's account default (GetInstanceMetadataDefaults);
3. the AMI: ``ImdsSupport=v2.0`` gives ``required``;
4. AWS's default, ``optional``.

Fail closed: when a rule that would be consulted could not be read, the answer is
``unknown`` with the reason, never the next rule's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from imdsguard.model.effective import EffectiveTokens, unknown
from imdsguard.model.launch import Image
from imdsguard.model.scan import HttpTokens

# A template's ImageId may name a Systems Manager parameter, resolved only at launch
# (docs/aws-behaviour.md#the-api).
SSM_PREFIX = "resolve:ssm:"


@dataclass(frozen=True, slots=True)
class LaunchContext:
    """One scope's launch-wide settings: the Region's account default and the AMIs read.

    ``defaults_tokens`` (``None``: no preference) means nothing while ``defaults_error``
    says why the defaults were not read. ``images`` holds the AMIs found by id; one that is
    missing was deregistered or is not visible to the account. It means nothing while
    ``images_error`` says why the AMIs were not read.
    """

    defaults_tokens: HttpTokens | None = None
    defaults_error: str | None = None
    images: Mapping[str, Image] = field(default_factory=dict)
    images_error: str | None = None


# What a join without a scope's reads gets: every rule past the launch setting is unknown.
NOT_READ = LaunchContext(defaults_error="not read", images_error="not read")


def effective_tokens(
    explicit: HttpTokens | None, image_id: str | None, context: LaunchContext
) -> EffectiveTokens:
    """What a launch from a setting with ``explicit`` tokens and ``image_id`` gets."""
    if explicit is not None:
        return EffectiveTokens(explicit, "explicit")
    if context.defaults_error is not None:
        return unknown(f"account default not read: {context.defaults_error}")
    if context.defaults_tokens is not None:
        return EffectiveTokens(context.defaults_tokens, "account-default")
    if image_id is None:
        return unknown("no ImageId: the AMI is chosen at launch")
    if image_id.startswith(SSM_PREFIX):
        return unknown(f"ImageId {image_id} is resolved at launch")
    if context.images_error is not None:
        return unknown(f"AMI {image_id} not read: {context.images_error}")
    image = context.images.get(image_id)
    if image is None:
        return unknown(f"AMI {image_id} not found: deregistered or not shared with the account")
    if image.state != "available":
        # A launch from it fails; there is no next launch to describe.
        return unknown(f"AMI {image_id} is {image.state}")
    if image.imds_support == "v2.0":
        return EffectiveTokens("required", "ami")
    return EffectiveTokens("optional", "aws-default")


def needs_defaults(settings: Iterable[tuple[HttpTokens | None, str | None]]) -> bool:
    """Does any (explicit tokens, image id) setting leave its tokens to the precedence?"""
    return any(explicit is None for explicit, _ in settings)


def images_to_read(
    settings: Iterable[tuple[HttpTokens | None, str | None]], defaults_tokens: HttpTokens | None
) -> tuple[str, ...]:
    """The AMIs the precedence reaches: only when neither a setting nor the default decides."""
    if defaults_tokens is not None:
        return ()
    ids = {
        image_id
        for explicit, image_id in settings
        if explicit is None and image_id is not None and not image_id.startswith(SSM_PREFIX)
    }
    return tuple(sorted(ids))
