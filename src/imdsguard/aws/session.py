"""One shared boto3/botocore session and Config; cheap per-scope clients; assume-role."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from imdsguard import __version__
from imdsguard.aws import replies
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


# Enough for every worker's scope to keep its EC2, Auto Scaling and CloudWatch clients.
CLIENT_CACHE_SIZE = 24


@dataclass(frozen=True, slots=True)
class Identity:
    account_id: str
    arn: str

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]


@dataclass(frozen=True, slots=True)
class AccountAccess:
    """Credentials for one account; ``None`` keys mean the caller's own credentials."""

    account_id: str
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None


class SessionFactory:
    """Hands out clients that share one botocore session, its models and one Config.

    Creating a boto3 Session per account costs ~0.5 s of CPU; a client from a shared
    session ~35 ms, so every account and Region gets a client from this one session.
    botocore's session is not thread-safe while it loads models, hence the lock.

    It takes plain values, not the CLI's ``options.AwsOptions``: aws/ depends on nothing
    above it in the pipeline (README, Layout).
    """

    def __init__(
        self, *, profile: str | None = None, endpoint_url: str | None = None, max_attempts: int = 8
    ) -> None:
        self._endpoint_url = endpoint_url
        self._lock = threading.Lock()
        try:
            self._session = boto3.Session(profile_name=profile)
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
        self._identity: Identity | None = None
        self._clients: OrderedDict[tuple[str, str, str | None], Any] = OrderedDict()

    def default_region(self) -> str:
        return self._session.region_name or "us-east-1"

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

    def _client_kwargs(self, access: AccountAccess | None, region: str) -> dict[str, object]:
        kwargs: dict[str, object] = {"region_name": region, "config": self.config}
        if self._endpoint_url:
            kwargs["endpoint_url"] = self._endpoint_url
        if access is not None and access.access_key_id:
            kwargs["aws_access_key_id"] = access.access_key_id
            kwargs["aws_secret_access_key"] = access.secret_access_key
            kwargs["aws_session_token"] = access.session_token
        return kwargs

    def _client(self, service: str, access: AccountAccess | None, region: str) -> Any:
        """One client per (service, Region, credentials), created once: clients are
        thread-safe, and creating one costs ~35 ms of CPU, which an all-kinds scan of every
        Region would otherwise pay several times per scope."""
        key = (service, region, access.access_key_id if access else None)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                kwargs = self._client_kwargs(access, region)
                try:
                    client = self._session.client(service, **kwargs)  # type: ignore[call-overload]
                except ValueError as exc:  # e.g. a malformed AWS_ENDPOINT_URL
                    raise UsageError(f"cannot create an AWS client: {exc}") from exc
                # Fail closed on any reply that is not the operation's answer.
                replies.install(client)
                self._clients[key] = client
                # Bounded: each client holds its own resolved shapes and connection pool,
                # and only the scopes in flight need theirs.
                while len(self._clients) > CLIENT_CACHE_SIZE:
                    self._clients.popitem(last=False)
            else:
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
        """Enter another account with STS AssumeRole; raises AwsError on failure."""
        partition = self.identity().partition
        kwargs: dict[str, str] = {
            "RoleArn": f"arn:{partition}:iam::{account_id}:role/{role_name}",
            "RoleSessionName": "imdsguard",
        }
        if external_id:
            kwargs["ExternalId"] = external_id
        try:
            reply = self.sts().assume_role(**kwargs)  # type: ignore[arg-type]
        except BOTO_FAILURES as exc:
            raise translate(exc, "AssumeRole") from exc
        creds = reply["Credentials"]
        return AccountAccess(
            account_id=account_id,
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
        )
