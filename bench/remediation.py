"""Remediation throughput against EC2's ModifyInstanceMetadataOptions bucket (100, +5/s).

A loopback proxy in front of moto enforces the bucket per Region, as EC2 does per account
and Region. We time ``run_apply`` (paced scopes in parallel, with verification) and a
sequential one-call-at-a-time loop over the same fleet, and compare both with the
ceiling: the shortest time the buckets allow, max over Regions of (n - burst) / refill.

    python -m bench remediation                      # 1,000 instances, 4 Regions, 1 run
    python -m bench remediation --repeat 3 --no-baseline

It also times a staged rollout of the same fleet at ``--soak 0`` (waves 5%,25%,100%,
one poll per wave) against the plain apply, and counts the GetMetricData calls one soak
poll makes for ``--instances`` changed instances in one Region (docs/rollout.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

# The test suite's fault proxy is the rate limiter: one implementation of EC2's bucket.
from tests.faultproxy import FaultProxy, rate_limit

from imdsguard.aws.instances import modify_metadata_options
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.demo.server import emulator
from imdsguard.errors import AwsError
from imdsguard.model.remediation import Plan, Usage
from imdsguard.options import (
    ApplyOptions,
    EvaluationOptions,
    PlanOptions,
    RolloutOptions,
    ScopeOptions,
)
from imdsguard.plan.build import Evidence, build_plan
from imdsguard.progress import progress_sink
from imdsguard.remediate.apply import run_apply
from imdsguard.remediate.journal import ROLLOUT_JOURNAL_VERSION, Journal
from imdsguard.remediate.rollout import run_rollout
from imdsguard.remediate.soak import Watcher
from imdsguard.scan import run_scan

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")
MODIFY = "ModifyInstanceMetadataOptions"
RESULTS = Path(__file__).parent / "results"


def seed(url: str, instances: int, regions: tuple[str, ...]) -> None:
    """Reset moto and launch ``instances`` spread over ``regions``, all tokens optional."""
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=60).read()
    factory = SessionFactory(endpoint_url=url)
    for index, region in enumerate(regions):
        count = instances // len(regions) + (index < instances % len(regions))
        client = factory.ec2(None, region)
        # Many instances per call: moto slows down with the number of reservations.
        for start in range(0, count, 500):
            n = min(500, count - start)
            client.run_instances(ImageId="ami-12345678", MinCount=n, MaxCount=n)


def make_plan(url: str, regions: tuple[str, ...]) -> Plan:
    """Every instance is a clean candidate: this benchmark measures apply, not planning."""
    factory = SessionFactory(endpoint_url=url)
    scan = run_scan(factory, ScopeOptions(regions=regions), EvaluationOptions())
    usage = {(f.scope, f.resource_id): Usage("clean", 0.0, 1) for f in scan.findings}
    return build_plan(scan, Evidence(usage, {}), PlanOptions(), datetime.now(UTC))


def ideal_seconds(plan: Plan, capacity: float, refill: float) -> float:
    per_region = Counter(c.scope for c in plan.changes)
    return max(max(0.0, (n - capacity) / refill) for n in per_region.values())


# The rollout measured against the plain apply: three waves, no soak beyond one poll each.
ROLLOUT = RolloutOptions(waves="5%,25%,100%", soak_seconds=0.0)


def run_ours(
    url: str, plan: Plan, capacity: float, refill: float, rollout: bool = False
) -> dict[str, float]:
    with FaultProxy(url) as proxy, tempfile.TemporaryDirectory() as tmp:
        proxy.rules.append(rate_limit(MODIFY, capacity, refill))
        factory = SessionFactory(endpoint_url=proxy.url)
        version = ROLLOUT_JOURNAL_VERSION if rollout else 1
        journal = Journal.create(Path(tmp) / "bench.jsonl", plan, version=version)
        options = ApplyOptions(capacity=capacity, refill_per_second=refill)
        start = time.perf_counter()
        with progress_sink(enabled=False) as silent:
            if rollout:
                staged = run_rollout(
                    factory, plan, journal, options=options, rollout=ROLLOUT, progress=silent
                )
                assert staged.halt is None, staged.halt
                result = staged.run
            else:
                result = run_apply(factory, plan, journal, options=options, progress=silent)
        elapsed = time.perf_counter() - start
        journal.close()
        outcomes = Counter(r.outcome for r in result.results)
        writes = Counter(r.param("InstanceId") for r in proxy.forwarded if r.action == MODIFY)
    return {
        "seconds": elapsed,
        "applied": outcomes["applied"],
        "failed": len(result.results) - outcomes["applied"],
        "throttled": sum(n for (a, _), n in proxy.faults.items() if a == MODIFY),
        "written_twice": sum(1 for n in writes.values() if n > 1),
    }


def calls_per_poll(url: str, plan: Plan) -> int:
    """GetMetricData calls of one soak poll over every change of ``plan`` (one Region)."""
    with FaultProxy(url) as proxy:
        factory = SessionFactory(endpoint_url=proxy.url)
        changed = {c.key: (c, datetime.now(UTC)) for c in plan.changes}
        watcher = Watcher(factory, tuple(sorted({c.scope.region for c in plan.changes})))
        poll = watcher.poll(changed)
        assert poll.clean, poll.reasons()
        return sum(n for (action, _), n in proxy.calls.items() if action == "GetMetricData")


def run_baseline(url: str, plan: Plan, capacity: float, refill: float) -> dict[str, float]:
    """The naive loop: one modify at a time in plan order, botocore retries only."""
    with FaultProxy(url) as proxy:
        proxy.rules.append(rate_limit(MODIFY, capacity, refill))
        factory = SessionFactory(endpoint_url=proxy.url)
        clients = {
            r: factory.ec2(AccountAccess(c.scope.account_id), r)
            for c in plan.changes
            for r in [c.scope.region]
        }
        failed = 0
        start = time.perf_counter()
        for change in plan.changes:
            try:
                modify_metadata_options(
                    clients[change.scope.region], change.resource_id, change.after
                )
            except AwsError:
                failed += 1
        elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "applied": len(plan.changes) - failed, "failed": failed}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench remediation")
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--capacity", type=float, default=100.0)
    parser.add_argument("--refill", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-rollout", action="store_true")
    args = parser.parse_args(argv)
    regions = REGIONS[: args.regions]
    ours: list[dict[str, float]] = []
    staged: list[dict[str, float]] = []
    baseline: list[dict[str, float]] = []
    with emulator() as url:
        for _ in range(args.repeat):
            seed(url, args.instances, regions)
            plan = make_plan(url, regions)
            ours.append(run_ours(url, plan, args.capacity, args.refill))
            if not args.no_rollout:
                seed(url, args.instances, regions)
                plan = make_plan(url, regions)
                staged.append(run_ours(url, plan, args.capacity, args.refill, rollout=True))
            if not args.no_baseline:
                seed(url, args.instances, regions)
                plan = make_plan(url, regions)
                baseline.append(run_baseline(url, plan, args.capacity, args.refill))
        ideal = ideal_seconds(plan, args.capacity, args.refill)
        report = summarize(len(plan.changes), ideal, ours, baseline)
        if staged:
            seed(url, args.instances, regions[:1])
            one_region = make_plan(url, regions[:1])
            calls = calls_per_poll(url, one_region)
            report["rollout"] = {
                **rollout_summary(ours, staged, calls),
                "changed_instances_polled": len(one_region.changes),
            }
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"remediation-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    ok = all(r["failed"] == 0 and r["written_twice"] == 0 for r in ours + staged)
    return 0 if ok else 1


def rollout_summary(
    ours: list[dict[str, float]], staged: list[dict[str, float]], calls: int
) -> dict[str, float]:
    plain = statistics.median(r["seconds"] for r in ours)
    rolled = statistics.median(r["seconds"] for r in staged)
    return {
        "waves": 3,
        "median_seconds": round(rolled, 2),
        "throughput_vs_plain_apply": round(plain / rolled, 3),  # target >= 0.95
        "get_metric_data_calls_per_poll": calls,  # target <= ceil(n / 500)
    }


def summarize(
    changes: int, ideal: float, ours: list[dict[str, float]], baseline: list[dict[str, float]]
) -> dict[str, object]:
    ceiling = changes / ideal if ideal > 0 else float("inf")
    median = statistics.median(r["seconds"] for r in ours)
    report: dict[str, object] = {
        "changes": changes,
        "ceiling_changes_per_s": round(ceiling, 2),
        "ideal_seconds": round(ideal, 2),
        "ours": {
            "runs": len(ours),
            "median_seconds": round(median, 2),
            "changes_per_s": round(changes / median, 2),
            "fraction_of_ceiling": round(ideal / median, 3),
            "failed_changes": max(r["failed"] for r in ours),
            "written_twice": max(r["written_twice"] for r in ours),
            "server_throttles_median": statistics.median(r["throttled"] for r in ours),
        },
    }
    if baseline:
        base = statistics.median(r["seconds"] for r in baseline)
        report["sequential_baseline"] = {
            "median_seconds": round(base, 2),
            "changes_per_s": round(changes / base, 2),
            "failed_changes": max(r["failed"] for r in baseline),
            "speedup_ours_vs_baseline": round(base / median, 2),
        }
    return report
