"""A rollout that cannot read its evidence halts; one killed mid-soak resumes and finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from imdsguard.aws.session import SessionFactory
from tests.conftest import CliResult, own
from tests.faultproxy import Fault, FaultProxy, ProxyRequest, denied, deny
from tests.remediation_helpers import journal_records, options_of
from tests.test_crash import CHILD
from tests.test_rollout_e2e import FAST, QUIET, REGION, fleet, planned


def test_unreadable_metrics_halt_the_rollout_never_a_silent_continue(
    factory: SessionFactory,
    moto_url: str,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    proxy.rules.append(deny("GetMetricData", frozenset({REGION})))
    journal = tmp_path / "j.jsonl"
    applied = cli(
        "apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(journal),
        "--waves", "1,all", *FAST,
    )  # fmt: skip
    assert applied.code == 1, applied.out + applied.err
    assert "MetadataNoTokenRejected unreadable for 1 instance(s)" in applied.err
    after = options_of(factory, REGION)
    # Wave 1 stays as applied (no evidence of breakage, none of health): nothing more ran.
    assert after[ids["stopped"][0]]["http_tokens"] == "required"
    assert all(after[i]["http_tokens"] == "optional" for i in ids["plain"] + ids["app"])
    [halt] = [r for r in journal_records(journal) if r["type"] == "halt"]
    assert halt["wave"] == 1
    assert not halt["rejected"]
    assert "UnauthorizedOperation" in next(iter(halt["unknown"].values()))


def _records(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.endswith("}")]


def test_sigkill_during_a_soak_then_resume_rechecks_and_soaks_only_what_remains(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    journal = tmp_path / "j.jsonl"
    soak = 6.0
    argv = [
        sys.executable, "-c", CHILD, "apply", str(plan), "--endpoint-url", moto_url,
        "--journal", str(journal), "--waves", "1,all", "--soak", f"{soak:g}s",
        "--poll-interval", "1s", "--quiet",
    ]  # fmt: skip
    child = subprocess.Popen(argv, env=dict(os.environ), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any('"type": "poll"' in line for line in _records(journal)):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the rollout never reached its first soak"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    killed_at = time.monotonic()
    assert options_of(factory, REGION)[ids["plain"][0]]["http_tokens"] == "optional"

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", moto_url, "--quiet")
    took = time.monotonic() - killed_at
    assert resumed.code == 0, resumed.out + resumed.err  # every wave, then enforcement
    assert "Not applied" not in resumed.out
    after = options_of(factory, REGION)
    assert all(after[i]["http_tokens"] == "required" for g in ids.values() for i in g)
    records = journal_records(journal)
    types = [r["type"] for r in records]
    # Wave 1's soak began once and ended once; the resume polled at once, then waited out
    # the rest of the same soak (not a new one), then ran wave 2 and its own soak.
    assert [r["wave"] for r in records if r["type"] == "soak-start"] == [1, 2]
    assert [r["wave"] for r in records if r["type"] == "soak-end"] == [1, 2]
    assert types.count("wave-start") == 2
    assert types.count("intent") == len({r["key"] for r in records if r["type"] == "intent"})
    assert took < 2 * soak + 20


def test_alarms_unreadable_in_one_region_halt_even_when_another_region_reads_them(
    factory: SessionFactory,
    moto_url: str,
    proxy: FaultProxy,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    """An alarm name is per Region: one Region's DescribeAlarms failing mid-soak is an
    unread alarm, whatever the other Region says."""
    ids = fleet(factory)
    plan = planned(cli, moto_url, tmp_path)
    factory.cloudwatch(own(factory), REGION).put_metric_alarm(
        AlarmName="checkout-5xx", MetricName="5xx", Namespace="Shop", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    reads: list[str] = []

    def fails_after_the_first_read(req: ProxyRequest) -> Fault | None:
        if req.action == "DescribeAlarms" and req.region == QUIET:
            reads.append(req.region)
            return denied() if len(reads) > 1 else None
        return None

    proxy.rules.append(fails_after_the_first_read)
    applied = cli(
        "apply", str(plan), "--endpoint-url", proxy.url, "--journal", str(tmp_path / "j.jsonl"),
        "--waves", "1,all", "--halt-on-alarm", "checkout-5xx", *FAST,
    )  # fmt: skip
    assert len(reads) > 1, "the soak never polled the second Region's alarms"
    assert applied.code == 1, applied.out + applied.err
    after = options_of(factory, REGION)
    assert after[ids["stopped"][0]]["http_tokens"] == "required"  # wave 1, then the halt
    assert all(after[i]["http_tokens"] == "optional" for i in ids["plain"] + ids["app"])
