"""Clients for many accounts from one session (aws/clients.py): held to what botocore's own
``Session.create_client`` builds, sharing each service's model and class, and safe when
the pool's threads enter many accounts and create their clients at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials

from imdsguard.aws import session as session_module
from imdsguard.aws.clients import ClientMaker
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.demo.fleet import DEMO_ROLE
from imdsguard.demo.org import ORG_REGIONS, seed_organization
from tests.conftest import CliResult
from tests.faultproxy import FaultProxy

# Every service the tool calls (aws/session.py).
SERVICES = ("ec2", "autoscaling", "cloudwatch", "securityhub", "iam", "sts", "organizations")


def handlers(client: Any) -> list[tuple[str, str, str]]:
    """Every (event, position, handler name) on a client's event emitter."""
    found: list[tuple[str, str, str]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        if node["values"] is not None:
            for position, items in zip(("first", "middle", "last"), node["values"], strict=True):
                for handler in items:
                    name = getattr(handler, "__qualname__", type(handler).__qualname__)
                    found.append((".".join(path), position, name))
        for chunk, child in node["children"].items():
            walk(child, (*path, chunk))

    walk(client.meta.events._emitter._handlers._root, ())
    return sorted(found)


def botocore_client(factory: SessionFactory, service: str, region: str, url: str) -> Any:
    """The client botocore's own Session.create_client makes with the factory's settings."""
    return factory._session.create_client(
        service, region_name=region, endpoint_url=url, config=factory.config
    )


@pytest.mark.parametrize("service", SERVICES)
def test_a_client_is_the_one_botocore_would_build(
    factory: SessionFactory, moto_url: str, service: str
) -> None:
    ours = factory._maker.create(service, "eu-west-1", factory._session.get_credentials())
    theirs = botocore_client(factory, service, "eu-west-1", moto_url)

    assert type(ours).__name__ == type(theirs).__name__
    assert set(dir(ours)) == set(dir(theirs))
    for attribute in ("endpoint_url", "region_name", "partition", "method_to_api_mapping"):
        assert getattr(ours.meta, attribute) == getattr(theirs.meta, attribute)
    assert vars(ours.meta.config) == vars(theirs.meta.config)
    assert handlers(ours) == handlers(theirs)
    assert ours.meta.service_model.api_version == theirs.meta.service_model.api_version


def test_clients_of_other_accounts_share_the_model_and_class_and_sign_as_their_account(
    factory: SessionFactory,
) -> None:
    own = factory.identity().account_id
    other = account_access(factory, "222222222222", DEMO_ROLE, None)
    clients = [factory.ec2(AccountAccess(own), "eu-west-1"), factory.ec2(other, "eu-west-1")]
    clients.append(factory.ec2(other, "us-east-1"))

    assert len({type(c) for c in clients}) == 1
    assert len({id(c.meta.service_model) for c in clients}) == 1
    assert len({id(c) for c in clients}) == 3
    # Each acts in its own account: moto scopes the reservation to the signing account.
    owners = [c.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1) for c in clients]
    assert [o["OwnerId"] for o in owners] == [own, "222222222222", "222222222222"]


def test_the_pool_entering_many_accounts_at_once_gets_each_its_own_clients(
    proxy: FaultProxy, proxied_factory: SessionFactory
) -> None:
    accounts = [str(300000000001 + n) for n in range(24)]
    regions = ("eu-west-1", "us-east-1", "ap-southeast-2")
    proxied_factory.identity()

    def work(job: tuple[str, str]) -> tuple[str, str, str, Any]:
        account, region = job
        access = account_access(proxied_factory, account, DEMO_ROLE, None)
        sts = proxied_factory.sts(access)
        ec2 = proxied_factory.ec2(access, region)
        ec2.describe_instances()
        autoscaling = proxied_factory.autoscaling(access, region)
        autoscaling.describe_auto_scaling_groups()
        return account, region, sts.get_caller_identity()["Account"], type(ec2)

    # Every scope of every account at once, in the scan's pool size and beyond.
    jobs = [(a, r) for a in accounts for r in regions]
    with ThreadPoolExecutor(max_workers=16) as pool:
        done = list(pool.map(work, jobs))

    assert [(a, r, signed) for a, r, signed, _ in done] == [(a, r, a) for a, r in jobs]
    assert len({cls for *_, cls in done}) == 1
    assumed = [r.param("RoleArn") or "" for r in proxy.forwarded if r.action == "AssumeRole"]
    assert sorted(assumed) == sorted(f"arn:aws:iam::{a}:role/{DEMO_ROLE}" for a in accounts)
    # Each account's calls were signed with its own credentials and no one else's.
    keys: dict[str, set[str]] = {}
    for request in proxy.forwarded:
        if request.service == "ec2":
            keys.setdefault(request.access_key, set()).add(request.region)
    assert len(keys) == len(accounts)
    assert all(regions_seen == set(regions) for regions_seen in keys.values())


