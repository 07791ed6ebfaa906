"""Organization benchmark: imdsguard's CPU per (account, Region) scope, as the slope
between a small and a large organization, so start-up cost cancels out (issue 11, P4).

Each size gets its own emulator process holding an organization of that many accounts
(the caller's management account and members entered with AssumeRole), a few instances in
each of two Regions; the scan is ``--organization --role-name`` over those Regions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from bench.emulator import bench_env, measure, moto_process, save_results
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import DEMO_ROLE
from imdsguard.demo.org import ORG_REGIONS, seed_organization
from imdsguard.demo.server import isolate_environment

IMDSGUARD = [sys.executable, "-m", "imdsguard"]
# CPU milliseconds per scope (P4).
MODES = {"instances": ("--resources", "instances"), "every kind": ()}
TARGET_MS = {"instances": 10.0, "every kind": 25.0}


def scan_argv(url: str, *extra: str) -> list[str]:
    return [
        *IMDSGUARD,
        "scan",
        "--endpoint-url",
        url,
        "--organization",
        "--role-name",
        DEMO_ROLE,
        "--regions",
        ",".join(ORG_REGIONS),
        "--quiet",
        "--format",
        "json",
        "--no-history",  # a benchmark must not fill the user's scan history
        *extra,
    ]


def measure_size(accounts: int, repeat: int) -> dict[str, Any]:
    """Median CPU seconds of each mode's scan of an organization of ``accounts``."""
    env = bench_env()
    isolate_environment()  # the seeding's own clients: fake credentials only
    with moto_process() as (url, _pid):
        start = time.perf_counter()
        seed_organization(SessionFactory(endpoint_url=url), accounts)
        result: dict[str, Any] = {"seed_s": time.perf_counter() - start}
        for mode, extra in MODES.items():
            runs = [measure(scan_argv(url, *extra), env) for _ in range(repeat)]
            codes = {r.returncode for r in runs}
            # Exit 1: the fleet has failing findings; 3 would be a scope error.
            if codes != {1}:
                raise SystemExit(f"{mode} scan of {accounts} accounts exited {sorted(codes)}")
            result[mode] = {
                "cpu_s": statistics.median(r.cpu for r in runs),
                "wall_s": statistics.median(r.wall for r in runs),
                "max_rss_mb": statistics.median(r.max_rss_mb for r in runs),
            }
    return result


def run(accounts: int, repeat: int) -> dict[str, Any]:
    small = max(1, accounts // 10)
    sizes = {n: measure_size(n, repeat) for n in (small, accounts)}
    scopes = {n: n * len(ORG_REGIONS) for n in sizes}
    slopes = {
        mode: 1000
        * (sizes[accounts][mode]["cpu_s"] - sizes[small][mode]["cpu_s"])
        / (scopes[accounts] - scopes[small])
        for mode in MODES
    }
    return {
        "repeat": repeat,
        "regions": list(ORG_REGIONS),
        "sizes": {str(n): sizes[n] for n in sizes},
        "ms_per_scope": slopes,
        "target_ms_per_scope": TARGET_MS,
    }


def report(results: dict[str, Any]) -> str:
    (small, large) = results["sizes"]
    regions = len(results["regions"])
    lines = [
        f"organization benchmark (median of {results['repeat']} runs; moto in a separate"
        f" process); {small} -> {large} accounts x {regions} Regions",
    ]
    for mode, ms in results["ms_per_scope"].items():
        target = results["target_ms_per_scope"][mode]
        verdict = "meets target" if ms <= target else "MISSES target"
        cpu = [results["sizes"][n][mode]["cpu_s"] for n in (small, large)]
        lines.append(
            f"  {mode:<11} {ms:6.1f} ms CPU per scope   ({verdict} <= {target:.0f} ms);"
            f" {cpu[0]:.2f} s -> {cpu[1]:.2f} s CPU,"
            f" {results['sizes'][large][mode]['max_rss_mb']:.0f} MB peak at {large}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench org", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--accounts",
        type=int,
        default=500,
        help="the large organization; the small one is a tenth of it (default 500 and 50)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 20:
        parser.error("--accounts must be at least 20, for a slope over 2 sizes")
    results = run(args.accounts, args.repeat)
    print(report(results))
    save_results("org", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
