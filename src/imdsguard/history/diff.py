"""PURE drift between two stored scans: regressions, fixes, arrivals, departures, unknowns.

Fail-closed: a resource missing from B is only "vanished" if B read its scope cleanly AND
read its kind. If B's scope errored, or B did not cover the scope or the kind, the resource
is "unknown", never gone. A verdict that changed only because A and B were judged under
different evaluation options is "re-judged", never "fixed" or a silent pass.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from imdsguard.history.rows import FindingRow, ResourceKey, ScopeKey, ScopeRow, StoredScan
from imdsguard.model.kinds import AMIS, BY_NAME, BY_TYPE, RESOURCE_NAMES
from imdsguard.model.scan import ALL_REGIONS, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, JSONValue
from imdsguard.options import EvaluationOptions

ChangeKind = Literal["new-failure", "unknown", "re-judged", "fixed", "new", "vanished"]
ScopeChangeKind = Literal["new", "persisting", "unscanned", "cleared"]
KindChangeKind = Literal["unscanned", "unrecorded"]

EVALUATION_OPTIONS = tuple(f.name for f in dataclasses.fields(EvaluationOptions))


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
class KindChange:
    """A --resources kind A read that B did not (``unscanned``), or that B may not have
    read: B does not record its kinds and found nothing of this one (``unrecorded``)."""

    kind: KindChangeKind
    resource_kind: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """The resource kinds one scan is known to have read.

    ``recorded``: the scan stored its --resources (history v3). Otherwise only a kind with
    a finding or a resource count is known read; the rest are unknown, never "not there".
    """

    kinds: frozenset[str]
    types: frozenset[str]
    recorded: bool

    def covers(self, resource_type: str) -> bool:
        return resource_type in self.types


def coverage(scan: StoredScan) -> Coverage:
    types = {f.resource_type for f in scan.findings}
    for scope in scan.scopes:
        types.update(json.loads(scope.resources))
    recorded = scan.scan.kinds_read()
    kinds = set(recorded or ()) | {BY_TYPE[t].name for t in types if t in BY_TYPE}
    types.update(BY_NAME[k].resource_type for k in kinds if k in BY_NAME)
    return Coverage(frozenset(kinds), frozenset(types), recorded is not None)


@dataclass(frozen=True, slots=True)
class OptionChange:
    """An evaluation option that differs between A and B, or that a side did not record."""

    option: str
    before: JSONValue
    after: JSONValue
    a_recorded: bool = True
    b_recorded: bool = True

    def describe(self) -> str:
        a = json.dumps(self.before) if self.a_recorded else "not recorded"
        b = json.dumps(self.after) if self.b_recorded else "not recorded"
        return f"{self.option} A {a}, B {b}"


def option_changes(
    a: Mapping[str, JSONValue] | None, b: Mapping[str, JSONValue] | None
) -> tuple[OptionChange, ...]:
    """Options that differ, or may: an option a side did not record may have had any value."""
    names = dict.fromkeys([*(a or {}), *(b or {})])
    if a is None or b is None:
        names.update(dict.fromkeys(EVALUATION_OPTIONS))
    return tuple(
        OptionChange(
            name,
            (a or {}).get(name),
            (b or {}).get(name),
            a is not None and name in a,
            b is not None and name in b,
        )
        for name in names
        if a is None or b is None or name not in a or name not in b or a[name] != b[name]
    )


def _has_value(doc: JSONValue, key: str, value: str) -> bool:
    if isinstance(doc, dict):
        return doc.get(key) == value or any(_has_value(v, key, value) for v in doc.values())
    if isinstance(doc, list):
        return any(_has_value(v, key, value) for v in doc)
    return False


def _endpoint_disabled(row: FindingRow) -> bool:
    evidence: JSONValue = json.loads(row.evidence)
    return _has_value(evidence, "http_endpoint", "disabled")


# Which verdicts an option can move (rules/): --strict-amis only judges AMIs, and
# --imds-disabled only resources with a disabled metadata endpoint somewhere in them.
# An option not listed here might move any verdict.
_SENSITIVE: dict[str, Callable[[FindingRow], bool]] = {
    "strict_amis": lambda row: row.resource_type == AMIS.resource_type,
    "imds_disabled": _endpoint_disabled,
}


def could_rejudge(option: str, row: FindingRow) -> bool:
    sensitive = _SENSITIVE.get(option)
    return True if sensitive is None else sensitive(row)


@dataclass(frozen=True, slots=True)
class Drift:
    a: int
    b: int
    changes: tuple[ResourceChange, ...]
    scopes: tuple[ScopeChange, ...]
    still_failing: int
    kinds: tuple[KindChange, ...] = ()
    options: tuple[OptionChange, ...] = ()

    def of_kind(self, kind: ChangeKind) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def regressions(self) -> tuple[ResourceChange, ...]:
        return self.of_kind("new-failure")

    @property
    def rejudged_failures(self) -> tuple[ResourceChange, ...]:
        """FAIL in B, not in A, under different options: not called new, never silent."""
        return tuple(
            c for c in self.of_kind("re-judged") if c.after is not None and c.after.status == "FAIL"
        )

    @property
    def incomplete(self) -> bool:
        """B has a scope error, or left out a scope or a kind A covered: B cannot vouch
        for all of A."""
        return any(s.kind != "cleared" for s in self.scopes) or bool(self.kinds)

    def exit_code(self) -> int:
        """3 beats 1, as for `scan`: an incomplete comparison must never look clean."""
        if self.incomplete:
            return EXIT_INCOMPLETE
        if self.regressions or self.rejudged_failures:
            return EXIT_FINDINGS
        return EXIT_OK


@dataclass(frozen=True, slots=True)
class Sides:
    """What a resource's classification needs to know about the two scans."""

    b_scopes: dict[ScopeKey, ScopeRow]
    a_read: Coverage
    b_read: Coverage
    options: tuple[OptionChange, ...] = ()


