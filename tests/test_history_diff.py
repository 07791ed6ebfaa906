"""PURE drift semantics: parameter tables over two stored scans, no database at all."""

from __future__ import annotations

import json

import pytest

from imdsguard.history.diff import Drift, diff, option_changes
from imdsguard.history.rows import FindingRow, ScanRow, ScopeRow, StoredScan
from imdsguard.model.scan import ALL_REGIONS, JSONValue

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


DEFAULTS: dict[str, JSONValue] = {"imds_disabled": "pass", "strict_amis": False}
UNRECORDED = None


def stored(
    scan_id: int,
    scopes: tuple[ScopeRow, ...],
    findings: tuple[FindingRow, ...],
    kinds: tuple[str, ...] | None = ("instances",),
    evaluation: dict[str, JSONValue] | None = DEFAULTS,
) -> StoredScan:
    """A scan as history v3 stores it; ``None`` kinds or evaluation: a pre-v3 scan."""
    head = ScanRow(
        "2026-01-01T00:00:00+00:00",
        "0.1.0",
        "own account",
        0,
        0,
        0,
        0,
        None if kinds is None else json.dumps(list(kinds)),
        None if evaluation is None else json.dumps(evaluation),
    )
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


INSTANCE = "AwsEc2Instance"
TEMPLATE = "AwsEc2LaunchTemplate"
IMAGE = "AwsEc2Image"
ENDPOINT_OFF: dict[str, JSONValue] = {"http_endpoint": "disabled", "http_tokens": "optional"}
TEMPLATE_OFF: dict[str, JSONValue] = {"versions": [{"version": 1, **ENDPOINT_OFF}]}


def row(
    resource_type: str,
    status: str,
    evidence: dict[str, JSONValue] | None = None,
    resource_id: str = "r-1",
) -> FindingRow:
    return FindingRow(
        ACCOUNT,
        REGION,
        resource_type,
        resource_id,
        None,
        status,
        "reason",
        json.dumps(evidence or {}, sort_keys=True, separators=(",", ":")),
    )


BOTH = ("instances", "launch-templates")
PRE_V3_B = "kind not recorded in B (stored before history v3)"


UNSCANNED_LT = [("unscanned", "launch-templates")]
UNRECORDED_LT = [("unrecorded", "launch-templates")]
NOT_IN_B = "kind not scanned in B"


@pytest.mark.parametrize(
    ("a_kinds", "b_kinds", "b_extra", "expected"),
    [
        # The reviewer's repro: B ran --resources instances; the template is not "vanished".
        (BOTH, ("instances",), (), ("unknown", NOT_IN_B, UNSCANNED_LT, 3)),
        (BOTH, BOTH, (), ("vanished", "", [], 0)),
        # A scan stored before v3 records no kinds: only what it found proves it read a kind.
        (BOTH, UNRECORDED, (),
         ("unknown", PRE_V3_B, [("unrecorded", "instances"), *UNRECORDED_LT], 3)),
        (BOTH, UNRECORDED, (row(TEMPLATE, "PASS", resource_id="lt-2"),
                            row(INSTANCE, "PASS", resource_id="i-9")),
         ("vanished", "", [], 0)),
        (UNRECORDED, ("instances",), (), ("unknown", NOT_IN_B, UNSCANNED_LT, 3)),
        (UNRECORDED, UNRECORDED, (), ("unknown", PRE_V3_B, UNRECORDED_LT, 3)),
    ],
)  # fmt: skip
def test_a_kind_b_did_not_read_is_unknown_never_vanished(
    a_kinds: tuple[str, ...] | None,
    b_kinds: tuple[str, ...] | None,
    b_extra: tuple[FindingRow, ...],
    expected: tuple[str, str, list[tuple[str, str]], int],
) -> None:
    kind, note, coverage, code = expected
    a = stored(1, scope(OK), (row(TEMPLATE, "FAIL"),), a_kinds)
    b = stored(2, scope(OK), b_extra, b_kinds)
    drift = diff(a, b)
    [change] = [c for c in drift.changes if c.row.resource_id == "r-1"]
    assert (change.kind, change.note) == (kind, note)
    assert [(k.kind, k.resource_kind) for k in drift.kinds] == coverage
    assert drift.incomplete is bool(coverage)
    assert drift.exit_code() == code


def test_a_kind_only_b_read_is_new_with_a_note() -> None:
    a = stored(1, scope(OK), (), ("instances",))
    b = stored(2, scope(OK), (row(TEMPLATE, "FAIL"),), BOTH)
    drift = diff(a, b)
    [change] = drift.changes
    # Still a new failure (fail closed), but the diff says why it was not seen before.
    assert (change.kind, change.note) == ("new-failure", "kind not scanned in A")
    assert drift.kinds == ()
    assert drift.exit_code() == 1


