"""The write-ahead journal: append-only JSON lines, fsynced, replayable for resume/rollback."""

from __future__ import annotations

import fcntl
import hashlib
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
# A staged rollout's journal (docs/rollout.md#the-journal): version 1 plus the records in
# ROLLOUT_RECORDS. Versions that know only 1 refuse it by its version, rather than stop
# at the first record they do not know.
ROLLOUT_JOURNAL_VERSION = 2
ROLLOUT_RECORDS = frozenset(
    {"rollout", "wave-start", "wave-end", "soak-start", "poll", "soak-end", "halt", "final-start"}
)


class EmptyJournal(UsageError):
    """A journal with no complete record: the run stopped before it wrote its header.

    Nothing is changed before the header and the change's intent are on disk, so nothing
    was changed by that run.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"journal {path} is empty: the run stopped before it journaled anything, so "
            "nothing was changed"
        )
        self.path = path


def _state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(state) / "imdsguard"


def default_path(now: datetime | None = None) -> Path:
    """``$XDG_STATE_HOME/imdsguard/journals/apply-<UTC time>-<pid>.jsonl``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return _state_dir() / "journals" / f"apply-{stamp}-{os.getpid()}.jsonl"


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
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                raise ValueError("not a journal record")
        except ValueError as exc:
            if is_tail:
                break  # torn final write: nothing after it, nothing was acted on
            raise UsageError(
                f"journal {path} line {number} is corrupt ({exc}): a crash only ever tears "
                "the last line, so lines are damaged and the changes they recorded cannot "
                "be accounted for"
            ) from exc
        if is_tail:
            break  # complete JSON but no newline: still a torn write, the fsync never finished
        records.append(record)
        offset += len(line) + 1
    return records, offset


def intent_times(path: Path, records: list[dict[str, Any]]) -> dict[str, datetime]:
    """The latest intent's time per key: a resumed run journals the intent again."""
    times: dict[str, datetime] = {}
    for number, record in enumerate(records, start=1):
        if record.get("type") == "intent":
            try:
                moment = datetime.fromisoformat(str(record["at"]))
                if moment.tzinfo is None:  # every record's time is UTC, with its offset
                    raise ValueError(f"time {record['at']!r} without a zone")
                times[str(record["key"])] = moment
            except (KeyError, ValueError) as exc:
                raise UsageError(f"journal {path} line {number} is corrupt ({exc!r})") from exc
    return times


def _lock(handle: Any, path: Path) -> None:
    """One writer per journal: a second apply/rollback on it would interleave records.

    flock, so a SIGKILLed run releases it with its file descriptors.
    """
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise UsageError(f"journal {path} is in use by another imdsguard run") from exc


