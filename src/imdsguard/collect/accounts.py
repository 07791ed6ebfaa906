"""Enter accounts: the caller's own through the base session, any other by STS AssumeRole.

Every stage that reaches into an account (scan, evidence, apply, Security Hub import)
enters it through ``account_access``, so the rule for when a role is needed is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from imdsguard.aws import organizations, regions
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.errors import AwsError, UsageError
from imdsguard.model.scan import Scope
from imdsguard.options import ScopeOptions

NO_ROLE = "NoRole"  # AwsError code: another account, but no --role-name to enter it


def account_access(
    factory: SessionFactory, account_id: str, role_name: str | None, external_id: str | None
) -> AccountAccess:
    """Credentials for one account: the caller's own, or AssumeRole; raises AwsError.

    Entering an account again is free: the factory assumes each role once and keeps its
    refreshing session for the run.
    """
    if account_id == factory.identity().account_id:
        return AccountAccess(account_id)
    if role_name is None:
        raise AwsError(NO_ROLE, "no --role-name to enter this account", "AssumeRole")
    return factory.assume(account_id, role_name, external_id)


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
    own = factory.identity().account_id
    if options.accounts:
        others = sorted(set(options.accounts) - {own})
        if others and options.role_name is None:
            # Before anything is read: a run that could only ever report these accounts as
            # unreadable is a usage error, not an incomplete audit.
            raise UsageError(
                f"--accounts {','.join(others)}: entering an account other than the "
                f"caller's ({own}) needs --role-name"
            )
        return sorted(set(options.accounts))
    return [own]


def enter_account(factory: SessionFactory, account_id: str, options: ScopeOptions) -> AccountTarget:
    """AssumeRole into ``account_id`` (unless it is the caller's) and list its Regions."""
    # Outside the try: an unreadable caller identity fails the run, not one account.
    partition = factory.identity().partition
    try:
        access = account_access(factory, account_id, options.role_name, options.external_id)
    except AwsError as exc:
        error = exc.message if exc.code == NO_ROLE else f"AssumeRole failed: {exc}"
        return AccountTarget(account_id, AccountAccess(account_id), error=error)
    return _with_regions(factory, access, options, partition)


def _with_regions(
    factory: SessionFactory, access: AccountAccess, options: ScopeOptions, partition: str
) -> AccountTarget:
    home = options.regions[0] if options.regions else factory.default_region()
    try:
        opt_in = regions.get_region_opt_in(factory.ec2(access, home))
    except AwsError as exc:
        if options.regions:
            # Regions were named: try them anyway; each scope reports its own failure.
            return AccountTarget(access.account_id, access, regions=options.regions)
        return AccountTarget(access.account_id, access, error=f"cannot list Regions: {exc}")
    if not options.regions:
        enabled = regions.enabled_regions(opt_in, factory.partition_of, partition)
        # The home Region's scope first, while the client that listed the Regions is cached.
        ordered = sorted(enabled, key=lambda region: region != home)
        return AccountTarget(access.account_id, access, regions=tuple(ordered))
    usable: list[str] = []
    errors: list[tuple[str, str]] = []
    for region in options.regions:
        status = opt_in.get(region, "not-in-partition")
        if status in regions.ENABLED_OPT_IN:
            usable.append(region)
        else:
            errors.append((region, f"Region not enabled for this account (OptInStatus={status})"))
    return AccountTarget(access.account_id, access, tuple(usable), tuple(errors))