STRICT: dict[str, JSONValue] = {**DEFAULTS, "strict_amis": True}
DISABLED_FAILS: dict[str, JSONValue] = {**DEFAULTS, "imds_disabled": "fail"}


@pytest.mark.parametrize(
    ("before", "after", "evaluation", "expected"),
    [
        # --strict-amis on A, not on B: FAIL -> INFO is a re-judgement, not a fix.
        (row(IMAGE, "FAIL"), row(IMAGE, "INFO"), (STRICT, DEFAULTS), ("re-judged", 0)),
        # ... and the other way round it is not a new failure either, but it still exits 1.
        (row(IMAGE, "INFO"), row(IMAGE, "FAIL"), (DEFAULTS, STRICT), ("re-judged", 1)),
        (row(INSTANCE, "FAIL", ENDPOINT_OFF), row(INSTANCE, "PASS", ENDPOINT_OFF),
         (DISABLED_FAILS, DEFAULTS), ("re-judged", 0)),
        (row(INSTANCE, "PASS", ENDPOINT_OFF), row(INSTANCE, "FAIL", ENDPOINT_OFF),
         (DEFAULTS, DISABLED_FAILS), ("re-judged", 1)),
        (row(TEMPLATE, "FAIL", TEMPLATE_OFF), row(TEMPLATE, "PASS", TEMPLATE_OFF),
         (DISABLED_FAILS, DEFAULTS), ("re-judged", 0)),
        # An option that cannot move this verdict leaves a real fix a fix.
        (row(INSTANCE, "FAIL"), row(INSTANCE, "PASS"), (DISABLED_FAILS, DEFAULTS), ("fixed", 0)),
        (row(INSTANCE, "FAIL", ENDPOINT_OFF), row(INSTANCE, "PASS", ENDPOINT_OFF),
         (STRICT, DEFAULTS), ("fixed", 0)),
        (row(IMAGE, "PASS"), row(IMAGE, "FAIL"), (DEFAULTS, DEFAULTS), ("new-failure", 1)),
        # Options not recorded (a scan stored before v3) may have been anything.
        (row(IMAGE, "FAIL"), row(IMAGE, "INFO"), (UNRECORDED, DEFAULTS), ("re-judged", 0)),
        (row(IMAGE, "FAIL"), row(IMAGE, "INFO"), (UNRECORDED, UNRECORDED), ("re-judged", 0)),
        (row(INSTANCE, "FAIL"), row(INSTANCE, "PASS"), (UNRECORDED, DEFAULTS), ("fixed", 0)),
    ],
)  # fmt: skip
def test_verdicts_moved_by_different_options_are_re_judged(
    before: FindingRow,
    after: FindingRow,
    evaluation: tuple[dict[str, JSONValue] | None, dict[str, JSONValue] | None],
    expected: tuple[str, int],
) -> None:
    kind, code = expected
    kinds = ("instances", "launch-templates", "amis")
    a = stored(1, scope(OK), (before,), kinds, evaluation[0])
    b = stored(2, scope(OK), (after,), kinds, evaluation[1])
    drift = diff(a, b)
    [change] = drift.changes
    assert change.kind == kind
    if kind == "re-judged":
        assert change.note.startswith("re-judged under different options: ")
    assert bool(drift.regressions) is (kind == "new-failure")
    assert drift.exit_code() == code


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (DEFAULTS, DEFAULTS, []),
        (STRICT, DEFAULTS, ["strict_amis A true, B false"]),
        (DISABLED_FAILS, STRICT, ['imds_disabled A "fail", B "pass"',
                                  "strict_amis A false, B true"]),
        (UNRECORDED, DEFAULTS, ['imds_disabled A not recorded, B "pass"',
                                "strict_amis A not recorded, B false"]),
        (UNRECORDED, UNRECORDED, ["imds_disabled A not recorded, B not recorded",
                                  "strict_amis A not recorded, B not recorded"]),
    ],
)  # fmt: skip
def test_option_changes(
    a: dict[str, JSONValue] | None, b: dict[str, JSONValue] | None, expected: list[str]
) -> None:
    assert [o.describe() for o in option_changes(a, b)] == expected
    drift = diff(stored(1, scope(OK), (), evaluation=a), stored(2, scope(OK), (), evaluation=b))
    assert [o.describe() for o in drift.options] == expected
