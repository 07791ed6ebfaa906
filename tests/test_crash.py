"""SIGKILL in the middle of apply, then resume or roll back: no instance in an unknown state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import CliResult, own, seed
from tests.faultproxy import FaultProxy, delay
from tests.remediation_helpers import journal_records, options_of

REGION = "ap-southeast-2"
SLOW = 0.4  # seconds the proxy holds each modify: the window the kill lands in


# ``python -m imdsguard`` with Python's own SIGINT handler (KeyboardInterrupt) installed
# even if SIGINT came in ignored, as it does when a shell runs the suite in the
# background: Python leaves an ignored SIGINT ignored, so Ctrl-C would never arrive. Set
# in the child itself: a preexec_fn is unsafe in this multi-threaded test process.
CHILD = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('imdsguard', run_name='__main__', alter_sys=True)"
)


def _count_intents(path: Path) -> int:
    if not path.exists():
        return 0
    return path.read_text().count('"type": "intent"')


def _killed_apply(
    proxy: FaultProxy,
    plan: Path,
    journal: Path,
    after_intents: int,
    *,
    sig: int = signal.SIGKILL,
    write: str = "ModifyInstanceMetadataOptions",
    held: bool = False,
) -> subprocess.Popen[bytes]:
    """Run apply in a subprocess and signal it once ``after_intents`` intents are on disk
    (``held``: and as many ``write`` calls reached the proxy, which holds each for SLOW
    seconds, then lets it through, so the last one lands after the signal)."""
    proxy.rules.append(delay(write, SLOW))
    argv = [
        sys.executable,
        "-c",
        CHILD,
        "apply",
        str(plan),
        "--endpoint-url",
        proxy.url,
        "--journal",
        str(journal),
        "--workers-per-scope",
        "1",
        "--quiet",
    ]
    child = subprocess.Popen(
        argv, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while _count_intents(journal) < after_intents or (
        held and sum(n for (action, _), n in proxy.calls.items() if action == write) < after_intents
    ):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "apply never got going"
        time.sleep(0.02)
    child.send_signal(sig)
    child.wait(timeout=30)
    proxy.rules.clear()
    time.sleep(SLOW + 0.2)  # let the request the proxy was holding land (or not)
    return child


@pytest.fixture
def fleet(factory: SessionFactory) -> list[str]:
    return seed(factory, REGION, Group("app", 8, imdsv1_calls=0, hop_limit=2))


def _plan(
    cli: Callable[..., CliResult], proxy: FaultProxy, path: Path, resources: str = "instances"
) -> None:
    result = cli(
        "plan",
        "--endpoint-url",
        proxy.url,
        "--regions",
        REGION,
        "--resources",
        resources,
        "--output",
        str(path),
    )
    assert result.code == 0, result.err


@pytest.mark.slow
def test_sigkill_mid_apply_then_resume_finishes_the_run(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    fleet: list[str],
    tmp_path: Path,
) -> None:
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    _plan(cli, proxy, plan)
    _killed_apply(proxy, plan, journal, after_intents=3)
    half_done = options_of(factory, REGION)
    assert any(o["http_tokens"] == "optional" for o in half_done.values())

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url)

    assert resumed.code == 0, resumed.out + resumed.err
    after = options_of(factory, REGION)
    assert {o["http_tokens"] for o in after.values()} == {"required"}
    assert {o["hop_limit"] for o in after.values()} == {2}
    outcomes = {}
    for record in journal_records(journal):
        if record["type"] == "outcome":
            outcomes[record["key"]] = record["outcome"]
    assert len(outcomes) == len(fleet)
    assert set(outcomes.values()) == {"applied"}


@pytest.mark.slow
def test_sigkill_mid_apply_then_rollback_restores_the_original_fleet(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    fleet: list[str],
    tmp_path: Path,
) -> None:
    original = options_of(factory, REGION)
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    _plan(cli, proxy, plan)
    _killed_apply(proxy, plan, journal, after_intents=4)
    assert options_of(factory, REGION) != original

    rolled = cli("rollback", str(journal), "--endpoint-url", proxy.url)

    assert rolled.code == 0, rolled.out + rolled.err
    assert options_of(factory, REGION) == original  # field by field


@pytest.mark.slow
def test_ctrl_c_stops_queued_changes_and_points_at_resume(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    fleet: list[str],
    tmp_path: Path,
) -> None:
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    _plan(cli, proxy, plan)
    child = _killed_apply(proxy, plan, journal, after_intents=2, sig=signal.SIGINT)
    assert child.returncode == 130
    assert child.stderr is not None
    err = child.stderr.read().decode()
    # Said when the signal arrives, before the in-flight change is waited for.
    assert err.index("imdsguard: stopping after in-flight changes...") < err.index(
        f"apply --resume {journal}"
    )
    records = journal_records(journal)
    outcomes = [r for r in records if r["type"] == "outcome"]
    assert len(outcomes) < len(fleet)  # the queue was abandoned, not drained
    # Every intent got its outcome: the change in flight finished before the exit.
    assert {r["key"] for r in records if r["type"] == "intent"} == {r["key"] for r in outcomes}
    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url)
    assert resumed.code == 0, resumed.out + resumed.err


@pytest.mark.slow
def test_sigkill_mid_account_defaults_write_then_resume_never_writes_twice(
    factory: SessionFactory,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    plan, journal = tmp_path / "plan.json", tmp_path / "j.jsonl"
    _plan(cli, proxy, plan, resources="account-defaults")
    write = "ModifyInstanceMetadataDefaults"
    _killed_apply(proxy, plan, journal, after_intents=1, write=write, held=True)
    assert [r["type"] for r in journal_records(journal)] == ["header", "intent"]
    ec2 = factory.ec2(own(factory), REGION)
    deadline = time.monotonic() + 30
    # The write the proxy was holding lands after the kill (under load, after SLOW).
    while ec2.get_instance_metadata_defaults()["AccountLevel"].get("HttpTokens") != "required":
        assert time.monotonic() < deadline, "the interrupted write never landed"
        time.sleep(0.1)

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", proxy.url)

    assert resumed.code == 0, resumed.out + resumed.err
    outcome = journal_records(journal)[-1]
    assert (outcome["type"], outcome["outcome"]) == ("outcome", "applied")
    assert outcome["reason"] == "written by the interrupted run"
    assert [r.action for r in proxy.forwarded].count(write) == 1  # the killed run's only
    rolled = cli("rollback", str(journal), "--endpoint-url", proxy.url)
    assert rolled.code == 0, rolled.out + rolled.err
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {"ManagedBy": "account"}
