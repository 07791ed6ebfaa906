"""Scopes -> streams of resources. All I/O goes through imdsguard.aws; no verdicts here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial

from imdsguard.aws import account_defaults, autoscaling, images, instances, launch_templates
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect import launch
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.launch import LaunchConfiguration, TemplateSummary, VersionRecord
from imdsguard.model.scan import Resource

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


def collect_account_defaults(
    factory: SessionFactory, access: AccountAccess, region: str
) -> Iterator[Resource]:
    yield account_defaults.get_account_defaults(factory.ec2(access, region), region)


def collect_launch_sources(
    factory: SessionFactory, access: AccountAccess, region: str, kinds: frozenset[str]
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
    inventory = launch.LaunchInventory(templates, versions, groups, configurations)
    yield from launch.build_resources(inventory, kinds)


# Resource kinds by their --resources name (model.kinds.RESOURCE_NAMES, same order).
COLLECTORS: dict[str, Collector] = {
    "instances": collect_instances,
    **{
        kind: partial(collect_launch_sources, kinds=frozenset({kind}))
        for kind in launch.LAUNCH_KINDS
    },
    "amis": collect_images,
    "account-defaults": collect_account_defaults,
}


def collection_plan(kinds: Sequence[str]) -> list[tuple[str, Collector]]:
    """One collector call per group of kinds: the launch kinds share one read of the scope.

    The label names the kinds a failure covers, for the scope's error message.
    """
    selected = [k for k in RESOURCE_NAMES if k in kinds]
    shared = frozenset(k for k in selected if k in launch.LAUNCH_KINDS)
    plan: list[tuple[str, Collector]] = []
    for kind in selected:
        if kind not in shared:
            plan.append((kind, COLLECTORS[kind]))
        elif kind == min(shared, key=selected.index):
            label = ",".join(k for k in selected if k in shared)
            plan.append((label, partial(collect_launch_sources, kinds=shared)))
    return plan
