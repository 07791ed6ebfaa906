"""The write-ahead journal: append-only JSON lines, fsynced, replayable for resume/rollback."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from imdsguard import __version__
from imdsguard.errors import UsageError
from imdsguard.model.remediation import Change, Outcome, Plan
from imdsguard.model.scan import JSONValue
from imdsguard.plan.planfile import change_from_json, plan_from_json, plan_json

JOURNAL_VERSION = 1


def default_path(now: datetime | None = None) -> Path:
    """``$XDG_STATE_HOME/imdsguard/journals/apply-<UTC time>-<pid>.jsonl``."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(state) / "imdsguard" / "journals" / f"apply-{stamp}-{os.getpid()}.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every record, and the byte length of the intact prefix.

    A torn LAST line (a crash mid-write leaves no trailing newline) is dropped; a bad
    line anywhere else means the file was damaged, which we refuse to guess around.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read journal {path}: {exc.strerror}") from exc
    records: list[dict[str, Any]] = []
    offset = 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        is_tail = number == len(lines)
        if is_tail and not line:
            break
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "type" not in record:
                raise ValueError("not a journal record")
        except ValueError as exc:
            if is_tail:
                break  # torn final write: nothing after it, nothing was acted on
            raise UsageError(f"journal {path} line {number} is corrupt ({exc})") from exc
        if is_tail:
            break  # complete JSON but no newline: still a torn write, the fsync never finished
        records.append(record)
        offset += len(line) + 1
    return records, offset


def _lock(handle: Any, path: Path) -> None:
    """One writer per journal: a second apply/rollback on it would interleave records.

    flock, so a SIGKILLed run releases it with its file descriptors.
    """
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise UsageError(f"journal {path} is in use by another imdsguard run") from exc


class Journal:
    """Appends records durably: each line is written and fsynced before we act on it."""

    def __init__(self, path: Path, handle: Any) -> None:
        _lock(handle, path)
        self.path = path
        self._handle = handle
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path, plan: Plan, run: str = "apply") -> Journal:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "x", encoding="utf-8")  # noqa: SIM115  (closed in close())
        except FileExistsError as exc:
            raise UsageError(f"journal {path} already exists: use apply --resume") from exc
        except OSError as exc:
            raise UsageError(f"cannot create journal {path}: {exc.strerror}") from exc
        journal = cls(path, handle)
        journal.append(
            "header", v=JOURNAL_VERSION, run=run, tool_version=__version__, plan=plan_json(plan)
        )
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new directory entry must survive a crash too
        finally:
            os.close(dir_fd)
        return journal

    @classmethod
    def reopen(cls, path: Path) -> tuple[Journal, JournalState]:
        """Lock, replay, and position for appending after the last intact record."""
        try:
            handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115  (closed in close())
        except OSError as exc:
            raise UsageError(f"cannot read journal {path}: {exc.strerror}") from exc
        journal = cls(path, handle)
        try:
            records, intact = read_records(path)
            state = JournalState.replay(path, records)
        except UsageError:
            journal.close()
            raise
        handle.truncate(intact)  # drop a torn tail so the next record starts a line
        handle.seek(0, os.SEEK_END)
        return journal, state

    def append(self, record_type: str, **fields: JSONValue) -> None:
        line = json.dumps({"type": record_type, "at": _now(), **fields}, sort_keys=True)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


# Apply outcomes a resumed run does not revisit; "failed" and "denied" are tried again.
FINAL = frozenset({"applied", "skipped", "drifted"})


@dataclass
class JournalState:
    """What resume and rollback need from a journal: the plan, intents, apply outcomes,
    and the changes whose latest record is a rollback's.

    Rollback itself re-reads every resource, so it does not need its own history to be
    idempotent; resume does, so it never re-applies what was rolled back.
    """

    plan: Plan
    intents: dict[str, Change] = field(default_factory=dict)
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    rolled_back: dict[str, tuple[str, str]] = field(default_factory=dict)

    def settled(self, key: str) -> tuple[Outcome, str] | None:
        """What a resumed apply reports for ``key`` without touching it; None: (re)try it.

        A rolled-back change is skipped: someone chose to undo it, and re-applying it
        silently would undo that choice (plan and apply again to redo it).
        """
        if key in self.rolled_back:
            outcome, reason = self.rolled_back[key]
            return "skipped", f"rolled-back ({outcome}{': ' + reason if reason else ''})"
        previous = self.outcomes.get(key)
        if previous is not None and previous[0] in FINAL:
            return cast(Outcome, previous[0]), previous[1] or "earlier run"
        return None

    @classmethod
    def replay(cls, path: Path, records: list[dict[str, Any]]) -> JournalState:
        if not records or records[0].get("type") != "header":
            raise UsageError(f"{path} is not an imdsguard journal (no header record)")
        header = records[0]
        if header.get("v") != JOURNAL_VERSION:
            raise UsageError(f"journal {path}: unsupported version {header.get('v')!r}")
        state = cls(plan=plan_from_json(header.get("plan") or {}))
        for number, record in enumerate(records[1:], start=2):
            try:
                state._apply(record)
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"journal {path} line {number} is corrupt ({exc!r})") from exc
        return state

    def _apply(self, record: dict[str, Any]) -> None:
        kind = record["type"]
        if kind == "intent":
            self.intents[record["key"]] = change_from_json(record["change"])
            self.rolled_back.pop(record["key"], None)
        elif kind == "outcome":
            self.outcomes[record["key"]] = (str(record["outcome"]), str(record.get("reason", "")))
            self.rolled_back.pop(record["key"], None)
        elif kind == "rollback-intent":  # a rollback killed before its outcome record
            self.rolled_back[record["key"]] = ("interrupted", "run rollback again")
        elif kind == "rollback-outcome":
            outcome, reason = str(record["outcome"]), str(record.get("reason", ""))
            self.rolled_back[record["key"]] = (outcome, reason)
