"""Dask benchmark: the local pool vs a Dask LocalCluster, scanning many simulated accounts.

moto runs in its own process and enters any account id with AssumeRole, so ``--accounts``
of 1,000 ids is an organization of 1,000 accounts; every tenth gets one instance. Each
count is scanned both ways (instances only, one Region) and the JSON compared, so a
faster run that reads less cannot win. On one 2-core machine, with the emulator on the
same cores, Dask loses on small counts: it pays worker start-up and a second AssumeRole
per account (docs/organization-scale.md#benchmark).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.emulator import bench_env, moto_process
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group, seed_scope
from imdsguard.demo.server import isolate_environment

IMDSGUARD = [sys.executable, "-m", "imdsguard"]
REGION = "us-east-1"
ROLE = "Audit"
FIRST_ACCOUNT = 100000000000
RESULTS = Path(__file__).parent / "results"


def accounts(count: int) -> list[str]:
    return [str(FIRST_ACCOUNT + n) for n in range(count)]


def seed(url: str, ids: list[str]) -> None:
    """One IMDSv1 instance in every tenth account."""
    isolate_environment()  # this process's own calls: fake credentials, loopback only
    factory = SessionFactory(endpoint_url=url)
    for account in ids[::10]:
        access = factory.assume(account, ROLE, None)
        seed_scope(factory, access, REGION, (Group("legacy", 1),))


def scan_argv(url: str, ids: list[str], *extra: str) -> list[str]:
    return [
        *IMDSGUARD, "scan", "--endpoint-url", url, "--accounts", ",".join(ids),
        "--role-name", ROLE, "--regions", REGION, "--resources", "instances",
        "--format", "json", "--no-history", "--quiet", *extra,
    ]  # fmt: skip


def scanned(argv: list[str]) -> tuple[dict[str, Any], float]:
    """The scan's JSON without its timestamp, and its wall time; a failing scan ends the
    benchmark."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=bench_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 1:  # the seeded instances fail; nothing else may
        raise SystemExit(f"scan exited {done.returncode}: {done.stderr.strip()}")
    doc: dict[str, Any] = json.loads(done.stdout)
    doc.pop("generated_at")
    return doc, wall


def run(counts: list[int], repeat: int, workers: int) -> dict[str, Any]:
    results: dict[str, Any] = {"repeat": repeat, "max_workers": workers, "runs": []}
    pool = ("--max-workers", str(workers))
    with moto_process() as (url, _):
        seed(url, accounts(max(counts)))
        for count in counts:
            ids = accounts(count)
            argv = {
                "local": scan_argv(url, ids, *pool),
                "dask": scan_argv(url, ids, *pool, "--executor", "dask"),
            }
            walls: dict[str, list[float]] = {"local": [], "dask": []}
            for _ in range(repeat):
                docs = {}
                for name, times in walls.items():
                    docs[name], wall = scanned(argv[name])
                    times.append(wall)
                if docs["local"] != docs["dask"]:
                    raise SystemExit(f"{count} accounts: the Dask scan differs from the local one")
            row: dict[str, Any] = {"accounts": count}
            row.update({f"{name}_wall_s": statistics.median(w) for name, w in walls.items()})
            results["runs"].append(row)
    return results


def crossover(rows: list[dict[str, Any]]) -> str:
    faster = [r["accounts"] for r in rows if r["dask_wall_s"] < r["local_wall_s"]]
    if not faster:
        return "none: the local pool was faster at every count on this machine"
    return f"Dask faster from {min(faster)} accounts"


def report(results: dict[str, Any]) -> str:
    lines = [
        f"dask benchmark (median of {results['repeat']}; --max-workers {results['max_workers']};"
        " moto in a separate process; instances, one Region)",
        "  accounts   local pool   Dask LocalCluster   Dask/local",
    ]
    for row in results["runs"]:
        ratio = row["dask_wall_s"] / row["local_wall_s"]
        lines.append(
            f"  {row['accounts']:>8}   {row['local_wall_s']:>8.2f} s"
            f"   {row['dask_wall_s']:>15.2f} s   {ratio:>9.2f}x"
        )
    lines.append(f"  crossover: {crossover(results['runs'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dask", description=__doc__)
    parser.add_argument("--accounts", default="10,100,1000", help="comma-separated counts")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--max-workers", type=int, default=8)
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.accounts.split(",")})
    results = run(counts, args.repeat, args.max_workers)
    print(report(results))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
