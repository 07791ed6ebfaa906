"""Shared fixtures: one real moto server over HTTP on 127.0.0.1, reset for every test."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.cli import main
from imdsguard.demo.fleet import Group, seed_scope
from imdsguard.demo.server import emulator, isolate_environment
from tests.faultproxy import FaultProxy

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

# Fake credentials before anything can build a client: nothing may reach real AWS.
isolate_environment()

OWN_ACCOUNT = "123456789012"  # moto's default account for the fake credentials


@pytest.fixture(autouse=True)
def history_db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scans run by tests keep their history in a temporary directory, never the user's."""
    data_home = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    # Journals and their plan locks too: tests never write into the user's state dir.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    return data_home / "imdsguard" / "history.sqlite3"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with emulator() as url:
        yield url


@pytest.fixture
def moto_url(moto_server: str) -> str:
    """The server URL, with every backend reset so each test starts from an empty estate."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=30).read()
    return moto_server


@pytest.fixture
def ec2() -> Iterator[tuple[EC2Client, Stubber]]:
    """An EC2 client answered by botocore's Stubber (real model shapes, no server)."""
    client: EC2Client = boto3.client("ec2", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def factory(moto_url: str) -> SessionFactory:
    return SessionFactory(endpoint_url=moto_url, max_attempts=3)


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def proxied_factory(proxy: FaultProxy) -> SessionFactory:
    return SessionFactory(endpoint_url=proxy.url, max_attempts=3)


def own(factory: SessionFactory) -> AccountAccess:
    return AccountAccess(factory.identity().account_id)


def seed(
    factory: SessionFactory,
    region: str,
    *groups: Group,
    account: str | None = None,
    role: str = "OrganizationAccountAccessRole",
) -> list[str]:
    """Launch ``groups`` in ``region`` of the caller's account, or of ``account``."""
    access = own(factory) if account is None else factory.assume(account, role, None)
    return seed_scope(factory, access, region, groups)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the CLI in-process, as a user would, and capture its output and exit code."""

    def run(*argv: str) -> CliResult:
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
