"""Scopes -> streams of resources. All I/O goes through imdsguard.aws; no verdicts here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from imdsguard.aws import ec2, organizations
from imdsguard.aws import launch as launch_aws
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect import launch
from imdsguard.errors import AwsError
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.launch import LaunchConfiguration
from imdsguard.model.scan import Resource, Scope
from imdsguard.options import ScopeOptions

# A collector streams the resources of one kind (or of a few read together) out of one scope.
Collector = Callable[[SessionFactory, AccountAccess, str], Iterator[Resource]]


def collect_instances(
    factory: SessionFactory, access: AccountAccess, region: str
) -> Iterator[Resource]:
    yield from ec2.get_instances(factory.ec2(access, region))


def collect_images(
    factory: SessionFactory, access: AccountAccess, region: str
) -> Iterator[Resource]:
    yield from ec2.get_owned_images(factory.ec2(access, region))


def collect_account_defaults(
    factory: SessionFactory, access: AccountAccess, region: str
) -> Iterator[Resource]:
    yield ec2.get_account_defaults(factory.ec2(access, region), region)


def collect_launch_sources(
    factory: SessionFactory, access: AccountAccess, region: str, kinds: frozenset[str]
) -> Iterator[Resource]:
    """Templates, launch configurations and groups of one scope, read once and joined.

    Everything is read before anything is yielded: a template's verdict depends on the
    groups, so a half-read scope must fail as a whole (AwsError), never judge on part.
    """
    autoscaling = factory.autoscaling(access, region)
    groups = tuple(launch_aws.get_auto_scaling_groups(autoscaling))
    templates: tuple[launch.TemplateSummary, ...] = ()
    versions: tuple[launch.VersionRecord, ...] = ()
    configurations: tuple[LaunchConfiguration, ...] = ()
    if kinds & {launch.LAUNCH_TEMPLATES, launch.AUTO_SCALING_GROUPS}:
        client = factory.ec2(access, region)
        templates = tuple(launch_aws.get_launch_templates(client))
        wanted = launch.versions_to_read(
            templates, groups, every_template=launch.LAUNCH_TEMPLATES in kinds
        )
        versions = tuple(
            record
            for template_id, numbers in wanted.items()
            for record in launch_aws.get_template_versions(client, template_id, numbers)
        )
    if kinds & {launch.LAUNCH_CONFIGURATIONS, launch.AUTO_SCALING_GROUPS}:
        configurations = tuple(launch_aws.get_launch_configurations(autoscaling))
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


@dataclass(frozen=True, slots=True)
class AccountTarget:
    """An account ready to scan (access + Regions), or the reason it cannot be entered."""

    account_id: str
    access: AccountAccess
    regions: tuple[str, ...] = ()
    region_errors: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    def scopes(self) -> list[Scope]:
        return [Scope(self.account_id, region) for region in self.regions]


def resolve_accounts(factory: SessionFactory, options: ScopeOptions) -> list[str]:
    """The account ids to scan: the caller's, an explicit list, or the organization's."""
    if options.organization:
        return organizations.get_active_accounts(factory.organizations())
    if options.accounts:
        return sorted(set(options.accounts))
    return [factory.identity().account_id]


def enter_account(factory: SessionFactory, account_id: str, options: ScopeOptions) -> AccountTarget:
    """AssumeRole into ``account_id`` (unless it is the caller's) and list its Regions."""
    own = factory.identity()
    try:
        if account_id == own.account_id:
            access = AccountAccess(account_id)
        elif options.role_name is None:
            return AccountTarget(
                account_id, AccountAccess(account_id), error="no --role-name to enter this account"
            )
        else:
            access = factory.assume(account_id, options.role_name, options.external_id)
    except AwsError as exc:
        return AccountTarget(
            account_id, AccountAccess(account_id), error=f"AssumeRole failed: {exc}"
        )
    return _with_regions(factory, access, options, own.partition)


def _with_regions(
    factory: SessionFactory, access: AccountAccess, options: ScopeOptions, partition: str
) -> AccountTarget:
    home = options.regions[0] if options.regions else factory.default_region()
    try:
        opt_in = ec2.get_region_opt_in(factory.ec2(access, home))
    except AwsError as exc:
        if options.regions:
            # Regions were named: try them anyway; each scope reports its own failure.
            return AccountTarget(access.account_id, access, regions=options.regions)
        return AccountTarget(access.account_id, access, error=f"cannot list Regions: {exc}")
    if not options.regions:
        regions = ec2.enabled_regions(opt_in, factory.partition_of, partition)
        return AccountTarget(access.account_id, access, regions=tuple(regions))
    usable: list[str] = []
    errors: list[tuple[str, str]] = []
    for region in options.regions:
        status = opt_in.get(region, "not-in-partition")
        if status in ec2.ENABLED_OPT_IN:
            usable.append(region)
        else:
            errors.append((region, f"Region not enabled for this account (OptInStatus={status})"))
    return AccountTarget(access.account_id, access, tuple(usable), tuple(errors))


def account_access(
    factory: SessionFactory, account_id: str, role_name: str | None, external_id: str | None
) -> AccountAccess:
    """Credentials for one account: the caller's own, or AssumeRole; raises AwsError."""
    if account_id == factory.identity().account_id:
        return AccountAccess(account_id)
    if role_name is None:
        raise AwsError("NoRole", "no --role-name to enter this account", "AssumeRole")
    return factory.assume(account_id, role_name, external_id)
