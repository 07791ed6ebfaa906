"""Scans on Dask (cluster.py): a real LocalCluster of worker processes on 127.0.0.1, the
same moto fleet as the local pool, identical JSON; a worker killed mid-scan loses nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.options import EvaluationOptions, ExecutorOptions, ScopeOptions
from imdsguard.scan import run_scan
from tests.conftest import OWN_ACCOUNT, CliResult, seed
from tests.dask_cluster import (  # noqa: F401  (the fixtures)
    cluster_fixture,
    distributed,
    scheduler_fixture,
)
from tests.faultproxy import FaultProxy, delay

ROLE = "Audit"
OTHERS = ("222222222222", "333333333333", "444444444444")
REGIONS = ("eu-west-1", "us-east-1")


def fleet(factory: SessionFactory) -> None:
    """Several accounts, each Region a different mix, so a misplaced finding shows."""
    seed(factory, "eu-west-1", Group("mine", 2), Group("ok", 1, tokens="required"))
    for n, account in enumerate(OTHERS):
        seed(factory, "eu-west-1", Group(f"web{n}", n + 1), account=account, role=ROLE)
        seed(
            factory, "us-east-1", Group(f"api{n}", 1, tokens="required"), account=account, role=ROLE
        )


def without_time(out: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out)
    doc.pop("generated_at")
    return doc


def scan_args(endpoint: str, *extra: str) -> list[str]:
    accounts = ",".join((OWN_ACCOUNT, *OTHERS))
    return [
        "scan", "--endpoint-url", endpoint, "--accounts", accounts, "--role-name", ROLE,
        "--regions", ",".join(REGIONS), "--format", "json", "--no-history", "-q", *extra,
    ]  # fmt: skip


def test_dask_scan_json_is_identical_to_the_local_pool(
    factory: SessionFactory, moto_url: str, scheduler: str, cli: Callable[..., CliResult]
) -> None:
    fleet(factory)
    local = cli(*scan_args(moto_url))
    dask = cli(*scan_args(moto_url, "--executor", "dask", "--scheduler", scheduler))
    assert (local.code, dask.code) == (1, 1), dask.err
    assert dask.err == ""
    assert without_time(dask.out) == without_time(local.out)
    doc = without_time(dask.out)
    assert len(doc["scopes"]) == 2 * (1 + len(OTHERS))
    instances = [f for f in doc["findings"] if f["resource_type"] == "AwsEc2Instance"]
    assert len(instances) == 3 + sum(n + 2 for n in range(len(OTHERS)))


def test_dask_scan_on_its_own_local_cluster(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult]
) -> None:
    seed(factory, "eu-west-1", Group("mine", 1))
    argv = ["scan", "--endpoint-url", moto_url, "--regions", "eu-west-1", "--format", "json"]
    argv += ["--resources", "instances"]
    result = cli(*argv, "--no-history", "--executor", "dask", "--max-workers", "2")
    assert result.code == 1, result.err
    assert [f["name"] for f in result.json()["findings"]] == ["mine"]


def test_workers_are_sent_no_credentials(moto_url: str, scheduler: str) -> None:
    from imdsguard.cluster import ScopeTask
    from imdsguard.model.scan import Scope

    factory = SessionFactory(endpoint_url=moto_url)
    task = ScopeTask(
        Scope("222222222222", "eu-west-1"),
        f"arn:aws:iam::222222222222:role/{ROLE}",
        None,
        ("instances",),
        EvaluationOptions(),
        factory.settings,
    )
    pickled = distributed.protocol.pickle.dumps(task)
    for secret in ("testing", os.environ["AWS_SECRET_ACCESS_KEY"]):
        assert secret.encode() not in pickled


def test_a_worker_killed_mid_scan_loses_no_scope(
    factory: SessionFactory, proxy: FaultProxy, scheduler: str
) -> None:
    fleet(factory)
    options = ScopeOptions(regions=REGIONS, accounts=(OWN_ACCOUNT, *OTHERS), role_name=ROLE)
    expected = run_scan(factory, options, EvaluationOptions())
    proxy.rules.append(delay("DescribeInstances", 1.0))
    with distributed.Client(scheduler) as client:
        pids: dict[str, int] = client.run(os.getpid)
    killer = threading.Thread(target=_kill_when_busy, args=(proxy, next(iter(pids.values()))))
    killer.start()
    proxied = SessionFactory(endpoint_url=proxy.url, max_attempts=3)
    executor = ExecutorOptions("dask", scheduler)
    result = run_scan(proxied, options, EvaluationOptions(), executor=executor)
    killer.join()
    with distributed.Client(scheduler) as client:
        # The nanny restarted the killed worker: the scan really lost a worker mid-way.
        assert set(client.run(os.getpid).values()) != set(pids.values())
    assert not result.scope_errors
    assert result.scopes == expected.scopes
    assert result.findings == expected.findings


def _kill_when_busy(proxy: FaultProxy, pid: int) -> None:
    """SIGKILL ``pid`` once scopes are in flight (reads held by the proxy's delay)."""
    deadline = time.monotonic() + 30
    while proxy.calls[("DescribeInstances", "eu-west-1")] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def test_workers_that_kill_a_scope_every_time_make_it_a_scope_error_and_exit_3(
    factory: SessionFactory, proxy: FaultProxy, cluster: Any, scheduler: str
) -> None:
    fleet(factory)
    options = ScopeOptions(regions=REGIONS, accounts=(OWN_ACCOUNT, *OTHERS), role_name=ROLE)
    proxy.rules.append(delay("DescribeInstances", 1.0))
    with distributed.Client(scheduler) as client:
        pid = next(iter(client.run(os.getpid).values()))
    # No second chance: the tasks on the killed worker fail with KilledWorker at once.
    allowed, cluster.scheduler.allowed_failures = cluster.scheduler.allowed_failures, 0
    killer = threading.Thread(target=_kill_when_busy, args=(proxy, pid))
    killer.start()
    try:
        proxied = SessionFactory(endpoint_url=proxy.url, max_attempts=3)
        executor = ExecutorOptions("dask", scheduler)
        result = run_scan(proxied, options, EvaluationOptions(), executor=executor)
    finally:
        killer.join()
        cluster.scheduler.allowed_failures = allowed
    errors = [s.error or "" for s in result.scope_errors]
    assert errors
    assert all(e.startswith("Dask task failed: KilledWorker") for e in errors)
    assert len(result.scopes) == 2 * (1 + len(OTHERS))  # every scope accounted for
    assert result.exit_code() == 3


def test_a_task_that_raises_is_a_scope_error(moto_url: str, scheduler: str) -> None:
    from imdsguard.aws.session import AccountAccess, SessionSettings
    from imdsguard.cluster import DaskScopes
    from imdsguard.collect.accounts import AccountTarget
    from imdsguard.model.scan import Scope

    # A profile the workers do not have: their SessionFactory raises on every attempt.
    settings = SessionSettings(profile="absent-on-workers", endpoint_url=moto_url)
    scope = Scope(OWN_ACCOUNT, "eu-west-1")
    with distributed.Client(scheduler) as client:
        scopes = DaskScopes(client, settings, ("instances",), EvaluationOptions())
        scopes.submit(AccountTarget(OWN_ACCOUNT, AccountAccess(OWN_ACCOUNT)), scope)
        [(outcome, findings)] = list(scopes.completed())
    assert (outcome.account_id, outcome.region, findings) == (OWN_ACCOUNT, "eu-west-1", [])
    assert (outcome.error or "").startswith("Dask task failed: UsageError: ")
    assert "absent-on-workers" in (outcome.error or "")


def test_an_unreachable_scheduler_is_one_line_and_exit_2(
    moto_url: str, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    import imdsguard.cluster

    monkeypatch.setattr(imdsguard.cluster, "CONNECT_TIMEOUT", 1)
    argv = ["scan", "--endpoint-url", moto_url, "--regions", "eu-west-1", "--no-history"]
    result = cli(*argv, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1")
    assert result.code == 2
    [line] = result.err.splitlines()  # loopback: no warning about tcp://
    assert line.startswith("imdsguard: error: cannot reach the Dask scheduler tcp://127.0.0.1:1: ")
