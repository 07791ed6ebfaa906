"""The history database: every SQL statement imdsguard runs lives in this module."""

from __future__ import annotations

import dataclasses
import operator
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from imdsguard.errors import HistoryError, UsageError
from imdsguard.history.rows import FindingRow, ScanRow, ScanRows, ScopeRow, StoredScan

# Forward migrations: MIGRATIONS[n] takes a database from user_version n to n + 1.
# Append only; never edit a step that has shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE scans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            generated_at TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            scope_description TEXT NOT NULL,
            passed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            info INTEGER NOT NULL,
            scope_errors INTEGER NOT NULL
        )""",
        """CREATE TABLE scopes (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT
        )""",
        "CREATE INDEX scopes_scan ON scopes(scan_id)",
        """CREATE TABLE findings (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            name TEXT,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            evidence TEXT NOT NULL
        )""",
        "CREATE INDEX findings_scan ON findings(scan_id)",
    ),
    # v2: per-scope resource counts and skipped resources, as the JSON report has them.
    (
        "ALTER TABLE scopes ADD COLUMN resources TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE scopes ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0",
    ),
    # v3: which --resources kinds a scan read and its evaluation options (JSON text).
    # Older scans keep NULL: unknown, so `diff` never reads their silence as "vanished".
    (
        "ALTER TABLE scans ADD COLUMN kinds TEXT",
        "ALTER TABLE scans ADD COLUMN evaluation TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# A writer waits this long for another process's transaction before giving up.
BUSY_TIMEOUT_S = 30.0


def _columns(row_type: type) -> tuple[str, ...]:
    """A row dataclass's fields are its table's columns, in the same order."""
    return tuple(f.name for f in dataclasses.fields(row_type))


_SCAN = _columns(ScanRow)
_SCOPE = _columns(ScopeRow)
_FINDING = _columns(FindingRow)
_SCAN_COLUMNS = ", ".join(_SCAN)
_SCOPE_COLUMNS = ", ".join(_SCOPE)
_FINDING_COLUMNS = ", ".join(_FINDING)


def _insert_sql(table: str, columns: tuple[str, ...], scan_id: bool) -> str:
    names = ("scan_id", *columns) if scan_id else columns
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def default_path() -> Path:
    """$XDG_DATA_HOME/imdsguard/history.sqlite3, else ~/.local/share/imdsguard/... ."""
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    data_home = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "imdsguard" / "history.sqlite3"


def migrate(conn: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> None:
    """Bring the schema to version ``upto`` in one transaction (safe if two processes race)."""
    if _user_version(conn) >= upto:
        _refuse_newer(_user_version(conn))
        return
    with _write_transaction(conn):
        # Read again under the lock: a racing process may have migrated meanwhile.
        version = _user_version(conn)
        _refuse_newer(version)
        for step in MIGRATIONS[version:upto]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {max(version, upto)}")


@contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """All or nothing. IMMEDIATE takes the write lock at BEGIN, so a second writer waits
    there (busy timeout) rather than failing halfway through its own transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        # SQLite may already have rolled back by itself (e.g. on SQLITE_FULL); a second
        # ROLLBACK would then raise and hide the original error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _user_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"history schema v{version} is newer than this imdsguard understands "
            f"(v{SCHEMA_VERSION}); upgrade imdsguard or use another --db"
        )


class History:
    """An open history database. Use ``open_history``; SQLite errors become HistoryError."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def insert_scan(
        self, scan: ScanRow, scopes: Iterable[ScopeRow], findings: Iterable[FindingRow]
    ) -> int:
        """Store one scan in ONE transaction: after a crash it is either whole or absent."""
        conn = self._conn
        scope_values = operator.attrgetter(*_SCOPE)
        finding_values = operator.attrgetter(*_FINDING)
        with _write_transaction(conn):
            cursor = conn.execute(_insert_sql("scans", _SCAN, False), dataclasses.astuple(scan))
            scan_id = cursor.lastrowid
            assert scan_id is not None  # an INSERT into a rowid table always sets it
            conn.executemany(
                _insert_sql("scopes", _SCOPE, True),
                ((scan_id, *scope_values(s)) for s in scopes),
            )
            conn.executemany(
                _insert_sql("findings", _FINDING, True),
                ((scan_id, *finding_values(f)) for f in findings),
            )
        return scan_id

    def save(self, rows: ScanRows) -> int:
        return self.insert_scan(rows.scan, rows.scopes, rows.findings)

    def list_scans(self, limit: int | None = None) -> list[tuple[int, ScanRow]]:
        """Scans, newest first."""
        rows = self._conn.execute(
            f"SELECT id, {_SCAN_COLUMNS} FROM scans ORDER BY id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [(row[0], ScanRow(*row[1:])) for row in rows]

    def load(self, scan_id: int) -> StoredScan:
        conn = self._conn
        row = conn.execute(f"SELECT {_SCAN_COLUMNS} FROM scans WHERE id = ?", (scan_id,)).fetchone()
        if row is None:
            raise UsageError(f"no scan #{scan_id} in the history (see `imdsguard history`)")
        scopes = conn.execute(
            f"SELECT {_SCOPE_COLUMNS} FROM scopes WHERE scan_id = ? ORDER BY rowid", (scan_id,)
        )
        findings = conn.execute(
            f"SELECT {_FINDING_COLUMNS} FROM findings WHERE scan_id = ? ORDER BY rowid",
            (scan_id,),
        )
        return StoredScan(
            scan_id,
            ScanRow(*row),
            tuple(ScopeRow(*s) for s in scopes),
            tuple(FindingRow(*f) for f in findings),
        )


def _initialise(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every one here is an explicit BEGIN.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    # WAL: readers never block the writer, and a killed writer leaves only an
    # uncommitted WAL tail that the next open discards (https://sqlite.org/wal.html).
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _create(path: Path) -> None:
    """Build a complete, migrated database beside ``path``, then link it into place.

    Two processes creating the same history at once would otherwise race on the switch
    to WAL, for which SQLite answers "locked" at once instead of waiting. The link is
    atomic and fails if the other process won, so every opener sees a finished file.
    mkstemp makes it owner-only (it lists accounts and instances), and SQLite gives its
    -wal and -shm files the same permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    os.close(fd)
    try:
        conn = _initialise(Path(temporary))
        try:
            migrate(conn)
        finally:
            conn.close()
        with suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def connect(path: Path, create: bool = True) -> sqlite3.Connection:
    """Open with WAL and a busy timeout, migrated to the current schema."""
    if create and not path.exists():
        _create(path)
    conn = _initialise(path)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def open_history(path: Path, create: bool = True) -> Iterator[History]:
    """The history at ``path``; with ``create=False`` a missing file is a HistoryError."""
    if not create and not path.exists():
        raise HistoryError(f"no history database at {path}")
    try:
        conn = connect(path, create)
    except (sqlite3.Error, OSError) as exc:
        raise HistoryError(f"cannot open history {path}: {exc}") from exc
    try:
        yield History(conn)
    except sqlite3.Error as exc:
        raise HistoryError(f"history {path}: {exc}") from exc
    finally:
        conn.close()
