"""Where scopes run: this process's thread pool (the default), or Dask tasks (cluster.py).

scan.py submits each scope to a runner and consumes the completed ones in one loop; only
the runner knows where they ran. The Dask side is imported only for ``--executor dask``,
so the optional ``dask`` extra is needed only then (docs/organization-scale.md#dask).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Protocol

from imdsguard.aws.session import SessionFactory, SessionSettings
from imdsguard.collect.accounts import AccountTarget
from imdsguard.errors import UsageError
from imdsguard.model.scan import Finding, Scope, ScopeOutcome
from imdsguard.options import EvaluationOptions, ExecutorOptions

# The findings: an in-memory or spilled buffer locally (spill.py), a list from Dask.
ScopeResult = tuple[ScopeOutcome, Iterable[Finding]]
# How the local pool reads one scope: scan.scan_scope with the run's factory and options.
ReadScope = Callable[[AccountTarget, Scope], ScopeResult]


class ScopeRunner(Protocol):
    def submit(self, target: AccountTarget, scope: Scope) -> None:
        """Start reading ``scope`` of the entered account ``target``."""

    def completed(self) -> Iterator[ScopeResult]:
        """Every submitted scope's result, once each, as it completes."""
        ...


class LocalScopes:
    """The in-process pool: the same pool that enters the accounts reads their scopes."""

    def __init__(self, pool: ThreadPoolExecutor, read: ReadScope) -> None:
        self._pool = pool
        self._read = read
        self._pending: list[Future[ScopeResult]] = []

    def submit(self, target: AccountTarget, scope: Scope) -> None:
        self._pending.append(self._pool.submit(self._read, target, scope))

    def completed(self) -> Iterator[ScopeResult]:
        pending, self._pending = self._pending, []
        for future in pending:
            yield future.result()


def require_available(executor: ExecutorOptions) -> None:
    """Before anything is read: Dask is an optional extra."""
    if executor.name == "dask" and importlib.util.find_spec("distributed") is None:
        raise UsageError(
            "--executor dask needs Dask distributed, which is not installed: "
            "pip install 'imdsguard[dask]'"
        )


@contextmanager
def open_scopes(
    executor: ExecutorOptions,
    pool: ThreadPoolExecutor,
    *,
    read: ReadScope,
    settings: SessionSettings,
    kinds: Sequence[str],
    evaluation: EvaluationOptions,
    workers: int,
) -> Iterator[ScopeRunner]:
    """The runner ``executor`` names; a Dask one is connected for the ``with`` block."""
    if executor.name == "local":
        yield LocalScopes(pool, read)
        return
    from imdsguard import cluster

    with cluster.connect(executor, workers) as client:
        yield cluster.DaskScopes(client, settings, tuple(kinds), evaluation)


_factories: dict[SessionSettings, SessionFactory] = {}
_factories_lock = threading.Lock()


def worker_factory(settings: SessionSettings) -> SessionFactory:
    """This process's one SessionFactory for ``settings``, made on first use.

    On a Dask worker every task of a run shares it: botocore's models load once per
    process, and each role is assumed once per process and refreshed from then on
    (aws/session.py), not once per task.
    """
    with _factories_lock:
        factory = _factories.get(settings)
        if factory is None:
            factory = SessionFactory(**dataclasses.asdict(settings))
            _factories[settings] = factory
        return factory
