"""AWS Organizations adapter: the ACTIVE member accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imdsguard.aws.errors import aws_errors
from imdsguard.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient


def get_active_accounts(client: OrganizationsClient) -> list[str]:
    """ListAccounts, paginated (20 a page); ``State`` because ``Status`` is retired."""
    accounts: list[str] = []
    with aws_errors("ListAccounts"):
        for page in client.get_paginator("list_accounts").paginate():
            for account in page.get("Accounts", []):
                state = account.get("State") or account.get("Status")
                if state == "ACTIVE":
                    accounts.append(account["Id"])
    if not accounts:
        # An organization always holds at least its management account: an empty listing
        # is a reply we cannot trust, never an estate with nothing in it.
        raise AwsError("EmptyOrganization", "ListAccounts listed no ACTIVE account", "ListAccounts")
    return sorted(accounts)
