"""The SQLite store: round trip, migrations, refusal of newer schemas, atomic writes."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from imdsguard.errors import HistoryError, UsageError
from imdsguard.history.rows import FindingRow, scan_rows
from imdsguard.history.store import SCHEMA_VERSION, default_path, migrate, open_history
from tests.test_history_rows import RESULT


def test_a_saved_scan_reads_back_unchanged(tmp_path: Path) -> None:
    rows = scan_rows(RESULT, "own account; all regions")
    with open_history(tmp_path / "h.sqlite3") as history:
        scan_id = history.save(rows)
    with open_history(tmp_path / "h.sqlite3", create=False) as history:
        stored = history.load(scan_id)
    assert (stored.scan_id, stored.scan, stored.scopes, stored.findings) == (
        scan_id,
        rows.scan,
        rows.scopes,
        tuple(rows.findings),
    )


def test_list_is_newest_first_and_limited(tmp_path: Path) -> None:
    with open_history(tmp_path / "h.sqlite3") as history:
        ids = [history.save(scan_rows(RESULT, f"scan {n}")) for n in range(3)]
        listed = history.list_scans(2)
    assert [(i, s.scope_description) for i, s in listed] == [
        (ids[2], "scan 2"),
        (ids[1], "scan 1"),
    ]


def test_unknown_scan_id_is_a_usage_error(tmp_path: Path) -> None:
    with open_history(tmp_path / "h.sqlite3") as history, pytest.raises(UsageError, match="#7"):
        history.load(7)


def test_database_is_wal_private_and_current(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "h.sqlite3"
    with open_history(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def _columns(path: Path) -> dict[str, list[tuple[str, str, int]]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {
        t: [(c[1], c[2], c[3]) for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables
    }
    conn.close()
    return columns


def test_a_v1_database_migrates_keeping_its_scans(tmp_path: Path) -> None:
    old = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, upto=1)
    # Written with v1's columns only, as imdsguard with schema v1 would have.
    conn.execute(
        "INSERT INTO scans (generated_at, tool_version, scope_description, passed, failed, "
        "info, scope_errors) VALUES ('2025-01-01T00:00:00+00:00', '0.0.1', 'old', 0, 1, 0, 0)"
    )
    conn.execute("INSERT INTO scopes VALUES (1, '111111111111', 'eu-west-1', 'ok', NULL)")
    conn.execute(
        "INSERT INTO findings VALUES (1, '111111111111', 'eu-west-1', 'AwsEc2Instance', "
        "'i-1', NULL, 'FAIL', 'tokens-optional', '{}')"
    )
    conn.close()
    assert "resources" not in [name for name, _, _ in _columns(old)["scopes"]]

    with open_history(old) as history:
        stored = history.load(1)
    assert stored.scan.scope_description == "old"
    [scope] = stored.scopes
    assert (scope.resources, scope.skipped) == ("{}", 0)
    assert stored.findings == (
        FindingRow(
            "111111111111",
            "eu-west-1",
            "AwsEc2Instance",
            "i-1",
            None,
            "FAIL",
            "tokens-optional",
            "{}",
        ),
    )
    fresh = tmp_path / "fresh.sqlite3"
    with open_history(fresh):
        pass
    assert _columns(old) == _columns(fresh)


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(HistoryError, match="newer"), open_history(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    conn.close()


def test_not_a_database_is_a_history_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError, match=str(path)), open_history(path):
        pass


def test_reading_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.sqlite3"
    with pytest.raises(HistoryError, match="no history"), open_history(path, create=False):
        pass
    assert not path.exists()


def test_a_failed_write_stores_nothing(tmp_path: Path) -> None:
    rows = scan_rows(RESULT, "")

    def findings_then_failure() -> Iterator[FindingRow]:
        yield from rows.findings
        raise RuntimeError("disk on fire")

    with open_history(tmp_path / "h.sqlite3") as history:
        first = history.save(rows)
        with pytest.raises(RuntimeError):
            history.insert_scan(rows.scan, rows.scopes, findings_then_failure())
        assert [i for i, _ in history.list_scans()] == [first]
        second = history.save(rows)
        assert len(history.load(second).findings) == len(list(rows.findings))
    conn = sqlite3.connect(tmp_path / "h.sqlite3")
    assert conn.execute("SELECT count(*) FROM findings").fetchone() == (
        2 * len(list(rows.findings)),
    )
    conn.close()


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [
        ("/data", "/data/imdsguard/history.sqlite3"),
        ("", "/home/u/.local/share/imdsguard/history.sqlite3"),
        # The XDG spec: a relative value is invalid and ignored.
        ("relative/data", "/home/u/.local/share/imdsguard/history.sqlite3"),
    ],
)
def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, xdg: str, expected: str) -> None:
    monkeypatch.setenv("HOME", "/home/u")
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert default_path() == Path(expected)


def test_a_v2_database_migrates_with_unknown_kinds_and_options(tmp_path: Path) -> None:
    old = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, upto=2)
    conn.execute(
        "INSERT INTO scans (generated_at, tool_version, scope_description, passed, failed, "
        "info, scope_errors) VALUES ('2025-01-01T00:00:00+00:00', '0.0.2', 'old', 0, 1, 0, 0)"
    )
    conn.close()
    with open_history(old) as history:
        stored = history.load(1)
        result = replace(
            RESULT, kinds=("instances",), evaluation={"imds_disabled": "pass", "strict_amis": True}
        )
        new_id = history.save(scan_rows(result, "new"))
        fresh_scan = history.load(new_id).scan
    # NULL, not "nothing": a pre-v3 scan cannot vouch for any kind it did not find.
    assert (stored.scan.kinds, stored.scan.evaluation) == (None, None)
    assert (stored.scan.kinds_read(), stored.scan.evaluation_options()) == (None, None)
    assert fresh_scan.kinds_read() == frozenset({"instances"})
    assert fresh_scan.evaluation_options() == {"imds_disabled": "pass", "strict_amis": True}
    fresh = tmp_path / "fresh.sqlite3"
    with open_history(fresh):
        pass
    assert _columns(old) == _columns(fresh)
    assert SCHEMA_VERSION == 3
