"""Property-based fuzzing of what imdsguard reads from files: only clean errors.

Whatever a plan file or a TOML config holds, reading it gives a value or a UsageError
(exit 2, one line), never another exception. And a config that is accepted never leads
to a plan file that apply then refuses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdsguard.commands.remediation_args import CONFIG_KEYS, plan_options
from imdsguard.errors import UsageError
from imdsguard.model.kinds import ACCOUNT_DEFAULTS, INSTANCES, RESOURCE_NAMES
from imdsguard.model.remediation import Change, Plan
from imdsguard.model.scan import MetadataOptions, Scope
from imdsguard.plan import planfile
from tests.test_bad_input import valid_plan

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["optional", "required", "enabled", "no-preference", "instance"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``doc`` a value can be replaced or removed."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out.extend(paths(value, (*prefix, index)))
    return out


PLAN_PATHS = paths(valid_plan())


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(PLAN_PATHS), st.one_of(st.just("<delete>"), json_values)),
        min_size=1,
        max_size=4,
    )
)
def test_any_edit_of_a_plan_reads_or_is_a_usage_error(edits: list[tuple[Any, Any]]) -> None:
    doc = valid_plan()
    for path, value in edits:
        node: Any = doc
        try:
            for part in path[:-1]:
                node = node[part]
            if value == "<delete>":
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this place
    try:
        plan = planfile.plan_from_json(doc)
    except UsageError:
        return
    # What was accepted is a plan apply can work with: it writes and reads back the same.
    assert planfile.plan_from_json(json.loads(planfile.dumps(plan))) == plan


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_a_plan_file_read_or_are_a_usage_error(raw: bytes, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(raw)
    with contextlib.suppress(UsageError):
        planfile.load(str(path))


# TOML values of every type TOML has, spelled as a user might write them.
toml_values = st.sampled_from(
    [
        "14", "0", "-3", "455", "456", "2", "64", "65", "1e400", "inf", "nan", "-inf", "2.5",
        "14.0", "true", "false", '"14"', '"false"', '"i-0123456789abcdef0"', "2026-12-01",
        "2026-12-01T10:00:00Z", "[]", '["i-0123456789abcdef0"]', '["i-1"]', "[1, 2]",
        '["owner=db"]', '["owner"]', '{owner = "db"}', "{owner = 1}", "[[1], [2]]",
        '"\\u00ff"', "0x10", "1_000",
    ]
)  # fmt: skip
keys = st.sampled_from(sorted(CONFIG_KEYS | {"lookback-days", "unknown_key"}))


def namespace(config: str) -> argparse.Namespace:
    return argparse.Namespace(
        config=config,
        exclude_tag=None,
        exclude_ids=None,
        lookback_days=None,
        include_in_use=None,
        include_unknown=None,
        hop_limit=None,
        container_hop_limit=None,
        resources=RESOURCE_NAMES,
        strict_amis=False,
        enforce=False,
        amis=False,
    )


@FUZZ
@given(entries=st.dictionaries(keys, toml_values, max_size=4), junk=st.binary(max_size=8))
def test_any_config_gives_options_or_a_usage_error(
    entries: dict[str, str], junk: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    text = "".join(f"{key} = {value}\n" for key, value in entries.items())
    path.write_bytes(text.encode() + (b"# " + junk if junk else b""))
    try:
        options = plan_options(namespace(str(path)))
    except UsageError:
        return
    assert isinstance(options.lookback_days, int)
    assert not isinstance(options.lookback_days, bool)
    assert math.isfinite(options.lookback_days)
    # An accepted config never makes a plan file that apply then refuses.
    after = MetadataOptions(http_tokens="required", hop_limit=options.hop_limit or 1)
    changes = tuple(
        Change(kind, Scope("123456789012", "eu-west-1"), f"r-{kind}", MetadataOptions(), after)
        for kind in (INSTANCES.plan_kind, ACCOUNT_DEFAULTS.plan_kind)
    )
    plan = Plan(datetime(2026, 12, 1, tzinfo=UTC), options.lookback_days, changes)
    assert planfile.plan_from_json(json.loads(planfile.dumps(plan))) == replace(plan)


# --- journals ----------------------------------------------------------------------------


def journal_lines() -> list[bytes]:
    from imdsguard.plan.planfile import change_json, plan_json

    doc = valid_plan()
    plan = planfile.plan_from_json(doc)
    [change] = plan.changes
    records: list[dict[str, Any]] = [
        {"type": "header", "v": 1, "run": "apply", "plan": plan_json(plan)},
        {"type": "intent", "key": change.key, "change": change_json(change)},
        {"type": "outcome", "key": change.key, "outcome": "applied", "reason": ""},
        {"type": "rollback-intent", "key": change.key},
        {"type": "rollback-outcome", "key": change.key, "outcome": "restored"},
        {"type": "scope", "account_id": "123456789012", "region": "eu-west-1", "error": "x"},
    ]
    return [json.dumps({**r, "at": "2026-12-01T00:00:00+00:00"}).encode() for r in records]


JOURNAL = journal_lines()


@FUZZ
@given(
    keep=st.lists(st.integers(min_value=0, max_value=len(JOURNAL) - 1), max_size=8),
    noise=st.lists(st.tuples(st.integers(min_value=0, max_value=7), json_values), max_size=2),
    cut=st.integers(min_value=0, max_value=400),
    junk=st.binary(max_size=16),
)
def test_any_damaged_journal_reads_or_is_a_usage_error(
    keep: list[int],
    noise: list[tuple[int, Any]],
    cut: int,
    junk: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from imdsguard.remediate.journal import Journal

    lines = [JOURNAL[i] for i in keep]
    for index, value in noise:
        lines.insert(min(index, len(lines)), json.dumps(value).encode())
    data = b"\n".join(lines) + b"\n"
    data = data[: len(data) - cut] + junk if cut or junk else data
    path = tmp_path_factory.mktemp("j") / "j.jsonl"
    path.write_bytes(data)
    try:
        journal, state = Journal.reopen(path)
    except UsageError:
        return
    journal.close()
    # What was accepted is consistent: what was applied or rolled back has its intent.
    applied = {key for key, (outcome, _) in state.outcomes.items() if outcome == "applied"}
    assert applied <= set(state.intents)
    assert set(state.rolled_back) <= set(state.intents)
