"""An organization of many accounts in the emulator: for ``demo --accounts N`` and the
organization benchmark (``python -m bench org``).

moto lets STS AssumeRole enter any account its role ARN names, with no role created
first, and every later call with those credentials acts in that account
(docs/aws-behaviour.md#the-emulator), so the organization's members are real, separate
accounts to the scan: it enters each with AssumeRole, as it would on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.demo.fleet import DEMO_ROLE, Group, seed_scope
from imdsguard.progress import ProgressSink, Silent

ORG_REGIONS = ("us-east-1", "eu-west-1")
# A few instances a scope: one passes, two allow IMDSv1 (one of them stopped). legacy-app
# made no IMDSv1 call, so `demo --accounts N --plan` has a change in every scope.
ORG_FLEET = (
    Group("web", 1, tokens="required"),
    Group("legacy-app", 1, imdsv1_calls=0),
    Group("batch", 1, then="stop"),
)
# Seeding calls are I/O bound on the emulator; a few threads keep it busy.
SEED_WORKERS = 4


def seed_organization(
    factory: SessionFactory,
    accounts: int,
    regions: Sequence[str] = ORG_REGIONS,
    groups: tuple[Group, ...] = ORG_FLEET,
    progress: ProgressSink | None = None,
) -> list[str]:
    """An organization of ``accounts`` accounts: the caller's (its management account) and
    ``accounts - 1`` members, with ``groups`` in each of ``regions`` of every one.

    Returns the account ids, the caller's first. ``progress`` advances once per account.
    """
    if accounts < 1:
        raise ValueError("an organization has at least its management account")
    progress = progress or Silent()
    org = factory.organizations()
    org.create_organization(FeatureSet="ALL")
    members = [
        org.create_account(AccountName=f"member-{n:04d}", Email=f"member-{n:04d}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        for n in range(1, accounts)
    ]
    progress.add_total(accounts)

    def plant(account_id: str | None) -> str:
        if account_id is None:
            access = AccountAccess(factory.identity().account_id)
        else:
            access = factory.assume(account_id, DEMO_ROLE, None)
        for region in regions:
            seed_scope(factory, access, region, groups)
        progress.advance()
        return access.account_id

    with ThreadPoolExecutor(max_workers=SEED_WORKERS) as pool:
        return list(pool.map(plant, [None, *members]))
