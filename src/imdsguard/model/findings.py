"""A scan's findings as a re-iterable stream, with counts kept as it was filled.

A fleet's findings need not fit in memory (docs/reports.md#large-fleets): every report
iterates the stream, possibly several times, and reads its counts from the tally, which is
kept per account, Region, resource type and status while the stream is written. Each
iteration yields the findings in the same order: for a scan, report order (by scope,
resource type and resource id, ties in the order they were judged).

``imdsguard.spill`` keeps a scan's on disk, sorted; ``FindingList`` holds findings in
memory in the order given (tests and small results; a test may give any order it likes).
``only`` narrows either to some statuses, types or one scope without copying, and the
narrowed view's counts come from the same tally.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from imdsguard.model.scan import Finding, Scope, Status

# (account_id, region, resource_type, status) -> findings
TallyKey = tuple[str, str, str, Status]


def tally_key(f: Finding) -> TallyKey:
    return (f.scope.account_id, f.scope.region, f.resource_type, f.status)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which findings a view shows; None = no restriction on that field."""

    statuses: frozenset[str] | None = None
    types: frozenset[str] | None = None
    scope: Scope | None = None

    def admits(self, account: str, region: str, resource_type: str, status: str) -> bool:
        return (
            (self.statuses is None or status in self.statuses)
            and (self.types is None or resource_type in self.types)
            and (self.scope is None or Scope(account, region) == self.scope)
        )

    def narrowed(
        self,
        statuses: Collection[str] | None,
        types: Collection[str] | None,
        scope: Scope | None,
    ) -> Selection:
        def both(mine: frozenset[str] | None, new: Collection[str] | None) -> frozenset[str] | None:
            if new is None:
                return mine
            return frozenset(new) if mine is None else mine & frozenset(new)

        if scope is not None and self.scope is not None and scope != self.scope:
            # Two different scopes admit nothing: an empty status set says so.
            return Selection(frozenset(), self.types, self.scope)
        return Selection(
            both(self.statuses, statuses), both(self.types, types), scope or self.scope
        )


ALL = Selection()


class Findings(ABC):
    """The findings of one scan (or a view of them), in report order, iterable any number
    of times; ``len`` and ``tally`` never iterate."""

    def __init__(self, tally: Mapping[TallyKey, int], selection: Selection = ALL) -> None:
        self._all_tally = tally
        # By scope too: an organization has thousands of scopes, and a view of one (junit's
        # suites, Security Hub's batches) must not count through all of them.
        self._by_scope: dict[Scope, dict[TallyKey, int]] = {}
        for key, n in tally.items():
            self._by_scope.setdefault(Scope(key[0], key[1]), {})[key] = n
        self.selection = selection

    @abstractmethod
    def __iter__(self) -> Iterator[Finding]: ...

    @property
    def tally(self) -> dict[TallyKey, int]:
        """Counts per (account, Region, resource type, status) of what this view shows."""
        scope = self.selection.scope
        counts = self._all_tally if scope is None else self._by_scope.get(scope, {})
        return {k: n for k, n in counts.items() if n and self.selection.admits(*k)}

    def __len__(self) -> int:
        return sum(self.tally.values())

    def statuses(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (_, _, _, status), n in self.tally.items():
            counts[status] += n
        return counts

    def per_scope(self) -> dict[tuple[str, str], Counter[str]]:
        """Status counts per (account, Region), in sorted order."""
        out: dict[tuple[str, str], Counter[str]] = {}
        for (account, region, _, status), n in sorted(self.tally.items()):
            out.setdefault((account, region), Counter())[status] += n
        return out

    def resource_types(self) -> list[str]:
        """The resource types present, sorted."""
        return sorted({rtype for (_, _, rtype, _) in self.tally})

    def only(
        self,
        statuses: Collection[str] | None = None,
        types: Collection[str] | None = None,
        scope: Scope | None = None,
    ) -> Findings:
        """The findings with one of ``statuses``, of one of ``types``, in ``scope``."""
        view = copy.copy(self)
        view.selection = self.selection.narrowed(statuses, types, scope)
        return view

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Findings):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} findings)"


def _tally(findings: Iterable[Finding]) -> Counter[TallyKey]:
    return Counter(tally_key(f) for f in findings)


class FindingList(Findings):
    """Findings in memory, in the order given."""

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        items = tuple(findings)
        super().__init__(_tally(items))
        self._items = items

    def __iter__(self) -> Iterator[Finding]:
        if self.selection == ALL:
            return iter(self._items)
        return (f for f in self._items if self.selection.admits(*tally_key(f)))
