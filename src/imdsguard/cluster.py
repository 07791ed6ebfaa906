"""Scopes as Dask tasks: the connection, the scan task, and results streamed back.

Only this module and remediate/dask_scopes.py import Dask (the optional ``dask`` extra).
A task carries an account, a Region, the role's ARN, the run's options and the session's
settings: never credentials. Each worker reads its own base credentials from its
environment and assumes the role itself, once per process (executor.worker_factory).
See docs/organization-scale.md#dask.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import uuid
from asyncio import CancelledError
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from distributed import Client, Future, LocalCluster, as_completed

from imdsguard.aws.session import AccountAccess, SessionSettings
from imdsguard.collect.accounts import AccountTarget
from imdsguard.errors import AwsError, UsageError, redact
from imdsguard.executor import ScopeResult, worker_factory
from imdsguard.model.scan import Scope, ScopeOutcome
from imdsguard.options import EvaluationOptions, ExecutorOptions
from imdsguard.scan import scan_scope

# Re-runs of a task that raised, on top of Dask's own re-runs of a task whose worker died
# (distributed.scheduler.allowed-failures, 3 by default); then it is a scope error.
TASK_RETRIES = 2
# Seconds to reach a --scheduler before it is a usage error.
CONNECT_TIMEOUT = 30

Item = TypeVar("Item")
Result = TypeVar("Result")


@contextmanager
def connect(executor: ExecutorOptions, workers: int) -> Iterator[Client]:
    """A client of ``--scheduler``, or of a LocalCluster of worker processes on 127.0.0.1
    with ``workers`` threads in all (one process per core) and no dashboard."""
    if executor.scheduler is None:
        processes = max(1, min(workers, os.cpu_count() or 1))
        with (
            local_cluster(processes, -(-workers // processes)) as local,
            Client(local) as client,
        ):
            yield client
        return
    _warn_if_plain(executor.scheduler)
    try:
        client = Client(executor.scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        where = redact(executor.scheduler)
        raise UsageError(f"cannot reach the Dask scheduler {where}: {exc}") from exc
    with client:
        yield client


def local_cluster(processes: int, threads: int) -> LocalCluster:
    """Worker processes on loopback only. No dashboard; the scheduler's HTTP routes (health
    checks), which it starts regardless, take a free loopback port rather than 8787."""
    return LocalCluster(
        n_workers=processes,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )


def _warn_if_plain(address: str) -> None:
    """tcp:// off this machine: anyone who reaches the port can run code on every worker
    (tasks are pickles) and read the results."""
    host = urlsplit(address).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if address.startswith("tcp://") and not loopback:
        print(
            f"imdsguard: warning: {redact(address)} is unencrypted and unauthenticated; "
            "use tls:// (docs/organization-scale.md#dask)",
            file=sys.stderr,
        )


class Tasks(Generic[Item, Result]):
    """Tasks streamed back as they complete, each with its item and its result or the
    exception it finally failed with. Each future is released as soon as it is read: Dask
    re-runs a finished task whose result is still held when the worker holding it dies."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._items: dict[str, tuple[Future[Any], Item]] = {}
        self._done = as_completed()

    def submit(self, name: str, function: Callable[[Any], Result], arg: Any, item: Item) -> None:
        key = f"imdsguard-{name}-{uuid.uuid4().hex}"
        future = self._client.submit(function, arg, key=key, pure=False, retries=TASK_RETRIES)
        self._items[key] = (future, item)
        self._done.add(future)

    def cancel(self) -> None:
        """Drop every task not yet read (Ctrl-C): queued ones never start."""
        self._done.clear()
        self._client.cancel([future for future, _ in self._items.values()])
        self._items.clear()

    def __iter__(self) -> Iterator[tuple[Item, Result | BaseException]]:
        for future in self._done:
            _, item = self._items.pop(future.key)
            yield item, _read(future)


def _read(future: Future[Any]) -> Any:
    try:
        return future.result()
    except (Exception, CancelledError) as exc:  # KilledWorker, or what the task raised
        return exc
    finally:
        future.release()


def failure(exc: BaseException) -> str:
    return f"Dask task failed: {type(exc).__name__}: {exc}"


@dataclass(frozen=True, slots=True)
class ScopeTask:
    """Everything a worker is sent to read one scope."""

    scope: Scope
    role_arn: str | None
    external_id: str | None
    kinds: tuple[str, ...]
    evaluation: EvaluationOptions
    settings: SessionSettings


def scan_task(task: ScopeTask) -> ScopeResult:
    """Runs on a worker: enter the account with its own credentials, read the scope."""
    factory = worker_factory(task.settings)
    scope = task.scope
    access = AccountAccess(scope.account_id, task.role_arn, task.external_id)
    try:
        own = factory.identity().account_id
        if access.role_arn is None and own != scope.account_id:
            # The client's own account, which it entered without a role: a worker in
            # another account would read the wrong estate.
            why = f"this Dask worker's credentials are for account {own}, not the scanner's"
            return ScopeOutcome(scope.account_id, scope.region, why), []
        factory.enter(access)
    except AwsError as exc:
        return ScopeOutcome(scope.account_id, scope.region, f"AssumeRole failed: {exc}"), []
    target = AccountTarget(scope.account_id, access, regions=(scope.region,))
    return scan_scope(factory, target, scope, task.kinds, task.evaluation)


class DaskScopes:
    """executor.ScopeRunner on a Dask cluster: one task per scope."""

    def __init__(
        self,
        client: Client,
        settings: SessionSettings,
        kinds: tuple[str, ...],
        evaluation: EvaluationOptions,
    ) -> None:
        self._tasks: Tasks[Scope, ScopeResult] = Tasks(client)
        self._settings = settings
        self._kinds = kinds
        self._evaluation = evaluation

    def submit(self, target: AccountTarget, scope: Scope) -> None:
        access = target.access
        task = ScopeTask(
            scope,
            access.role_arn,
            access.external_id,
            self._kinds,
            self._evaluation,
            self._settings,
        )
        self._tasks.submit("scan", scan_task, task, scope)

    def completed(self) -> Iterator[ScopeResult]:
        for scope, result in self._tasks:
            if isinstance(result, BaseException):
                # Never silence: the scope was not read, so the audit is incomplete.
                yield ScopeOutcome(scope.account_id, scope.region, failure(result)), []
            else:
                yield result
