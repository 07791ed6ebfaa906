"""One shared botocore session and Config; cheap per-scope clients; assumed roles that refresh."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, RefreshableCredentials
from botocore.exceptions import BotoCoreError

from imdsguard import __version__
from imdsguard.aws import instance_pages, replies
from imdsguard.aws.clients import ClientMaker
from imdsguard.aws.errors import BOTO_FAILURES, aws_errors, translate
from imdsguard.errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_securityhub import SecurityHubClient
    from mypy_boto3_sts import STSClient


# Enough for every worker's scope to keep its EC2, Auto Scaling and CloudWatch clients, and
# for the EC2 client that lists an account's Regions as it is entered to last until that
# Region's scope uses it: scan.py enters a pool's worth of accounts ahead of their scopes,
# which is (8 workers) up to about 40 clients in between.
CLIENT_CACHE_SIZE = 64
# When assumed-role credentials are refreshed: from ADVISORY seconds before they expire
# (one caller refreshes, the others keep signing), and from MANDATORY seconds every caller
# waits for the refresh. botocore's defaults (15 and 10 minutes) would re-assume on every
# call a session of the 15-minute minimum --duration-seconds allows
# (docs/aws-behaviour.md#credentials).
ADVISORY_REFRESH_SECONDS = 5 * 60
MANDATORY_REFRESH_SECONDS = 2 * 60
# botocore's name for how assumed-role credentials were obtained.
ASSUME_ROLE_METHOD = "assume-role"


@dataclass(frozen=True, slots=True)
class Identity:
    account_id: str
    arn: str

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]


@dataclass(frozen=True, slots=True)
class AccountAccess:
    """How to call one account: the caller's own credentials, or a role assumed in it.

    It holds no keys: an assumed role's live in the factory, which refreshes them, so they
    cannot reach an output. ``role_arn`` is ``None`` for the
    caller's own credentials; ``SessionFactory.assume`` makes the others.
    """

    account_id: str
    role_arn: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What a SessionFactory is made from, and all a Dask worker is sent to make its own
    (docs/organization-scale.md#dask): names and numbers, never credentials; each worker
    reads its base credentials from its own environment."""

    profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 8
    role_session_name: str = "imdsguard"
    duration_seconds: int | None = None


