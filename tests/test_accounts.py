"""Entering accounts (collect/accounts.py): own account, AssumeRole, and the two ways it fails."""

from __future__ import annotations

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import NO_ROLE, account_access, enter_account
from imdsguard.errors import AwsError
from imdsguard.options import ScopeOptions
from tests.conftest import OWN_ACCOUNT
from tests.faultproxy import FaultProxy, denied

OTHER = "222222222222"


def test_own_account_uses_the_base_credentials(factory: SessionFactory) -> None:
    access = account_access(factory, OWN_ACCOUNT, None, None)
    assert (access.account_id, access.role_arn) == (OWN_ACCOUNT, None)


def test_another_account_is_entered_with_assume_role(factory: SessionFactory) -> None:
    access = account_access(factory, OTHER, "Audit", "ext-id-1")
    assert access.account_id == OTHER
    assert access.role_arn == f"arn:aws:iam::{OTHER}:role/Audit"
    assert factory.sts(access).get_caller_identity()["Account"] == OTHER


def test_another_account_without_a_role_name_raises_no_role(factory: SessionFactory) -> None:
    with pytest.raises(AwsError) as caught:
        account_access(factory, OTHER, None, None)
    assert caught.value.code == NO_ROLE
    assert str(caught.value) == "NoRole on AssumeRole: no --role-name to enter this account"


def test_enter_account_without_a_role_name_says_so_without_prefix(
    factory: SessionFactory,
) -> None:
    target = enter_account(factory, OTHER, ScopeOptions(regions=("eu-west-1",)))
    assert target.error == "no --role-name to enter this account"
    assert target.regions == ()


def test_enter_account_reports_a_denied_assume_role(
    factory: SessionFactory, proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    proxy.rules.append(lambda req: denied("AccessDenied") if req.action == "AssumeRole" else None)
    options = ScopeOptions(regions=("eu-west-1",), role_name="Audit")
    target = enter_account(proxied_factory, OTHER, options)
    assert (target.error or "").startswith("AssumeRole failed: AccessDenied on AssumeRole: ")
    assert enter_account(factory, OTHER, options).regions == ("eu-west-1",)
