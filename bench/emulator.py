"""A moto server in its own process, so benchmarks measure imdsguard's CPU and memory alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imdsguard.demo.server import FAKE_ENV


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    return env


@contextmanager
def moto_process() -> Iterator[tuple[str, int]]:
    """Yield (url, pid) of the demo emulator in its own process, bound to 127.0.0.1 only.

    It is the same emulator as the demo and the tests (moto plus imdsguard's extensions
    for account IMDS defaults and AMI ImdsSupport), so a default all-kinds scan works.
    """
    with server_process(["bench.moto_server"]) as server:
        yield server


@contextmanager
def server_process(module_argv: Sequence[str]) -> Iterator[tuple[str, int]]:
    """Yield (url, pid) of ``python -m MODULE ARGS...``, a server that prints its
    http://127.0.0.1 URL as its first line; stop it on leaving."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *module_argv],
        env=bench_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"{module_argv[0]} did not start")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def process_cpu_seconds(pid: int) -> float:
    """user+system CPU of a live process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    max_rss_mb: float
    returncode: int


def measure(argv: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run a command; return its wall time, its own CPU time and peak RSS (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), env=env or bench_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    return Run(wall, cpu, rss_mb, proc.returncode)


def save_results(name: str, results: dict[str, Any]) -> None:
    """Keep a benchmark's figures in bench/results/NAME.json (not tracked by git)."""
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
