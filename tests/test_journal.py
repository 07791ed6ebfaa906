"""The journal's durability contract: torn last lines tolerated, corrupt lines reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imdsguard.errors import UsageError
from imdsguard.model.remediation import Change, Plan
from imdsguard.model.scan import JSONValue, MetadataOptions, Scope
from imdsguard.plan.planfile import change_json, plan_json
from imdsguard.remediate.journal import Journal, default_path, read_records
from tests.conftest import CliResult

CHANGE = Change(
    "instance",
    Scope("111111111111", "eu-west-1"),
    "i-1",
    MetadataOptions(hop_limit=3),
    MetadataOptions(http_tokens="required", hop_limit=3),
)
PLAN = Plan(datetime(2026, 11, 30, tzinfo=UTC), 14, (CHANGE,))


def _journal(tmp_path: Path) -> Path:
    path = tmp_path / "nested" / "j.jsonl"
    journal = Journal.create(path, PLAN)
    journal.append("intent", key=CHANGE.key, change=change_json(CHANGE))
    journal.append("outcome", key=CHANGE.key, outcome="applied", reason="", observed=None)
    journal.close()
    return path


def test_replay_rebuilds_plan_intents_and_outcomes(tmp_path: Path) -> None:
    journal, state = Journal.reopen(_journal(tmp_path))
    journal.close()
    assert state.plan.changes == (CHANGE,)
    assert state.intents == {CHANGE.key: CHANGE}
    assert state.outcomes == {CHANGE.key: ("applied", "")}


@pytest.mark.parametrize("tail", ['{"type": "outcome", "key', '{"type": "scope"}'])
def test_torn_last_line_is_dropped_and_truncated_before_appending(
    tmp_path: Path, tail: str
) -> None:
    path = _journal(tmp_path)
    with path.open("a") as handle:
        handle.write(tail)  # no newline: the write never completed
    journal, state = Journal.reopen(path)
    journal.append("rollback-intent", key=CHANGE.key)
    journal.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert json.loads(lines[-1])["type"] == "rollback-intent"
    assert state.outcomes == {CHANGE.key: ("applied", "")}


@pytest.mark.parametrize("record_type", [["intent"], {"t": 1}, None, 3])
def test_a_record_whose_type_is_not_a_string_is_corrupt(
    tmp_path: Path, record_type: JSONValue
) -> None:
    """Every reader (apply --resume, rollback, status) refuses it as damage, exit 2,
    rather than failing on it later (status filtered record types with ``in``)."""
    path = _journal(tmp_path)
    lines = path.read_text().splitlines()
    lines.insert(1, json.dumps({"type": record_type, "at": "2026-12-01T00:00:00+00:00"}))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=r"line 2 is corrupt"):
        read_records(path)


def test_corrupt_line_in_the_middle_is_reported_with_its_number(tmp_path: Path) -> None:
    path = _journal(tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:20]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=r"line 2 is corrupt"):
        Journal.reopen(path)


def test_not_a_journal_and_existing_journal_are_usage_errors(tmp_path: Path) -> None:
    other = tmp_path / "x.jsonl"
    other.write_text('{"type": "outcome"}\n')
    with pytest.raises(UsageError, match="no header"):
        Journal.reopen(other)
    path = _journal(tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        Journal.create(path, PLAN)


def test_default_path_lives_under_the_xdg_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/state")
    path = default_path(datetime(2026, 11, 30, 18, 5, tzinfo=UTC))
    assert str(path).startswith("/state/imdsguard/journals/apply-20261130T180500Z-")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", "/home/u")
    assert str(default_path()).startswith("/home/u/.local/state/imdsguard/journals/")


def test_a_journal_has_one_writer_at_a_time(tmp_path: Path) -> None:
    path = _journal(tmp_path)
    first, _ = Journal.reopen(path)
    with pytest.raises(UsageError, match="in use by another imdsguard run"):
        Journal.reopen(path)
    first.close()
    second, _ = Journal.reopen(path)
    second.close()


def test_a_well_formed_line_missing_fields_is_reported_too(tmp_path: Path) -> None:
    path = _journal(tmp_path)
    with path.open("a") as handle:
        handle.write('{"type": "intent", "key": "x"}\n{"type": "outcome", "key": "y"}\n')
    with pytest.raises(UsageError, match=r"line 4 is corrupt"):
        Journal.reopen(path)


@pytest.mark.parametrize(
    ("records", "settled"),
    [
        ([], ("applied", "earlier run")),
        (
            [("rollback-outcome", {"outcome": "restored", "reason": ""})],
            ("skipped", "rolled-back (restored)"),
        ),
        (
            [("rollback-outcome", {"outcome": "failed", "reason": "throttled"})],
            ("skipped", "rolled-back (failed: throttled)"),
        ),
        (
            [("rollback-intent", {})],  # killed mid-rollback
            ("skipped", "rolled-back (interrupted: run rollback again)"),
        ),
        (
            # a later apply record is newer than the rollback
            [
                ("rollback-outcome", {"outcome": "restored", "reason": ""}),
                ("outcome", {"outcome": "failed", "reason": "x", "observed": None}),
            ],
            None,
        ),
    ],
)
def test_resume_settles_by_the_latest_record(
    tmp_path: Path, records: list[tuple[str, dict[str, str | None]]], settled: object
) -> None:
    path = _journal(tmp_path)
    journal, _ = Journal.reopen(path)
    for record_type, fields in records:
        journal.append(record_type, key=CHANGE.key, **fields)
    journal.close()
    journal, state = Journal.reopen(path)
    journal.close()
    assert state.settled(CHANGE.key) == settled


# --- what a crash can leave, and what it cannot ----------------------------------------


@pytest.mark.parametrize("content", [b"", b'{"type": "header", "v": 1, "pl'])
def test_a_journal_killed_before_its_header_changed_nothing(
    content: bytes, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(content)
    rollback = cli("rollback", str(path), "--endpoint-url", "http://127.0.0.1:9")
    assert rollback.code == 0, rollback.err
    assert "nothing was changed; nothing to roll back" in rollback.err
    resume = cli("apply", "--resume", str(path), "--endpoint-url", "http://127.0.0.1:9")
    assert resume.code == 2
    [line] = resume.err.strip().splitlines()
    assert "nothing was changed; start the run again: imdsguard apply PLAN --journal" in line


def test_apply_journal_over_a_file_left_empty_proceeds(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"")
    Journal.create(path, PLAN).close()
    journal, state = Journal.reopen(path)
    journal.close()
    assert state.plan == PLAN


def test_a_skipped_change_needs_no_intent(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal.create(path, PLAN)
    journal.append("outcome", key=CHANGE.key, outcome="skipped", reason="already compliant")
    journal.close()
    journal, state = Journal.reopen(path)
    journal.close()
    assert state.outcomes == {CHANGE.key: ("skipped", "already compliant")}


def test_an_applied_change_without_its_intent_is_damage_a_crash_cannot_cause(
    tmp_path: Path,
) -> None:
    path = _journal(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])  # the intent line is gone
    with pytest.raises(
        UsageError, match=r"damaged .*no intent record for 111111111111/eu-west-1/instance/i-1"
    ):
        Journal.reopen(path)


def test_rollback_of_a_damaged_journal_names_what_it_cannot_account_for(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    path = _journal(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])
    result = cli("rollback", str(path), "--endpoint-url", "http://127.0.0.1:9")
    assert result.code != 0
    assert CHANGE.key in result.err
    assert "cannot be accounted for" in result.err


def test_one_plan_is_applied_by_one_run_whatever_the_journal(tmp_path: Path) -> None:
    first = Journal.create(tmp_path / "a.jsonl", PLAN)
    try:
        with pytest.raises(UsageError, match=r"another imdsguard run .*a\.jsonl"):
            Journal.create(tmp_path / "b.jsonl", PLAN)
        with pytest.raises(UsageError, match="another imdsguard run"):
            Journal.reopen(_journal_of(tmp_path / "c.jsonl"))
    finally:
        first.close()
    # Released with the run: the plan can be applied again.
    Journal.create(tmp_path / "d.jsonl", PLAN).close()
    # A different plan was never blocked.
    other = Plan(datetime(2026, 12, 1, tzinfo=UTC), 14, (CHANGE,))
    Journal.create(tmp_path / "e.jsonl", other).close()


def _journal_of(path: Path) -> Path:
    """A finished journal of PLAN at ``path``, written without holding the run lock."""
    path.write_text(
        json.dumps({"type": "header", "v": 1, "plan": plan_json(PLAN), "at": "x"}) + "\n"
    )
    return path
