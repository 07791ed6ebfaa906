"""An organization in the emulator (demo/org.py) and ``imdsguard demo --accounts N``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from imdsguard import progress
from imdsguard.aws import organizations
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import DEMO_ROLE
from imdsguard.demo.org import ORG_FLEET, ORG_REGIONS, seed_organization
from tests.conftest import OWN_ACCOUNT, CliResult

Cli = Callable[..., CliResult]
PER_SCOPE = sum(group.count for group in ORG_FLEET)


@dataclass
class Recorder:
    """A progress sink that keeps what it was told."""

    label: str = ""
    total: int = 0
    advanced: int = 0

    def add_total(self, n: int) -> None:
        self.total += n

    def advance(self, n: int = 1) -> None:
        self.advanced += n


def test_seeding_makes_an_organization_of_separate_accounts(factory: SessionFactory) -> None:
    seen = Recorder()

    accounts = seed_organization(factory, 4, progress=seen)

    assert accounts[0] == OWN_ACCOUNT
    assert sorted(accounts) == organizations.get_active_accounts(factory.organizations())
    assert len(set(accounts)) == 4
    assert (seen.total, seen.advanced) == (4, 4)
    owners: set[str] = set()
    for account in accounts[1:]:
        access = factory.assume(account, DEMO_ROLE, None)
        for region in ORG_REGIONS:
            reservations = factory.ec2(access, region).describe_instances()["Reservations"]
            assert sum(len(r["Instances"]) for r in reservations) == PER_SCOPE
            owners.update(r["OwnerId"] for r in reservations)
    assert owners == set(accounts[1:])


def test_an_organization_has_its_management_account() -> None:
    with pytest.raises(ValueError, match="at least"):
        seed_organization(SessionFactory(), 0)


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[Recorder]:
    """Every progress bar the command opens, in order, as a Recorder."""
    opened: list[Recorder] = []

    @contextmanager
    def sink(enabled: bool, label: str = "scanning") -> Iterator[Recorder]:
        opened.append(Recorder(label))
        yield opened[-1]

    monkeypatch.setattr(progress, "progress_sink", sink)
    return opened


@pytest.mark.slow
def test_demo_accounts_scans_an_organization_of_that_size(
    cli: Cli, moto_url: str, bars: list[Recorder]
) -> None:
    run = cli("demo", "--accounts", "3", "--format", "json", "--status", "all")

    assert run.code == 1  # the fleet has failing instances; 3 would be a scope error
    doc = run.json()
    scopes = [(s["account_id"], s["region"], s["status"]) for s in doc["scopes"]]
    accounts = sorted({account for account, _, _ in scopes})
    assert len(accounts) == 3
    assert OWN_ACCOUNT in accounts
    assert sorted(scopes) == sorted((a, r, "ok") for a in accounts for r in ORG_REGIONS)
    instances = [f for f in doc["findings"] if f["resource_type"] == "AwsEc2Instance"]
    assert len(instances) == 3 * len(ORG_REGIONS) * PER_SCOPE
    assert "seeded an organization of 3 accounts in us-east-1, eu-west-1" in run.err
    assert f"--organization --role-name {DEMO_ROLE} --regions us-east-1,eu-west-1" in run.err
    # One bar over the accounts being seeded, then the scan's over accounts and scopes.
    assert [(b.label, b.total, b.advanced) for b in bars] == [
        ("seeding accounts", 3, 3),
        ("scanning", 3 + 3 * len(ORG_REGIONS), 3 + 3 * len(ORG_REGIONS)),
    ]


@pytest.mark.parametrize("size", ["0", "-1", "many", "2001"])
def test_demo_accounts_must_be_a_sensible_size(cli: Cli, size: str) -> None:
    run = cli("demo", "--accounts", size)
    assert run.code == 2
    assert "expected a number of accounts, 1-2000" in run.err
