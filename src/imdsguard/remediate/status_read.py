"""``imdsguard status``'s reads: each applied change's resource through its kind's applier,
and MetadataNoTokenRejected since each instance change. Scopes in parallel; reads only.

A read that fails makes its changes ``unreadable`` (or their rejections ``unknown``):
never "in place" (docs/rollout.md#status).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from imdsguard.aws.cloudwatch import get_rejections
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.remediation import Rejections
from imdsguard.model.scan import Scope
from imdsguard.remediate.appliers.interface import ScopeClients
from imdsguard.remediate.appliers.registry import applier_for
from imdsguard.remediate.status import (
    Applied,
    ChangeStatus,
    StatusResult,
    latest_per_resource,
    needs_rejections,
)

# How each scope is entered: the role given on the command line, else the journal's.
Entry = tuple[Scope, str | None]


def check_status(
    factory: SessionFactory,
    journals: Sequence[Path],
    applied: Sequence[Applied],
    *,
    role_name: str | None = None,
    external_id: str | None = None,
    max_scopes: int = 8,
) -> StatusResult:
    by_scope: dict[Entry, list[Applied]] = defaultdict(list)
    for entry in latest_per_resource(list(applied)):
        by_scope[(entry.change.scope, role_name or entry.role_name)].append(entry)
    with ThreadPoolExecutor(max_workers=max_scopes) as pool:
        futures = [
            pool.submit(_scope, factory, scope, role, external_id, entries)
            for (scope, role), entries in sorted(by_scope.items(), key=lambda i: i[0][0])
        ]
        rows = [row for future in futures for row in future.result()]
    return StatusResult(tuple(journals), datetime.now(UTC), tuple(rows))


def _scope(
    factory: SessionFactory,
    scope: Scope,
    role_name: str | None,
    external_id: str | None,
    entries: list[Applied],
) -> list[ChangeStatus]:
    unfinished = [
        ChangeStatus(
            e,
            "unfinished",
            f"the run stopped after journaling this change: apply --resume {e.journal}",
        )
        for e in entries
        if not e.finished
    ]
    done = [e for e in entries if e.finished]
    if not done:
        return unfinished
    try:
        access = account_access(factory, scope.account_id, role_name, external_id)
        clients = ScopeClients(scope.region, factory.ec2(access, scope.region))
    except AwsError as exc:
        return unfinished + [
            ChangeStatus(e, "unreadable", f"cannot enter account: {exc}") for e in done
        ]
    rows = _standings(clients, done)
    rejections = _rejections(
        factory, access, scope.region, [e for e in done if needs_rejections(e)]
    )
    return unfinished + [
        ChangeStatus(r.applied, r.status, r.now, rejections.get(r.applied.change.key)) for r in rows
    ]


def _standings(clients: ScopeClients, entries: list[Applied]) -> list[ChangeStatus]:
    by_kind: dict[str, list[Applied]] = defaultdict(list)
    for entry in entries:
        by_kind[entry.change.kind].append(entry)
    rows: list[ChangeStatus] = []
    for kind, items in sorted(by_kind.items()):
        try:
            present = applier_for(kind).present(clients, [e.change for e in items])
        except AwsError as exc:
            rows.extend(ChangeStatus(e, "unreadable", str(exc)) for e in items)
            continue
        for e in items:
            found = present[e.change.key]
            rows.append(ChangeStatus(e, found.standing, found.now))
    return rows


def _rejections(
    factory: SessionFactory, access: AccountAccess, region: str, entries: list[Applied]
) -> dict[str, Rejections]:
    """By change key; every instance of the scope ``unknown`` if CloudWatch cannot be read."""
    if not entries:
        return {}
    since = {e.change.resource_id: e.since for e in entries}
    try:
        seen = get_rejections(factory.cloudwatch(access, region), since)
    except AwsError as exc:
        return {e.change.key: Rejections("unknown", error=str(exc)) for e in entries}
    return {e.change.key: seen[e.change.resource_id] for e in entries}
