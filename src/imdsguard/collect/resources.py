"""Scopes -> streams of resources. All I/O goes through imdsguard.aws; no verdicts here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial

from imdsguard.aws import account_defaults, autoscaling, images, instances, launch_templates
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect import effective, launch
from imdsguard.collect.effective import LaunchContext
from imdsguard.errors import AwsError
from imdsguard.model import kinds as kind_table
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.launch import (
    AccountImdsDefaults,
    LaunchConfiguration,
    TemplateSummary,
    VersionRecord,
)
from imdsguard.model.scan import HttpTokens, Resource

ACCOUNT_DEFAULTS = kind_table.ACCOUNT_DEFAULTS.name
# A collector streams the resources of one kind (or of a few read together) out of one scope.
Collector = Callable[[SessionFactory, AccountAccess, str], Iterator[Resource]]


def collect_instances(
    factory: SessionFactory, access: AccountAccess, region: str
) -> Iterator[Resource]:
    yield from instances.get_instances(factory.ec2(access, region))


def collect_images(
    factory: SessionFactory, access: AccountAccess, region: str
) -> Iterator[Resource]:
    yield from images.get_owned_images(factory.ec2(access, region))


class DefaultsRead:
    """One scope's GetInstanceMetadataDefaults, read at most once: the account-defaults
    kind and the launch precedence (``read_launch_context``) both need it. A failed read
    fails both the same way. One scope's collectors run one after another in one thread.
    """

    def __init__(self) -> None:
        self._read: AccountImdsDefaults | AwsError | None = None

    def get(
        self, factory: SessionFactory, access: AccountAccess, region: str
    ) -> AccountImdsDefaults:
        if self._read is None:
            try:
                self._read = account_defaults.get_account_defaults(
                    factory.ec2(access, region), region
                )
            except AwsError as exc:
                self._read = exc
        if isinstance(self._read, AwsError):
            raise self._read
        return self._read


def collect_account_defaults(
    factory: SessionFactory,
    access: AccountAccess,
    region: str,
    defaults: DefaultsRead | None = None,
) -> Iterator[Resource]:
    yield (defaults or DefaultsRead()).get(factory, access, region)


def collect_launch_sources(
    factory: SessionFactory,
    access: AccountAccess,
    region: str,
    kinds: frozenset[str],
    defaults: DefaultsRead | None = None,
) -> Iterator[Resource]:
    """Templates, launch configurations and groups of one scope, read once and joined.

    Everything is read before anything is yielded: a template's verdict depends on the
    groups, so a half-read scope must fail as a whole (AwsError), never judge on part.
    """
    asg = factory.autoscaling(access, region)
    groups = tuple(autoscaling.get_auto_scaling_groups(asg))
    templates: tuple[TemplateSummary, ...] = ()
    versions: tuple[VersionRecord, ...] = ()
    configurations: tuple[LaunchConfiguration, ...] = ()
    if kinds & {launch.LAUNCH_TEMPLATES, launch.AUTO_SCALING_GROUPS}:
        client = factory.ec2(access, region)
        templates = tuple(launch_templates.get_launch_templates(client))
        wanted = launch.versions_to_read(
            templates, groups, every_template=launch.LAUNCH_TEMPLATES in kinds
        )
        versions = tuple(
            record
            for template_id, numbers in wanted.items()
            for record in launch_templates.get_template_versions(client, template_id, numbers)
        )
    if kinds & {launch.LAUNCH_CONFIGURATIONS, launch.AUTO_SCALING_GROUPS}:
        configurations = tuple(autoscaling.get_launch_configurations(asg))
    settings = [(v.explicit_tokens, v.image_id) for v in versions] + [
        (c.explicit_tokens, c.image_id) for c in configurations
    ]
    context = read_launch_context(factory, access, region, settings, defaults or DefaultsRead())
    inventory = launch.LaunchInventory(templates, versions, groups, configurations, context)
    yield from launch.build_resources(inventory, kinds)


def read_launch_context(
    factory: SessionFactory,
    access: AccountAccess,
    region: str,
    settings: Sequence[tuple[HttpTokens | None, str | None]],
    read_defaults: DefaultsRead,
) -> LaunchContext:
    """The scope's account default and the AMIs the launch precedence reaches, read once.

    Read whatever --resources says, since what a launch effectively gets is the point of
    the evidence (docs/resources.md). A failed read is no scope error, because no verdict
    depends on it: the effective value becomes unknown, with the error as the reason.
    Nothing is read when every setting names its own HttpTokens.
    """
    if not effective.needs_defaults(settings):
        return LaunchContext()
    try:
        defaults = read_defaults.get(factory, access, region)
    except AwsError as exc:
        return LaunchContext(defaults_error=str(exc))
    wanted = effective.images_to_read(settings, defaults.http_tokens)
    try:
        found = images.get_images(factory.ec2(access, region), wanted) if wanted else {}
    except AwsError as exc:
        return LaunchContext(defaults.http_tokens, images_error=str(exc))
    return LaunchContext(defaults.http_tokens, images=found)


# Resource kinds by their --resources name (model.kinds.RESOURCE_NAMES, same order).
COLLECTORS: dict[str, Collector] = {
    "instances": collect_instances,
    **{
        kind: partial(collect_launch_sources, kinds=frozenset({kind}))
        for kind in launch.LAUNCH_KINDS
    },
    "amis": collect_images,
    ACCOUNT_DEFAULTS: collect_account_defaults,
}


def collection_plan(kinds: Sequence[str]) -> list[tuple[str, Collector]]:
    """One collector call per group of kinds: the launch kinds share one read of the scope.

    The label names the kinds a failure covers, for the scope's error message. A plan is
    for one scope: its collectors share that scope's read of the account defaults.
    """
    selected = [k for k in RESOURCE_NAMES if k in kinds]
    shared = frozenset(k for k in selected if k in launch.LAUNCH_KINDS)
    defaults = DefaultsRead()
    plan: list[tuple[str, Collector]] = []
    for kind in selected:
        if kind == ACCOUNT_DEFAULTS:
            plan.append((kind, partial(collect_account_defaults, defaults=defaults)))
        elif kind not in shared:
            plan.append((kind, COLLECTORS[kind]))
        elif kind == min(shared, key=selected.index):
            label = ",".join(k for k in selected if k in shared)
            plan.append((label, partial(collect_launch_sources, kinds=shared, defaults=defaults)))
    return plan
