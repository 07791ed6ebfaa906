"""A scan's findings on disk, so memory stays flat in fleet size (docs/reports.md#large-fleets).

Each scope's findings go to a ``ScopeBuffer`` as they are judged: one page's worth in
memory, the rest appended in pickled batches to a file. When the scope is done, the
scan's one consumer adds the buffer to the ``Spill``, a SQLite file; ``seal`` sorts it
once into report order and returns the stream every report reads (``SpilledFindings``).

Findings are pickled: every resource kind is a frozen dataclass, and pickle gives each one
back exactly without a codec per kind. Only this process writes and reads the files.
Everything lives in one private directory (``tempfile.mkdtemp``: mode 0700, under
``TMPDIR``), removed when the stream is no longer referenced, or at exit.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import tempfile
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from imdsguard.model.findings import Findings, Selection, TallyKey, tally_key
from imdsguard.model.scan import Finding

# Findings a buffer holds in memory before it writes them out: one DescribeInstances page
# (MaxResults=1000), which is in memory anyway while it is judged.
BATCH = 1000


class ScopeBuffer:
    """One scope's findings, in the order they were judged; iterable any number of times."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._path: Path | None = None
        self._tail: list[Finding] = []
        self._written = 0

    def append(self, finding: Finding) -> None:
        self._tail.append(finding)
        if len(self._tail) >= BATCH:
            self._flush()

    def close(self) -> None:
        """The scope is read: a finished scope waiting for the consumer holds no findings
        in memory (scopes finish in any order; the consumer takes them in order)."""
        if self._tail:
            self._flush()

    def _flush(self) -> None:
        if self._directory is None:
            return
        if self._path is None:
            handle, name = tempfile.mkstemp(dir=self._directory, suffix=".scope")  # 0600
            os.close(handle)
            self._path = Path(name)
        with self._path.open("ab") as out:
            pickle.dump(self._tail, out, protocol=pickle.HIGHEST_PROTOCOL)
        self._written += len(self._tail)
        self._tail = []

    def __len__(self) -> int:
        return self._written + len(self._tail)

    def __iter__(self) -> Iterator[Finding]:
        if self._path is not None:
            with self._path.open("rb") as source:
                read = 0
                while read < self._written:
                    batch = pickle.load(source)
                    read += len(batch)
                    yield from batch
        yield from self._tail

    def discard(self) -> None:
        """Free the buffer once its findings are in the spill."""
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        self._path, self._tail, self._written = None, [], 0


def _remove(conn: sqlite3.Connection, directory: str) -> None:
    conn.close()
    shutil.rmtree(directory, ignore_errors=True)


class Spill:
    """Where a scan's findings are written while scopes complete; ``seal`` when all are in."""

    def __init__(self, parent: str | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="imdsguard-", dir=parent))
        # check_same_thread off: the consumer may run on any one thread, never two at once.
        self._conn = sqlite3.connect(self.directory / "findings.db", check_same_thread=False)
        weakref.finalize(self, _remove, self._conn, str(self.directory))
        # A scratch file: nothing to recover after a crash, so no journal and no fsync.
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute(
            "CREATE TABLE raw (account TEXT, region TEXT, rtype TEXT, rid TEXT, status TEXT,"
            " finding BLOB)"
        )
        self._tally: Counter[TallyKey] = Counter()

    def buffer(self) -> ScopeBuffer:
        return ScopeBuffer(self.directory)

    def add(self, findings: Iterable[Finding]) -> None:
        """Append findings (in the order they came, which breaks ties in report order)."""
        with self._conn:
            self._conn.executemany(
                "INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?)", map(self._row, findings)
            )
        if isinstance(findings, ScopeBuffer):
            findings.discard()

    def _row(self, f: Finding) -> tuple[str, str, str, str, str, bytes]:
        key = tally_key(f)
        self._tally[key] += 1
        blob = pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL)
        return (*key[:3], f.resource_id, f.status, blob)

    def seal(self) -> SpilledFindings:
        """Sort once into report order; the table's rowids are then that order."""
        with self._conn:
            self._conn.execute(
                "CREATE TABLE sorted (seq INTEGER PRIMARY KEY, account TEXT, region TEXT,"
                " rtype TEXT, status TEXT, finding BLOB)"
            )
            self._conn.execute(
                "INSERT INTO sorted (account, region, rtype, status, finding)"
                " SELECT account, region, rtype, status, finding FROM raw"
                " ORDER BY account, region, rtype, rid, rowid"
            )
            self._conn.execute("DROP TABLE raw")
        ranges = {
            (account, region): (low, high)
            for account, region, low, high in self._conn.execute(
                "SELECT account, region, MIN(seq), MAX(seq) FROM sorted GROUP BY account, region"
            )
        }
        return SpilledFindings(self, dict(self._tally), ranges)

    def rows(self, sql: str, params: list[object]) -> Iterator[Finding]:
        for (blob,) in self._conn.execute(sql, params):
            yield pickle.loads(blob)  # our own file (module docstring)


class SpilledFindings(Findings):
    """The sealed spill as a Findings stream: each iteration is one ordered table scan."""

    def __init__(
        self,
        spill: Spill,
        tally: dict[TallyKey, int],
        ranges: dict[tuple[str, str], tuple[int, int]],
    ) -> None:
        super().__init__(tally)
        self._spill = spill
        self._ranges = ranges

    def __iter__(self) -> Iterator[Finding]:
        where, params = _where(self.selection, self._ranges)
        return self._spill.rows(f"SELECT finding FROM sorted{where} ORDER BY seq", params)


def _where(
    selection: Selection, ranges: dict[tuple[str, str], tuple[int, int]]
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if selection.scope is not None:
        low, high = ranges.get((selection.scope.account_id, selection.scope.region), (1, 0))
        clauses.append("seq BETWEEN ? AND ?")
        params += [low, high]
    for column, values in (("status", selection.statuses), ("rtype", selection.types)):
        if values is not None:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += sorted(values)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