class CountingMaker(ClientMaker):
    """The factory's ClientMaker, counting the clients it builds per service."""

    made: ClassVar[Counter[str]] = Counter()

    def create(self, service: str, region: str, credentials: Credentials | None) -> Any:
        CountingMaker.made[service] += 1
        return super().create(service, region, credentials)


@pytest.mark.parametrize("kinds", [("--resources", "instances"), ()], ids=["instances", "all"])
def test_an_organization_scan_builds_one_client_per_scope_and_service(
    cli: Callable[..., CliResult],
    factory: SessionFactory,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    kinds: tuple[str, ...],
) -> None:
    # Many more accounts than the pool enters at once, or than the factory keeps clients
    # for, so an account entered too early would find its client evicted; no instances:
    # clients and calls are all that is counted.
    accounts = 12
    seed_organization(factory, accounts, groups=())
    monkeypatch.setattr(session_module, "ClientMaker", CountingMaker)
    monkeypatch.setattr(session_module, "CLIENT_CACHE_SIZE", 12)
    CountingMaker.made.clear()
    argv = ["scan", "--endpoint-url", proxy.url, "--organization", "--role-name", DEMO_ROLE]
    argv += ["--max-workers", "2"]
    argv += ["--regions", ",".join(ORG_REGIONS), "--format", "json", "--no-history", "--quiet"]

    result = cli(*argv, *kinds)

    scopes = accounts * len(ORG_REGIONS)
    doc = result.json()
    # Exit 1 for every kind: no account default is set, a failing finding per scope.
    assert (result.code, doc["summary"]["scope_errors"]) == ((0 if kinds else 1), 0)
    assert len(doc["scopes"]) == scopes
    # One DescribeRegions per account, by the EC2 client its first Region's scope then uses.
    listed = [r for r in proxy.forwarded if r.action == "DescribeRegions"]
    assert len(listed) == accounts
    assert CountingMaker.made["ec2"] == scopes
    assert CountingMaker.made["autoscaling"] == (scopes if not kinds else 0)


def test_clients_share_one_cache_of_event_aliases(factory: SessionFactory) -> None:
    first, second = (factory.ec2(None, region) for region in ORG_REGIONS)
    events: list[Any] = [first.meta.events, second.meta.events]

    assert events[0]._alias_name_cache is events[1]._alias_name_cache
    assert handlers(first) == handlers(second)


class _Given(CredentialProvider):
    METHOD = "given"
    CANONICAL_NAME = "custom-given"

    def __init__(self, credentials: Credentials | None) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials | None:
        return self._credentials


class BotocoreClients:
    """The reference ClientMaker: every client from botocore's own Session.create_client,
    in a session whose only credentials are the given ones."""

    made = 0

    def __init__(
        self, session: botocore.session.Session, config: Config, endpoint_url: str | None
    ) -> None:
        self._base = session
        self._config = config
        self._endpoint_url = endpoint_url

    def create(self, service: str, region: str, credentials: Credentials | None) -> Any:
        BotocoreClients.made += 1
        session = botocore.session.Session()
        session.register_component("data_loader", self._base.get_component("data_loader"))
        session.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
        return session.create_client(
            service, region_name=region, endpoint_url=self._endpoint_url, config=self._config
        )


@pytest.mark.slow
def test_a_multi_account_scan_reports_what_botocores_own_clients_report(
    cli: Callable[..., CliResult],
    factory: SessionFactory,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_organization(factory, 3)
    argv = ["scan", "--endpoint-url", moto_url, "--organization", "--role-name", DEMO_ROLE]
    argv += ["--regions", ",".join(ORG_REGIONS), "--format", "json", "--status", "all"]
    argv += ["--no-history", "--quiet"]

    ours = cli(*argv)
    monkeypatch.setattr(session_module, "ClientMaker", BotocoreClients)
    theirs = cli(*argv)

    assert BotocoreClients.made > 0
    assert (ours.code, theirs.code) == (1, 1)
    ours_doc, theirs_doc = ours.json(), theirs.json()
    assert len(ours_doc["scopes"]) == 3 * len(ORG_REGIONS)
    for doc in (ours_doc, theirs_doc):
        del doc["generated_at"]
    assert ours_doc == theirs_doc
