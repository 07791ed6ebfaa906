"""PURE: what ``imdsguard status`` checks (every change the journals applied and did not
roll back) and what it concludes; remediate/status_read.py reads AWS for it.

A journal is read, never locked or appended to: status may run while an apply or
rollback holds it (docs/rollout.md#status).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from imdsguard.model.kinds import INSTANCES
from imdsguard.model.remediation import Change, Rejections
from imdsguard.model.scan import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from imdsguard.remediate.appliers.interface import Standing
from imdsguard.remediate.journal import EmptyJournal, JournalState, intent_times, read_records

# The records status understands; a journal may hold others (a rollout's waves and
# soaks), which say nothing about whether a change was applied or undone.
KNOWN_RECORDS = frozenset(
    {"header", "intent", "outcome", "scope", "rollback-intent", "rollback-outcome"}
)

# Besides the applier's standings: not checked, because the read failed, or because the
# journal has an intent and no outcome (the run stopped mid-change).
Status = Standing | Literal["unreadable", "unfinished"]


@dataclass(frozen=True, slots=True)
class Applied:
    """One change a journal applied (or began to) and did not roll back.

    ``since`` is its intent record's time: journaled just before the write, so no IMDSv1
    call can have been refused for it earlier.
    """

    journal: Path
    change: Change
    since: datetime
    finished: bool
    role_name: str | None


def applied_changes(path: Path) -> list[Applied]:
    """The changes ``path`` applied; UsageError for a missing, empty or damaged journal."""
    records, _ = read_records(path)
    if not records:
        raise EmptyJournal(path)
    state = JournalState.replay(path, [r for r in records if r.get("type") in KNOWN_RECORDS])
    since = intent_times(path, records)
    found = []
    for key, change in state.intents.items():
        if key in state.rolled_back:
            continue
        outcome = state.outcomes.get(key, ("", ""))[0]
        if outcome in ("", "applied"):
            role = state.plan.role_name
            found.append(Applied(path, change, since[key], outcome == "applied", role))
    return found


def latest_per_resource(applied: list[Applied]) -> list[Applied]:
    """One entry per resource: the journal that changed it last. An earlier journal's
    change of it was superseded (set back and applied again) and is not checked twice."""
    latest: dict[str, Applied] = {}
    for entry in applied:
        known = latest.get(entry.change.key)
        if known is None or entry.since > known.since:
            latest[entry.change.key] = entry
    return sorted(latest.values(), key=lambda a: (a.change.scope, a.change.kind, a.change.key))


@dataclass(frozen=True, slots=True)
class ChangeStatus:
    """Where one applied change stands, and (instances) what was refused since."""

    applied: Applied
    status: Status
    now: str
    rejections: Rejections | None = None

    @property
    def refused(self) -> bool:
        return self.rejections is not None and self.rejections.status == "rejected"

    @property
    def unknown(self) -> bool:
        """Nothing can be concluded: never counted as in place or clean."""
        unread = self.rejections is not None and self.rejections.status == "unknown"
        return self.status in ("unreadable", "unfinished") or unread


def needs_rejections(entry: Applied) -> bool:
    """Only instances publish MetadataNoTokenRejected (docs/aws-behaviour.md#usage-metrics)."""
    return entry.finished and entry.change.kind == INSTANCES.plan_kind


@dataclass(frozen=True, slots=True)
class StatusResult:
    journals: tuple[Path, ...]
    checked_at: datetime
    rows: tuple[ChangeStatus, ...]

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter(r.status for r in self.rows)
        counts["refusing"] = sum(r.refused for r in self.rows)
        counts["refused_calls"] = int(
            sum(r.rejections.count for r in self.rows if r.rejections and r.refused)
        )
        counts["metrics_unknown"] = sum(
            r.rejections is not None and r.rejections.status == "unknown" for r in self.rows
        )
        return counts

    def exit_code(self) -> int:
        """3 if anything could not be read (wins: unread is never in place), 1 for a
        regression or a refused call, else 0."""
        if any(r.unknown for r in self.rows):
            return EXIT_INCOMPLETE
        if any(r.status == "regressed" or r.refused for r in self.rows):
            return EXIT_FINDINGS
        return EXIT_OK

    def verdict(self) -> Literal["ok", "attention", "incomplete"]:
        code = self.exit_code()
        return "ok" if code == EXIT_OK else "attention" if code == EXIT_FINDINGS else "incomplete"

    def summary(self) -> str:
        """One line a cron mail or a CI log can be judged by."""
        c = self.counts()
        total = len(self.rows)
        if self.verdict() == "ok":
            gone = f" ({c['gone']} resource(s) gone since)" if c["gone"] else ""
            return (
                f"OK: all {total - c['gone']} change(s) still in place{gone}, and no IMDSv1 "
                "call refused since they were made"
            )
        problems = []
        if c["regressed"]:
            problems.append(f"{c['regressed']} change(s) SET BACK (IMDSv1 allowed again)")
        if c["refusing"]:
            problems.append(
                f"{c['refused_calls']} IMDSv1 call(s) REFUSED on {c['refusing']} instance(s): "
                "something there still needs IMDSv1"
            )
        if c["unreadable"]:
            problems.append(f"{c['unreadable']} change(s) could not be checked")
        if c["metrics_unknown"]:
            problems.append(f"{c['metrics_unknown']} instance(s) with unreadable metrics")
        if c["unfinished"]:
            problems.append(f"{c['unfinished']} change(s) unfinished (finish with apply --resume)")
        head = "ATTENTION" if self.verdict() == "attention" else "INCOMPLETE"
        rest = f"{c['in-place']} in place, {c['gone']} gone, of {total}"
        return f"{head}: {'; '.join(problems)}; {rest}"