def plan_identity(plan: Plan) -> str:
    """The same plan file gives the same identity, whichever journal applies it."""
    canonical = json.dumps(plan_json(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _plan_lock(plan: Plan, journal: Path) -> Any:
    """One run per plan: two applies of one plan with two journals would both write.

    A lock file per plan identity beside the journals (``$XDG_STATE_HOME``), flock'd for
    the run; it names the journal of the run that holds it.
    """
    locks = _state_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"plan-{plan_identity(plan)}.lock"
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115  (closed with the journal)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "another journal"
        handle.close()
        raise UsageError(
            f"this plan is being applied or rolled back by another imdsguard run (journal "
            f"{holder}); wait for it, or use that journal"
        ) from exc
    handle.seek(0)
    handle.truncate()
    handle.write(str(journal.resolve()))
    handle.flush()
    return handle


class Journal:
    """Appends records durably: each line is written and fsynced before we act on it."""

    def __init__(self, path: Path, handle: Any) -> None:
        _lock(handle, path)
        self.path = path
        self._handle = handle
        self._lock = threading.Lock()
        self._plan_lock: Any = None

    def _hold_plan(self, plan: Plan, siblings: dict[str, Any] | None = None) -> None:
        """Take the plan's lock, or share it: ``siblings`` maps plan identities to the
        locks already held by the journals one run opens together (``rollback J1 J2``,
        which rolls them back one after another), so two journals of one plan do not wait
        for each other. The journal that took a lock closes it."""
        identity = plan_identity(plan)
        if siblings is not None and identity in siblings:
            return
        try:
            self._plan_lock = _plan_lock(plan, self.path)
        except UsageError:
            self.close()
            raise
        if siblings is not None:
            siblings[identity] = self._plan_lock

    @classmethod
    def create(
        cls, path: Path, plan: Plan, run: str = "apply", version: int = JOURNAL_VERSION
    ) -> Journal:
        reused = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "x", encoding="utf-8")  # noqa: SIM115  (closed in close())
        except FileExistsError:
            # Left without a complete record by a run killed before its header: nothing
            # was journaled, so nothing was changed, and the file may be used afresh.
            handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115  (closed in close())
            reused = True
        except OSError as exc:
            raise UsageError(f"cannot create journal {path}: {exc.strerror}") from exc
        journal = cls(path, handle)  # locked from here on
        if reused:
            if not _never_written(path):
                journal.close()
                raise UsageError(f"journal {path} already exists: use apply --resume")
            handle.truncate(0)
        journal._hold_plan(plan)
        journal.append("header", v=version, run=run, tool_version=__version__, plan=plan_json(plan))
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new directory entry must survive a crash too
        finally:
            os.close(dir_fd)
        return journal

    @classmethod
    def reopen(
        cls, path: Path, siblings: dict[str, Any] | None = None
    ) -> tuple[Journal, JournalState]:
        """Lock, replay, and position for appending after the last intact record.

        ``siblings``: shared by journals opened together by one run (see _hold_plan)."""
        try:
            handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115  (closed in close())
        except OSError as exc:
            raise UsageError(f"cannot read journal {path}: {exc.strerror}") from exc
        journal = cls(path, handle)
        try:
            records, intact = read_records(path)
            if not records:
                raise EmptyJournal(path)
            state = JournalState.replay(path, records)
            journal._hold_plan(state.plan, siblings)
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
        if self._plan_lock is not None:
            self._plan_lock.close()
            self._plan_lock = None


def _never_written(path: Path) -> bool:
    """True for a journal without one complete record (a crash before its header)."""
    try:
        return not read_records(path)[0]
    except UsageError:
        return False


def _needs_intent(record: dict[str, Any]) -> bool:
    """Records that exist only after the change's intent was journaled: an ``applied``
    outcome (nothing is applied unwritten), and any rollback record (rollback works
    from the intents). Other outcomes (skipped, drifted, failed before writing) need none.
    """
    if record["type"] == "outcome":
        return bool(record["outcome"] == "applied")
    return record["type"] in {"rollback-intent", "rollback-outcome"}


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
    # A rollout's own records, in order, for remediate/rollout.py to read; empty otherwise.
    rollout: list[dict[str, Any]] = field(default_factory=list)

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
        if header.get("v") not in (JOURNAL_VERSION, ROLLOUT_JOURNAL_VERSION):
            raise UsageError(f"journal {path}: unsupported version {header.get('v')!r}")
        state = cls(plan=plan_from_json(header.get("plan") or {}))
        orphans: list[str] = []
        for number, record in enumerate(records[1:], start=2):
            try:
                state._apply(record)
                if _needs_intent(record) and record["key"] not in state.intents:
                    orphans.append(str(record["key"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"journal {path} line {number} is corrupt ({exc!r})") from exc
        if orphans:
            # Every change's intent is fsynced before it is made, so a crash can cut a
            # journal short but never leave a result without its intent: lines are missing.
            names = ", ".join(sorted(set(orphans))[:5])
            raise UsageError(
                f"journal {path} is damaged (not as a crash leaves it): no intent record "
                f"for {names}; what was changed cannot be accounted for from this journal"
            )
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
        elif kind == "scope":  # a scope the run could not enter: reported, nothing to replay
            pass
        elif kind in ROLLOUT_RECORDS:  # the rollout's progress: changes nothing to replay
            self.rollout.append(record)
        else:  # a second header, or a record no version of imdsguard writes
            raise ValueError(f"unexpected record type {kind!r}")