class SessionFactory:
    """Hands out clients that share one botocore session's models and one Config.

    A fresh botocore session costs ~0.3 s of CPU to load its models, and a client built by
    ``Session.create_client`` ~20 ms; every client here comes from one session through
    ``ClientMaker``, which builds each service's model and client class once, so a client
    for another account or Region costs ~1 ms and an entered account adds only its
    credentials. botocore sessions are not thread-safe, hence the locks.

    It takes plain values, not the CLI's ``options.AwsOptions``: aws/ depends on nothing
    above it in the pipeline (README, Layout).
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 8,
        role_session_name: str = "imdsguard",
        duration_seconds: int | None = None,
    ) -> None:
        self.settings = SessionSettings(
            profile, endpoint_url, max_attempts, role_session_name, duration_seconds
        )
        self._endpoint_url = endpoint_url
        self._role_session_name = role_session_name
        self._duration_seconds = duration_seconds
        self._lock = threading.Lock()
        self._session = botocore.session.Session(profile=profile)
        self._session.register_component("response_parser_factory", instance_pages.ParserFactory())
        try:
            # An unknown profile fails here, before any call is made.
            self._session.get_scoped_config()
        except BotoCoreError as exc:
            raise translate(exc) from exc
        # Standard mode: exponential backoff with jitter, retries throttling and 5xx.
        # total_max_attempts counts the first try; the older max_attempts key counts retries.
        self.config = Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=32,
            user_agent_extra=f"imdsguard/{__version__}",
            connect_timeout=10,
            read_timeout=60,
        )
        self._maker = ClientMaker(self._session, self.config, endpoint_url)
        self._identity: Identity | None = None
        self._own: dict[tuple[str, str, AccountAccess | None], Any] = {}
        self._clients: OrderedDict[tuple[str, str, AccountAccess | None], Any] = OrderedDict()
        # The credentials of each assumed role, kept (and refreshed) for the run: entering
        # the account again must not call AssumeRole again. The gates serialise entering
        # one account, so two scopes of it entered at once still make one AssumeRole.
        self._accounts: dict[AccountAccess, RefreshableCredentials] = {}
        self._gates: dict[AccountAccess, threading.Lock] = {}

    @property
    def endpoint_overridden(self) -> bool:
        """Calls go to --endpoint-url or AWS_ENDPOINT_URL(_EC2), perhaps an emulator."""
        env = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2")
        return bool(self._endpoint_url or any(os.environ.get(name) for name in env))

    def default_region(self) -> str:
        region = self._session.get_config_variable("region")
        return str(region) if region else "us-east-1"

    def partition_of(self, region: str) -> str | None:
        """The Region's partition, or ``None`` when the installed botocore does not know it."""
        try:
            return self._session.get_partition_for_region(region)
        except BotoCoreError:  # UnknownRegionError
            return None

    def known_regions(self) -> frozenset[str]:
        """Every Region botocore knows in any partition: the yardstick for --regions."""
        names: set[str] = set()
        for partition in self._session.get_available_partitions():
            names.update(self._session.get_available_regions("ec2", partition))
        return frozenset(names)

    def _client(self, service: str, access: AccountAccess | None, region: str) -> Any:
        """One client per (service, Region, credentials), created once: clients are
        thread-safe, and each scope reads several kinds through the same one."""
        role = access if access is not None and access.role_arn is not None else None
        key = (service, region, role)
        # The caller's own clients are all kept: a few per Region, and STS's serves every
        # AssumeRole. An assumed role's are bounded: each holds its own connection pool
        # (~100 KB), and only the scopes in flight need theirs.
        cache = self._own if role is None else self._clients
        with self._lock:
            client = cache.get(key)
            if client is None:
                if role is None:
                    credentials = self._session.get_credentials()
                else:
                    credentials = self._accounts[role]
                try:
                    client = self._maker.create(service, region, credentials)
                except ValueError as exc:  # e.g. a malformed AWS_ENDPOINT_URL
                    raise UsageError(f"cannot create an AWS client: {exc}") from exc
                # Fail closed on any reply that is not the operation's answer.
                replies.install(client)
                cache[key] = client
                while len(self._clients) > CLIENT_CACHE_SIZE:
                    self._clients.popitem(last=False)
            elif role is not None:
                self._clients.move_to_end(key)
            return client

    def ec2(self, access: AccountAccess | None, region: str) -> EC2Client:
        return cast("EC2Client", self._client("ec2", access, region))

    def cloudwatch(self, access: AccountAccess | None, region: str) -> CloudWatchClient:
        return cast("CloudWatchClient", self._client("cloudwatch", access, region))

    def autoscaling(self, access: AccountAccess | None, region: str) -> AutoScalingClient:
        return cast("AutoScalingClient", self._client("autoscaling", access, region))

    def securityhub(self, access: AccountAccess | None, region: str) -> SecurityHubClient:
        return cast("SecurityHubClient", self._client("securityhub", access, region))

    def iam(self, access: AccountAccess | None) -> IAMClient:
        return cast("IAMClient", self._client("iam", access, self.default_region()))

    def sts(self, access: AccountAccess | None = None) -> STSClient:
        return cast("STSClient", self._client("sts", access, self.default_region()))

    def organizations(self) -> OrganizationsClient:
        return cast(
            "OrganizationsClient", self._client("organizations", None, self.default_region())
        )

    def identity(self) -> Identity:
        """The caller's account and ARN (GetCallerIdentity), fetched once."""
        if self._identity is None:
            with aws_errors("GetCallerIdentity"):
                reply = self.sts().get_caller_identity()
            self._identity = Identity(account_id=reply["Account"], arn=reply["Arn"])
        return self._identity

    def assume(self, account_id: str, role_name: str, external_id: str | None) -> AccountAccess:
        """Enter another account with STS AssumeRole, once per role; raises AwsError on failure.

        The first AssumeRole is made here, so a denied role fails as the account is
        entered; later ones are botocore's refreshes, made by the call that finds the
        credentials close to expiry. A refresh that fails raises the same AwsError from
        that call.
        """
        partition = self.identity().partition
        role_arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
        return self.enter(AccountAccess(account_id, role_arn, external_id))

    def enter(self, access: AccountAccess) -> AccountAccess:
        """Assume ``access``'s role unless this factory already has (``assume`` does the
        rest); the caller's own credentials need nothing. Raises AwsError on failure."""
        if access.role_arn is None:
            return access
        role_arn, external_id = access.role_arn, access.external_id
        with self._lock:
            gate = self._gates.setdefault(access, threading.Lock())
        with gate:
            with self._lock:
                entered = access in self._accounts
            if not entered:
                credentials = self._assumed_credentials(role_arn, external_id)
                with self._lock:
                    self._accounts[access] = credentials
        return access

    def _assumed_credentials(
        self, role_arn: str, external_id: str | None
    ) -> RefreshableCredentials:
        extra: dict[str, Any] = {"RoleSessionName": self._role_session_name}
        if external_id:
            extra["ExternalId"] = external_id
        if self._duration_seconds is not None:
            extra["DurationSeconds"] = self._duration_seconds
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=self._sts_for_fetcher,
            source_credentials=self._session.get_credentials(),
            role_arn=role_arn,
            extra_args=extra,
            # Its cache must count credentials in the refresh window as stale, or a refresh
            # would get the same ones back.
            expiry_window_seconds=ADVISORY_REFRESH_SECONDS,
        )

        def fetch() -> dict[str, Any]:
            try:
                return fetcher.fetch_credentials()
            except BOTO_FAILURES as exc:
                raise translate(exc, "AssumeRole") from exc

        return RefreshableCredentials.create_from_metadata(
            fetch(),
            refresh_using=fetch,
            method=ASSUME_ROLE_METHOD,
            advisory_timeout=ADVISORY_REFRESH_SECONDS,
            mandatory_timeout=MANDATORY_REFRESH_SECONDS,
        )

    def _sts_for_fetcher(self, service_name: str, **_frozen_keys: str | None) -> Any:
        """The fetcher's client_creator. The keys it passes are the base session's
        credentials, frozen; the shared STS client signs with those same credentials (and
        follows their own refresh), so it serves every AssumeRole."""
        return self._client(service_name, None, self.default_region())
