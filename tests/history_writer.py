"""Subprocess writer for the crash and concurrency tests (run as ``python -m``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

from imdsguard.history.rows import FindingRow, ScanRow, ScopeRow
from imdsguard.history.store import open_history

SCOPE = ScopeRow("111111111111", "eu-west-1", "ok", None)
EVIDENCE = '{"http_tokens":"optional","padding":"' + "x" * 200 + '"}'


def scan_row(description: str, findings: int) -> ScanRow:
    return ScanRow("2026-01-01T00:00:00+00:00", "0.1.0", description, 0, findings, 0, 0)


def findings(count: int) -> Iterator[FindingRow]:
    for n in range(count):
        yield FindingRow(
            "111111111111",
            "eu-west-1",
            "AwsEc2Instance",
            f"i-{n:08x}",
            None,
            "FAIL",
            "tokens-optional",
            EVIDENCE,
        )


def wait_for(go: Path) -> None:
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)


def many(db: Path, go: Path, name: str, scans: int, per_scan: int) -> None:
    """Write ``scans`` scans as fast as possible, each in its own transaction."""
    wait_for(go)
    with open_history(db) as history:
        for n in range(scans):
            history.insert_scan(scan_row(f"{name} {n}", per_scan), [SCOPE], findings(per_scan))


def hang(db: Path, before_signal: int, hold: float) -> None:
    """Start one large scan, announce it is half written, hold the write lock, then commit
    (unless killed first)."""

    def rows() -> Iterator[FindingRow]:
        yield from findings(before_signal)
        print("midway", flush=True)
        time.sleep(hold)

    with open_history(db) as history:
        history.insert_scan(scan_row("held", before_signal), [SCOPE], rows())


if __name__ == "__main__":
    mode, db, *rest = sys.argv[1:]
    if mode == "many":
        many(Path(db), Path(rest[0]), rest[1], int(rest[2]), int(rest[3]))
    else:
        hang(Path(db), int(rest[0]), float(rest[1]))
