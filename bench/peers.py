"""imdsguard against its peers on one emulator and one fleet: wall time and peak memory.

Each peer is installed into its own throwaway virtualenv (under ``--venvs``, default
``bench/.peers``) the first time it is asked for, never into imdsguard's environment and
never by ``make test``:

    python -m bench peers                           # 8,000 instances over 4 Regions
    python -m bench peers --instances 2000 --peers custodian
    make bench-peers

Every tool answers the same question: which instances in these 4 Regions allow IMDSv1?
imdsguard scans ``--resources instances``; Cloud Custodian runs one ``aws.ec2`` policy
filtered on ``MetadataOptions.HttpTokens``; Prowler runs its one IMDSv2 check. All three
use boto3 or botocore, so ``AWS_ENDPOINT_URL`` points all of them at the emulator, and all
of them get the same fake credentials (bench.emulator.bench_env). Peak RSS is each tool's
own process tree as wait4 reports it; the emulator runs in a process of its own.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.emulator import Run, bench_env, measure, moto_process
from bench.scan import IMDSGUARD, REGIONS, seed_fleet

# Pinned so a rerun measures the same peers; bump deliberately.
PEERS = {"custodian": "c7n==0.9.53", "prowler": "prowler==5.46.0"}

POLICY = """\
policies:
  - name: ec2-imdsv1-allowed
    resource: aws.ec2
    filters:
      - type: value
        key: MetadataOptions.HttpTokens
        value: optional
"""


def venv_for(peer: str, root: Path) -> Path:
    """The peer's own virtualenv, created and installed once; returns its bin directory."""
    venv = root / peer
    bin_dir = venv / "bin"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == PEERS[peer]:
        return bin_dir
    print(f"installing {PEERS[peer]} into {venv} (once) ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, PEERS[peer]], check=True)
    stamp.write_text(PEERS[peer])
    return bin_dir


def imdsguard_argv(url: str, _bin: Path | None, out: Path) -> list[str]:
    return [
        *IMDSGUARD,
        "scan",
        "--endpoint-url",
        url,
        "--quiet",
        "--no-history",
        "--resources",
        "instances",
        "--regions",
        ",".join(REGIONS),
        "--format",
        "json",
        "--output",
        str(out / "imdsguard.json"),
    ]


def custodian_argv(_url: str, bin_dir: Path | None, out: Path) -> list[str]:
    assert bin_dir is not None
    policy = out / "policy.yml"
    policy.write_text(POLICY)
    regions = [arg for region in REGIONS for arg in ("--region", region)]
    # --cache-period 0: Custodian caches resource lists for 15 minutes, and a repeat run
    # would measure its cache, not the emulator.
    argv = [str(bin_dir / "custodian"), "run", "--cache-period", "0", "-s", str(out / "c7n")]
    return [*argv, *regions, str(policy)]


def prowler_argv(_url: str, bin_dir: Path | None, out: Path) -> list[str]:
    assert bin_dir is not None
    return [
        str(bin_dir / "prowler"),
        "aws",
        "--checks",
        "ec2_instance_imdsv2_enabled",
        "--region",
        *REGIONS,
        "--output-formats",
        "json-ocsf",
        "--output-directory",
        str(out / "prowler"),
        "--no-banner",
        "--ignore-exit-code-3",
    ]


ARGV: dict[str, Callable[[str, Path | None, Path], list[str]]] = {
    "imdsguard": imdsguard_argv,
    "custodian": custodian_argv,
    "prowler": prowler_argv,
}


def imdsguard_found(out: Path) -> int:
    doc = json.loads((out / "imdsguard.json").read_text())
    return sum(1 for f in doc["findings"] if f["status"] == "FAIL")


def custodian_found(out: Path) -> int:
    # One resources.json per Region and policy (-s DIR with several --region).
    files = (out / "c7n").rglob("resources.json")
    return sum(len(json.loads(path.read_text())) for path in files)


def prowler_found(out: Path) -> int:
    files = (out / "prowler").glob("*.ocsf.json")
    return sum(
        1 for path in files for f in json.loads(path.read_text()) if f["status_code"] == "FAIL"
    )


FOUND: dict[str, Callable[[Path], int]] = {
    "imdsguard": imdsguard_found,
    "custodian": custodian_found,
    "prowler": prowler_found,
}


def _median(runs: list[Run], tool: str) -> dict[str, float | int]:
    # imdsguard exits 1 (the fleet has failing instances); the peers exit 0 when done.
    bad = [r.returncode for r in runs if r.returncode not in (0, 1)]
    if bad:
        raise SystemExit(f"{tool} exited {bad}; rerun it by hand to see why")
    return {
        "wall_s": statistics.median(r.wall for r in runs),
        "cpu_s": statistics.median(r.cpu for r in runs),
        "max_rss_mb": statistics.median(r.max_rss_mb for r in runs),
    }


def run(instances: int, repeat: int, peers: list[str], venvs: Path) -> dict[str, object]:
    bins = {peer: venv_for(peer, venvs) for peer in peers}
    results: dict[str, object] = {"instances": instances, "regions": list(REGIONS)}
    with moto_process() as (url, _pid), tempfile.TemporaryDirectory() as tmp:
        seed_fleet(url, instances)
        env = bench_env() | {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGIONS[0]}
        for tool in ["imdsguard", *peers]:
            out = Path(tmp) / tool
            out.mkdir()
            argv = ARGV[tool](url, bins.get(tool), out)
            figures = _median([measure(argv, env) for _ in range(repeat)], tool)
            figures["allowing_imdsv1"] = FOUND[tool](out)
            results[tool] = figures
        counts = {t: results[t]["allowing_imdsv1"] for t in ["imdsguard", *peers]}  # type: ignore[index]
        if len(set(counts.values())) != 1:
            # Timing a tool that answered a different question would be meaningless.
            raise SystemExit(f"the tools disagree on the fleet: {counts}")
    return results


def report(results: dict[str, object]) -> str:
    ours = results["imdsguard"]
    assert isinstance(ours, dict)
    lines = [
        f"peers benchmark: {results['instances']} instances over {len(REGIONS)} Regions,"
        " median runs, emulator in its own process",
        f"  {'tool':<10} {'found':>6} {'wall':>9} {'CPU':>9} {'peak RSS':>10}   imdsguard's share",
    ]
    for tool, figures in results.items():
        if not isinstance(figures, dict):
            continue
        share = (
            ""
            if tool == "imdsguard"
            else f"   wall {ours['wall_s'] / figures['wall_s']:.2f}x,"
            f" memory {ours['max_rss_mb'] / figures['max_rss_mb']:.2f}x"
        )
        lines.append(
            f"  {tool:<10} {figures['allowing_imdsv1']:>6}"
            f" {figures['wall_s']:>7.1f} s {figures['cpu_s']:>7.1f} s"
            f" {figures['max_rss_mb']:>7.0f} MB{share}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench peers", description=__doc__)
    parser.add_argument("--instances", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--peers", default="custodian,prowler", help="comma-separated")
    parser.add_argument("--venvs", type=Path, default=Path("bench/.peers"))
    args = parser.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    results = run(args.instances, args.repeat, peers, args.venvs)
    print(report(results))
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "peers.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
