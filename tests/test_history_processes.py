"""The history under real processes: a writer killed mid-scan, and concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from imdsguard.history.rows import scan_rows
from imdsguard.history.store import open_history
from tests.test_history_rows import RESULT

ROOT = Path(__file__).resolve().parent.parent


def writer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.history_writer", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    [(result,)] = conn.execute("PRAGMA integrity_check").fetchall()
    conn.close()
    return str(result)


@pytest.mark.slow
def test_a_writer_killed_mid_scan_leaves_earlier_scans_intact(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    rows = scan_rows(RESULT, "earlier")
    with open_history(db) as history:
        earlier = [history.save(rows), history.save(rows)]
    child = writer("hang", str(db), "60000", "600")
    assert child.stdout is not None
    assert child.stdout.readline() == "midway\n"
    # The uncommitted half of the scan has spilled into the WAL: recovery must drop it.
    assert Path(f"{db}-wal").stat().st_size > 1_000_000
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL

    assert integrity(db) == "ok"
    with open_history(db, create=False) as history:
        assert sorted(i for i, _ in history.list_scans()) == earlier
        for scan_id in earlier:
            assert history.load(scan_id).findings == tuple(rows.findings)
        assert history.save(rows) > earlier[-1]  # and it still takes writes
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM findings").fetchone() == (
        3 * len(list(rows.findings)),
    )
    conn.close()


@pytest.mark.slow
def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "h.sqlite3"  # created and migrated by the racing writers
    go = tmp_path / "go"
    scans, per_scan = 60, 1000
    children = [writer("many", str(db), str(go), name, str(scans), str(per_scan)) for name in "ab"]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
    go.touch()
    assert [c.wait(timeout=240) for c in children] == [0, 0]

    assert integrity(db) == "ok"
    with open_history(db, create=False) as history:
        listed = history.list_scans()
        assert sorted(s.scope_description for _, s in listed) == sorted(
            f"{name} {n}" for name in "ab" for n in range(scans)
        )
        assert {len(history.load(i).findings) for i, _ in listed} == {per_scan}


@pytest.mark.slow
def test_a_writer_waits_for_another_process_s_transaction(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    go = tmp_path / "go"
    go.touch()
    holder = writer("hang", str(db), "1000", "2")
    assert holder.stdout is not None
    assert holder.stdout.readline() == "midway\n"
    # The holder keeps its write transaction open for 2 s; this writer must wait, not fail.
    waiter = writer("many", str(db), str(go), "waiter", "3", "10")
    assert [holder.wait(timeout=60), waiter.wait(timeout=60)] == [0, 0]
    with open_history(db, create=False) as history:
        order = [s.scope_description for _, s in reversed(history.list_scans())]
    assert order == ["held", "waiter 0", "waiter 1", "waiter 2"]
