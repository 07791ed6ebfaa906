"""PURE: the order in which several journals are rolled back (docs/rollout.md).

1. A journal that set ``HttpTokensEnforced=enabled`` comes before every journal that
   sets instances in the same account and Region back to ``optional``: AWS refuses that
   while enforcement is on (docs/aws-behaviour.md#the-api).
2. Where two journals changed the same resource, the one that changed it later is
   undone first, so each restores the settings the other left (undo in reverse).
3. Otherwise: enforcing journals, then launch settings (account defaults, launch
   templates), then instances; the most recent first; then by path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imdsguard.errors import UsageError
from imdsguard.model.kinds import ACCOUNT_DEFAULTS, INSTANCES, LAUNCH_TEMPLATES
from imdsguard.model.remediation import Change
from imdsguard.model.scan import Scope
from imdsguard.remediate.journal import JournalState

ENFORCED = "enabled"


def enforces(change: Change) -> bool:
    """An account-defaults change that turned HttpTokensEnforced on."""
    if change.kind != ACCOUNT_DEFAULTS.plan_kind:
        return False
    after, before = change.state.get("after"), change.state.get("before")
    return (
        isinstance(after, dict)
        and after.get("HttpTokensEnforced") == ENFORCED
        and not (isinstance(before, dict) and before.get("HttpTokensEnforced") == ENFORCED)
    )


def restores_optional(change: Change) -> bool:
    """An instance change whose rollback writes HttpTokens=optional."""
    return change.kind == INSTANCES.plan_kind and change.before.http_tokens == "optional"


@dataclass(frozen=True, slots=True)
class ToUndo:
    """One journal to roll back: its replayed state and when it journaled each intent."""

    path: Path
    state: JournalState
    intent_times: dict[str, datetime]

    @property
    def changes(self) -> list[Change]:
        return list(self.state.intents.values())

    def enforced_scopes(self) -> set[Scope]:
        return {c.scope for c in self.changes if enforces(c)}

    def optional_scopes(self) -> set[Scope]:
        return {c.scope for c in self.changes if restores_optional(c)}

    @property
    def rank(self) -> int:
        kinds = {c.kind for c in self.changes}
        if self.enforced_scopes():
            return 0
        return 1 if kinds & {ACCOUNT_DEFAULTS.plan_kind, LAUNCH_TEMPLATES.plan_kind} else 2

    @property
    def latest(self) -> datetime | None:
        return max(self.intent_times.values(), default=None)


@dataclass(frozen=True, slots=True)
class Step:
    """A journal's place in the order, and why it is there."""

    undo: ToUndo
    why: str


def _why(undo: ToUndo, after: dict[Path, list[str]]) -> str:
    if undo.enforced_scopes():
        where = ", ".join(f"{s.account_id}/{s.region}" for s in sorted(undo.enforced_scopes()))
        reason = f"undoes HttpTokensEnforced in {where} first"
    else:
        reason = "launch settings before instances" if undo.rank == 1 else "instances last"
    return "; ".join([reason, *after.get(undo.path, [])])


def _preference(undo: ToUndo) -> tuple[int, float, Path]:
    latest = undo.latest
    return undo.rank, -latest.timestamp() if latest else 0.0, undo.path


def order(journals: Sequence[ToUndo]) -> list[Step]:
    """The journals in rollback order; UsageError if the rules contradict each other."""
    before: dict[Path, set[Path]] = defaultdict(set)  # path -> the paths that must go first
    reasons: dict[Path, list[str]] = defaultdict(list)
    for a in journals:
        for b in journals:
            if a.path == b.path:
                continue
            shared = sorted(a.intent_times.keys() & b.intent_times.keys())
            later = [k for k in shared if a.intent_times[k] > b.intent_times[k]]
            if later:
                before[b.path].add(a.path)
                resource = later[0].rsplit("/", 1)[-1]
                reasons[b.path].append(f"after {a.path}, which changed {resource} later")
            if a.enforced_scopes() & b.optional_scopes():
                before[b.path].add(a.path)
    by_path = {j.path: j for j in journals}
    done: list[Step] = []
    left = dict(by_path)
    while left:
        ready = [j for p, j in left.items() if not (before[p] & left.keys())]
        if not ready:
            names = ", ".join(sorted(str(p) for p in left))
            raise UsageError(
                f"journals {names} each changed something the other changed later: roll "
                "them back one at a time, newest first"
            )
        first = min(ready, key=_preference)
        done.append(Step(first, _why(first, reasons)))
        del left[first.path]
    return done
