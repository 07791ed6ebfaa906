"""PURE drift between two stored scans: regressions, fixes, arrivals, departures, unknowns.

Fail-closed: a resource missing from B is only "vanished" if B read its scope cleanly.
If B's scope errored, or B did not cover it, the resource is "unknown", never gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imdsguard.history.rows import FindingRow, ResourceKey, ScopeKey, ScopeRow, StoredScan
from imdsguard.model import ALL_REGIONS, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK

ChangeKind = Literal["new-failure", "unknown", "fixed", "new", "vanished"]
ScopeChangeKind = Literal["new", "persisting", "unscanned", "cleared"]


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One resource whose standing changed between A (``before``) and B (``after``)."""

    kind: ChangeKind
    before: FindingRow | None
    after: FindingRow | None
    note: str = ""

    @property
    def row(self) -> FindingRow:
        """The freshest view of the resource, for its identity and name."""
        row = self.after or self.before
        assert row is not None  # a change always has at least one side
        return row


@dataclass(frozen=True, slots=True)
class ScopeChange:
    """A scope with an error on either side, or one that A covered and B did not."""

    kind: ScopeChangeKind
    account_id: str
    region: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class Drift:
    a: int
    b: int
    changes: tuple[ResourceChange, ...]
    scopes: tuple[ScopeChange, ...]
    still_failing: int

    def of_kind(self, kind: ChangeKind) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def regressions(self) -> tuple[ResourceChange, ...]:
        return self.of_kind("new-failure")

    @property
    def incomplete(self) -> bool:
        """B has a scope error, or left out a scope A covered: B cannot vouch for all of A."""
        return any(s.kind != "cleared" for s in self.scopes)

    def exit_code(self) -> int:
        """3 beats 1, as for `scan`: an incomplete comparison must never look clean."""
        if self.incomplete:
            return EXIT_INCOMPLETE
        if self.regressions:
            return EXIT_FINDINGS
        return EXIT_OK


def _governing_scope(
    scopes: dict[ScopeKey, ScopeRow], account: str, region: str
) -> ScopeRow | None:
    """The scope row that says whether B read (account, region): its own, or the account's."""
    return scopes.get((account, region)) or scopes.get((account, ALL_REGIONS))


def resource_change(
    before: FindingRow | None, after: FindingRow | None, b_scopes: dict[ScopeKey, ScopeRow]
) -> ResourceChange | None:
    """Classify one resource; None means no change worth reporting."""
    if after is not None:
        if after.status == "FAIL" and (before is None or before.status != "FAIL"):
            return ResourceChange("new-failure", before, after)
        if before is None:
            return ResourceChange("new", None, after)
        if before.status == "FAIL" and after.status != "FAIL":
            return ResourceChange("fixed", before, after)
        return None
    assert before is not None
    scope = _governing_scope(b_scopes, before.account_id, before.region)
    if scope is None:
        return ResourceChange("unknown", before, None, "scope not scanned in B")
    if scope.error is not None:
        return ResourceChange("unknown", before, None, "scope error in B")
    return ResourceChange("vanished", before, None)


def _b_read(b_scopes: dict[ScopeKey, ScopeRow], key: ScopeKey) -> Literal["ok", "error", "absent"]:
    account, region = key
    if region == ALL_REGIONS:
        own = b_scopes.get(key)
        if own is not None:
            return "error" if own.error is not None else "ok"
        return "ok" if any(k[0] == account for k in b_scopes) else "absent"
    scope = _governing_scope(b_scopes, account, region)
    if scope is None:
        return "absent"
    return "error" if scope.error is not None else "ok"


def scope_change(
    before: ScopeRow | None, after: ScopeRow | None, b_scopes: dict[ScopeKey, ScopeRow]
) -> ScopeChange | None:
    row = after or before
    assert row is not None
    error_before = before.error if before is not None else None
    error_after = after.error if after is not None else None
    kind: ScopeChangeKind
    if error_after is not None:
        kind = "persisting" if error_before is not None else "new"
    elif before is None:
        return None
    else:
        state = _b_read(b_scopes, row.key)
        if state == "absent":
            kind = "unscanned"
        elif state == "ok" and error_before is not None:
            kind = "cleared"
        else:
            # Fine in both, or under an account-level error that B reports on its own row.
            return None
    return ScopeChange(kind, row.account_id, row.region, error_before, error_after)


_SCOPE_ORDER: dict[ScopeChangeKind, int] = {"new": 0, "persisting": 1, "unscanned": 2, "cleared": 3}


def diff(a: StoredScan, b: StoredScan) -> Drift:
    before: dict[ResourceKey, FindingRow] = {f.key: f for f in a.findings}
    after: dict[ResourceKey, FindingRow] = {f.key: f for f in b.findings}
    a_scopes = {s.key: s for s in a.scopes}
    b_scopes = {s.key: s for s in b.scopes}
    changes = [
        change
        for key in sorted(before.keys() | after.keys())
        if (change := resource_change(before.get(key), after.get(key), b_scopes)) is not None
    ]
    scopes = [
        moved
        for key in sorted(a_scopes.keys() | b_scopes.keys())
        if (moved := scope_change(a_scopes.get(key), b_scopes.get(key), b_scopes)) is not None
    ]
    still_failing = sum(
        1
        for k, f in after.items()
        if f.status == "FAIL" and k in before and before[k].status == "FAIL"
    )
    return Drift(
        a.scan_id,
        b.scan_id,
        tuple(changes),
        tuple(sorted(scopes, key=lambda s: _SCOPE_ORDER[s.kind])),
        still_failing,
    )
