"""Scan benchmark: --help, an empty account, and a 2,000-instance fleet over 4 Regions."""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

import boto3

from bench.emulator import Run, bench_env, measure, moto_process, process_cpu_seconds, save_results

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1")
IMDSGUARD = [sys.executable, "-m", "imdsguard"]
TARGETS = {"help_wall_s": 0.3, "empty_wall_s": 2.0, "empty_rss_mb": 100.0}


def seed_fleet(url: str, total: int) -> None:
    """``total`` instances spread over REGIONS, 100 per run_instances call
    (docs/aws-behaviour.md#the-emulator)."""
    env = bench_env()
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    per_region = total // len(REGIONS)
    for region in REGIONS:
        ec2 = session.client("ec2", region_name=region, endpoint_url=url)
        left = per_region
        while left:
            batch = min(100, left)
            tokens = "required" if left % 200 else "optional"
            ec2.run_instances(
                ImageId="ami-12345678",
                MinCount=batch,
                MaxCount=batch,
                MetadataOptions={"HttpTokens": tokens},  # type: ignore[typeddict-item]
            )
            left -= batch


def median_run(runs: list[Run], expect: int = 0) -> dict[str, float]:
    codes = {r.returncode for r in runs}
    if codes != {expect}:
        raise SystemExit(f"benchmark command exited {sorted(codes)}, expected {expect}")
    return {
        "wall_s": statistics.median(r.wall for r in runs),
        "cpu_s": statistics.median(r.cpu for r in runs),
        "max_rss_mb": statistics.median(r.max_rss_mb for r in runs),
    }


def scan_argv(url: str, regions: tuple[str, ...] | None, *extra: str) -> list[str]:
    argv = [*IMDSGUARD, "scan", "--endpoint-url", url, "--quiet", "--format", "json"]
    argv += ["--no-history", *extra]  # a benchmark must not fill the user's scan history
    if regions:
        argv += ["--regions", ",".join(regions)]
    return argv


def run(repeat: int, instances: int) -> dict[str, Any]:
    results: dict[str, Any] = {"repeat": repeat, "instances": instances}
    results["help"] = median_run([measure([*IMDSGUARD, "--help"]) for _ in range(repeat)])
    with moto_process() as (url, moto_pid):
        # Empty account: every kind in every enabled Region (the defaults). Exit 1: with
        # no account defaults set, each Region's AwsEc2AccountImdsDefaults fails.
        results["empty_account"] = median_run(
            [measure(scan_argv(url, None)) for _ in range(repeat)], expect=1
        )
        # The same with instances only: the issue-2 scan, without the launch-setting kinds.
        results["empty_account_instances"] = median_run(
            [measure(scan_argv(url, None, "--resources", "instances")) for _ in range(repeat)]
        )
        seed_fleet(url, instances)
        fleet_runs: list[Run] = []
        emulator_cpu: list[float] = []
        for _ in range(repeat):
            before = process_cpu_seconds(moto_pid)
            fleet_runs.append(measure(scan_argv(url, REGIONS)))
            emulator_cpu.append(process_cpu_seconds(moto_pid) - before)
        fleet = median_run(fleet_runs, expect=1)
        fleet["emulator_cpu_s"] = statistics.median(emulator_cpu)
        fleet["our_cpu_share_of_wall"] = fleet["cpu_s"] / fleet["wall_s"]
        fleet["emulator_cpu_share_of_wall"] = fleet["emulator_cpu_s"] / fleet["wall_s"]
        results["fleet"] = fleet
    return results


def report(results: dict[str, Any]) -> str:
    help_, empty, fleet = (results[k] for k in ("help", "empty_account", "fleet"))
    instances = results["empty_account_instances"]

    def verdict(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    lines = [
        f"scan benchmark (median of {results['repeat']} runs; moto in a separate process)",
        f"  imdsguard --help        {help_['wall_s']:.3f} s wall, {help_['max_rss_mb']:.0f} MB"
        f"   ({verdict(help_['wall_s'] < TARGETS['help_wall_s'])} < 0.3 s)",
        f"  empty account, all Regions  {empty['wall_s']:.2f} s wall, {empty['cpu_s']:.2f} s CPU,"
        f" {empty['max_rss_mb']:.0f} MB peak"
        f"   ({verdict(empty['wall_s'] < 2 and empty['max_rss_mb'] < 100)} < 2 s, < 100 MB)",
        f"  empty account, instances only  {instances['wall_s']:.2f} s wall,"
        f" {instances['cpu_s']:.2f} s CPU, {instances['max_rss_mb']:.0f} MB peak"
        f"   ({verdict(instances['wall_s'] < 2 and instances['max_rss_mb'] < 100)})",
        f"  {results['instances']} instances / {len(REGIONS)} Regions"
        f"  {fleet['wall_s']:.2f} s wall, {fleet['cpu_s']:.2f} s our CPU,"
        f" {fleet['max_rss_mb']:.0f} MB peak",
        f"      our CPU = {fleet['our_cpu_share_of_wall']:.0%} of wall;"
        f" emulator CPU = {fleet['emulator_cpu_share_of_wall']:.0%} of wall"
        f" ({fleet['emulator_cpu_s']:.2f} s)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scan", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instances", type=int, default=2000)
    args = parser.parse_args(argv)
    results = run(args.repeat, args.instances)
    print(report(results))
    save_results("scan", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
