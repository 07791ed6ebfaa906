"""Memory benchmark: peak RSS of a scan of 1k, 10k and 100k instances (and 1M with --huge).

Each fleet is one Region served by the replay server (bench/replay.py) in its own process,
so the peak is imdsguard's alone. The scan writes every report format (--output-dir) and
stores its history, the most a scan holds. Targets (issue 11): at most 150 MB at 100,000
instances, and at 1,000,000 no more than 20% above that.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.emulator import Run, bench_env, measure, server_process

SIZES = (1_000, 10_000, 100_000)
HUGE = 1_000_000
TARGET_MB = 150.0  # at 100,000 instances
GROWTH = 1.2  # 1,000,000 may be at most 20% above 100,000
IMDSGUARD = [sys.executable, "-m", "imdsguard"]
# replay.py makes every third instance tokens-optional: a scan with failures exits 1.
EXPECTED_EXIT = 1


def scan(instances: int) -> Run:
    replay = server_process(["bench.replay", "--instances", str(instances)])
    with replay as (url, _), tempfile.TemporaryDirectory() as scratch:
        argv = [*IMDSGUARD, "scan", "--endpoint-url", url, "--regions", "us-east-1"]
        argv += ["--resources", "instances", "--quiet", "--output-dir", f"{scratch}/reports"]
        argv += ["--db", f"{scratch}/history.sqlite3"]
        run = measure(argv, env=bench_env() | {"TMPDIR": scratch})
        reports = Path(scratch, "reports")
        written = sorted(p.name for p in reports.iterdir()) if reports.is_dir() else []
    if run.returncode != EXPECTED_EXIT or len(written) < 7:
        raise SystemExit(
            f"scan of {instances} instances exited {run.returncode} and wrote {written}"
        )
    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench memory")
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="fleet sizes, comma-separated"
    )
    parser.add_argument(
        "--huge", action="store_true", help=f"also {HUGE:,} instances (slow: minutes)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] + ([HUGE] if args.huge else [])
    results: dict[str, Any] = {}
    for size in sizes:
        run = scan(size)
        results[str(size)] = {"wall_s": round(run.wall, 1), "max_rss_mb": round(run.max_rss_mb)}
        if not args.json:
            print(f"{size:>9,} instances: {run.max_rss_mb:6.0f} MB peak, {run.wall:7.1f} s")
    verdict = _verdict(results)
    if args.json:
        print(json.dumps({"results": results, "verdict": verdict}, indent=2))
    else:
        for line in verdict["lines"]:
            print(line)
    return 0 if verdict["ok"] else 1


def _verdict(results: dict[str, Any]) -> dict[str, Any]:
    lines: list[str] = []
    ok = True
    base = results.get(str(100_000))
    if base is not None:
        met = base["max_rss_mb"] <= TARGET_MB
        ok &= met
        lines.append(
            f"100,000: {base['max_rss_mb']} MB (target <= {TARGET_MB:.0f} MB) {_word(met)}"
        )
    huge = results.get(str(HUGE))
    if base is not None and huge is not None:
        limit = base["max_rss_mb"] * GROWTH
        met = huge["max_rss_mb"] <= limit
        ok &= met
        lines.append(f"1,000,000: {huge['max_rss_mb']} MB (target <= {limit:.0f} MB) {_word(met)}")
    return {"ok": ok, "lines": lines}


def _word(met: bool) -> str:
    return "met" if met else "MISSED"
