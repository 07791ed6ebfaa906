"""PURE drift semantics: parameter tables over two stored scans, no database at all."""

from __future__ import annotations

import pytest

from imdsguard.history.diff import Drift, diff
from imdsguard.history.rows import FindingRow, ScanRow, ScopeRow, StoredScan
from imdsguard.model import ALL_REGIONS

ACCOUNT = "111111111111"
REGION = "eu-west-1"
OK = "ok"
ERROR = "error"
ACCOUNT_ERROR = "account-error"
ABSENT = "absent"


def finding(status: str, resource_id: str = "i-1", region: str = REGION) -> FindingRow:
    reason = {"PASS": "tokens-required", "FAIL": "tokens-optional", "INFO": "note"}[status]
    return FindingRow(ACCOUNT, region, "AwsEc2Instance", resource_id, "web", status, reason, "{}")


def scope(state: str, region: str = REGION) -> tuple[ScopeRow, ...]:
    """The scope rows a scan has for ``region`` in the given state."""
    if state == OK:
        return (ScopeRow(ACCOUNT, region, "ok", None),)
    if state == ERROR:
        return (ScopeRow(ACCOUNT, region, "error", "AccessDenied"),)
    if state == ACCOUNT_ERROR:
        return (ScopeRow(ACCOUNT, ALL_REGIONS, "error", "AssumeRole failed"),)
    return ()


def stored(
    scan_id: int, scopes: tuple[ScopeRow, ...], findings: tuple[FindingRow, ...]
) -> StoredScan:
    head = ScanRow("2026-01-01T00:00:00+00:00", "0.1.0", "own account", 0, 0, 0, 0)
    return StoredScan(scan_id, head, scopes, findings)


def one_resource(before: str | None, after: str | None, b_scope: str = OK) -> Drift:
    a = stored(1, scope(OK), (finding(before),) if before else ())
    b = stored(2, scope(b_scope), (finding(after),) if after else ())
    return diff(a, b)


@pytest.mark.parametrize(
    ("before", "after", "b_scope", "kind"),
    [
        ("PASS", "FAIL", OK, "new-failure"),
        ("INFO", "FAIL", OK, "new-failure"),
        (None, "FAIL", OK, "new-failure"),
        # A partial read still saw the resource: its verdict counts.
        ("PASS", "FAIL", ERROR, "new-failure"),
        ("FAIL", "PASS", OK, "fixed"),
        ("FAIL", "INFO", OK, "fixed"),
        (None, "PASS", OK, "new"),
        (None, "INFO", OK, "new"),
        ("PASS", None, OK, "vanished"),
        ("FAIL", None, OK, "vanished"),
        # Fail-closed: gone from an unread scope is unknown, never vanished.
        ("FAIL", None, ERROR, "unknown"),
        ("PASS", None, ERROR, "unknown"),
        ("FAIL", None, ACCOUNT_ERROR, "unknown"),
        ("PASS", None, ABSENT, "unknown"),
    ],
)
def test_resource_change_kind(
    before: str | None, after: str | None, b_scope: str, kind: str
) -> None:
    drift = one_resource(before, after, b_scope)
    assert [c.kind for c in drift.changes] == [kind]


@pytest.mark.parametrize(
    ("before", "after"),
    [("PASS", "PASS"), ("FAIL", "FAIL"), ("INFO", "INFO"), ("PASS", "INFO"), ("INFO", "PASS")],
)
def test_unchanged_standing_is_not_a_change(before: str, after: str) -> None:
    drift = one_resource(before, after)
    assert drift.changes == ()
    assert drift.still_failing == (1 if before == after == "FAIL" else 0)


@pytest.mark.parametrize(
    ("b_scope", "note"),
    [(ERROR, "scope error in B"), (ACCOUNT_ERROR, "scope error in B"), (ABSENT, "not scanned")],
)
def test_unknown_says_why(b_scope: str, note: str) -> None:
    [change] = one_resource("FAIL", None, b_scope).changes
    assert note in change.note
    assert change.before == finding("FAIL")


@pytest.mark.parametrize(
    ("a_scope", "b_scope", "kinds"),
    [
        (OK, OK, []),
        (OK, ERROR, ["new"]),
        (ABSENT, ERROR, ["new"]),
        (ERROR, ERROR, ["persisting"]),
        (ERROR, OK, ["cleared"]),
        (OK, ABSENT, ["unscanned"]),
        (ERROR, ABSENT, ["unscanned"]),
        (ACCOUNT_ERROR, ACCOUNT_ERROR, ["persisting"]),
        (ACCOUNT_ERROR, OK, ["cleared"]),
        (ACCOUNT_ERROR, ABSENT, ["unscanned"]),
        # The account-level error in B is the one row; its Regions do not repeat it.
        (OK, ACCOUNT_ERROR, ["new"]),
        # Not "cleared": B never read the Region, the account itself failed.
        (ERROR, ACCOUNT_ERROR, ["new"]),
    ],
)
def test_scope_change_kind(a_scope: str, b_scope: str, kinds: list[str]) -> None:
    drift = diff(stored(1, scope(a_scope), ()), stored(2, scope(b_scope), ()))
    assert [s.kind for s in drift.scopes] == kinds


@pytest.mark.parametrize(
    ("before", "after", "b_scope", "code"),
    [
        ("PASS", "PASS", OK, 0),
        ("FAIL", "PASS", OK, 0),
        ("FAIL", "FAIL", OK, 0),
        ("PASS", None, OK, 0),
        ("PASS", "FAIL", OK, 1),
        (None, "FAIL", OK, 1),
        ("PASS", "PASS", ERROR, 3),
        ("PASS", "FAIL", ERROR, 3),
        ("PASS", None, ABSENT, 3),
    ],
)
def test_exit_code(before: str | None, after: str | None, b_scope: str, code: int) -> None:
    assert one_resource(before, after, b_scope).exit_code() == code


def test_changes_are_keyed_by_account_region_type_and_id() -> None:
    a = stored(1, scope(OK) + scope(OK, "us-east-1"), (finding("PASS"), finding("FAIL", "i-2")))
    b = stored(
        2,
        scope(OK) + scope(OK, "us-east-1"),
        (finding("FAIL"), finding("PASS", "i-2"), finding("FAIL", "i-2", "us-east-1")),
    )
    drift = diff(a, b)
    assert [(c.kind, c.row.region, c.row.resource_id) for c in drift.changes] == [
        ("new-failure", REGION, "i-1"),
        ("fixed", REGION, "i-2"),
        ("new-failure", "us-east-1", "i-2"),
    ]
    assert [c.row.resource_id for c in drift.regressions] == ["i-1", "i-2"]


def test_scope_changes_list_new_errors_first() -> None:
    a = stored(1, scope(ERROR, "a-region") + scope(OK, "b-region") + scope(OK, "c-region"), ())
    b = stored(2, scope(OK, "a-region") + scope(ERROR, "b-region"), ())
    assert [(s.kind, s.region) for s in diff(a, b).scopes] == [
        ("new", "b-region"),
        ("unscanned", "c-region"),
        ("cleared", "a-region"),
    ]