def _governing_scope(
    scopes: dict[ScopeKey, ScopeRow], account: str, region: str
) -> ScopeRow | None:
    """The scope row that says whether B read (account, region): its own, or the account's."""
    return scopes.get((account, region)) or scopes.get((account, ALL_REGIONS))


def _not_read(read: Coverage, side: str) -> str:
    if read.recorded:
        return f"kind not scanned in {side}"
    return f"kind not recorded in {side} (stored before history v3)"


def resource_change(
    before: FindingRow | None, after: FindingRow | None, sides: Sides
) -> ResourceChange | None:
    """Classify one resource; None means no change worth reporting."""
    if after is not None:
        kind: ChangeKind
        if after.status == "FAIL" and (before is None or before.status != "FAIL"):
            kind = "new-failure"
        elif before is None:
            note = "" if sides.a_read.covers(after.resource_type) else _not_read(sides.a_read, "A")
            return ResourceChange("new", None, after, note)
        elif before.status == "FAIL" and after.status != "FAIL":
            kind = "fixed"
        else:
            return None
        if before is None:
            note = "" if sides.a_read.covers(after.resource_type) else _not_read(sides.a_read, "A")
            return ResourceChange(kind, None, after, note)
        causes = [
            o
            for o in sides.options
            if could_rejudge(o.option, before) or could_rejudge(o.option, after)
        ]
        if causes:
            note = "re-judged under different options: " + "; ".join(c.describe() for c in causes)
            return ResourceChange("re-judged", before, after, note)
        return ResourceChange(kind, before, after)
    assert before is not None
    if not sides.b_read.covers(before.resource_type):
        return ResourceChange("unknown", before, None, _not_read(sides.b_read, "B"))
    scope = _governing_scope(sides.b_scopes, before.account_id, before.region)
    if scope is None:
        return ResourceChange("unknown", before, None, "scope not scanned in B")
    if scope.error is not None:
        return ResourceChange("unknown", before, None, "scope error in B")
    return ResourceChange("vanished", before, None)


def kind_changes(a_read: Coverage, b_read: Coverage) -> tuple[KindChange, ...]:
    """Kinds A read that B is not known to have read, in --resources order."""
    order = list(RESOURCE_NAMES)
    missing = sorted(
        a_read.kinds - b_read.kinds, key=lambda k: (order.index(k) if k in order else len(order), k)
    )
    change: KindChangeKind = "unscanned" if b_read.recorded else "unrecorded"
    return tuple(KindChange(change, k) for k in missing)


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
    a_read, b_read = coverage(a), coverage(b)
    options = option_changes(a.scan.evaluation_options(), b.scan.evaluation_options())
    sides = Sides(b_scopes, a_read, b_read, options)
    changes = [
        change
        for key in sorted(before.keys() | after.keys())
        if (change := resource_change(before.get(key), after.get(key), sides)) is not None
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
        kind_changes(a_read, b_read),
        options,
    )
