"""CLI contracts of plan/apply/rollback: config file, plan file round trip, bad input."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.plan.planfile import load
from tests.conftest import OWN_ACCOUNT, CliResult, seed
from tests.remediation_helpers import options_of

REGION = "us-east-2"


def test_config_file_exempts_by_tag_and_id_and_flags_add_to_it(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    tagged = seed(factory, REGION, Group("a", 1, imdsv1_calls=0, tags={"owner": "db"}))
    by_id = seed(factory, REGION, Group("b", 1, imdsv1_calls=0))
    by_flag = seed(factory, REGION, Group("c", 1, imdsv1_calls=0, tags={"env": "prod"}))
    kept = seed(factory, REGION, Group("d", 1, imdsv1_calls=0))
    config = tmp_path / "imdsguard.toml"
    config.write_text(f'exclude_tag = ["owner=db"]\nexclude-ids = ["{by_id[0]}"]\nhop_limit = 2\n')
    plan = tmp_path / "plan.json"
    result = cli(
        "plan",
        "--endpoint-url",
        moto_url,
        "--regions",
        REGION,
        "--resources",
        "instances",
        "--config",
        str(config),
        "--exclude-tag",
        "env=prod",
        "--output",
        str(plan),
    )
    assert result.code == 0, result.err
    loaded = load(str(plan))
    assert {h.resource_id for h in loaded.exempt} == set(tagged + by_id + by_flag)
    assert [c.resource_id for c in loaded.changes] == kept
    assert loaded.changes[0].after.hop_limit == 2
    assert "excluded by tag owner=db" in result.out


def test_plan_file_round_trips_and_stdout_form(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult]
) -> None:
    seed(factory, REGION, Group("a", 2, imdsv1_calls=5))
    result = cli(
        "plan",
        "--endpoint-url",
        moto_url,
        "--regions",
        REGION,
        "--resources",
        "instances",
        "--output",
        "-",
    )
    doc = json.loads(result.out)
    assert doc["schema_version"] == "1.1"
    assert doc["kind"] == "imdsguard-plan"
    assert [h["reason"] for h in doc["held"]] == ["imdsv1-in-use"] * 2
    assert "2 held" in result.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("plan", "--exclude-tag", "novalue"), "expected KEY=VALUE"),
        (("plan", "--lookback-days", "999"), "--lookback-days must be"),
        (("apply", "/nonexistent/plan.json"), "cannot read plan"),
        (("apply", "--resume", "/nonexistent.jsonl"), "cannot read journal"),
        (("rollback", "/nonexistent.jsonl"), "cannot read journal"),
        (("apply", "--regions", REGION), "give a plan file or --yes"),
        (("plan", "--config", "/nonexistent.toml"), "cannot read config"),
        (
            ("apply", "p.json", "--include-in-use", "--regions", REGION),
            "--regions, --include-in-use",
        ),
        (("apply", "--resume", "j.jsonl", "--hop-limit", "2"), "do not apply to a plan file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    moto_url: str,
    cli: Callable[..., CliResult],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    try:
        result = cli(*argv, "--endpoint-url", moto_url)
    except SystemExit as exc:  # argparse rejects bad flag values itself
        captured = capsys.readouterr()
        result = CliResult(int(str(exc.code)), captured.out, captured.err)
    assert result.code == 2
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_bad_config_and_corrupt_journal_are_usage_errors(
    moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("exclude_tags = 1\n")
    result = cli("plan", "--endpoint-url", moto_url, "--config", str(config))
    assert result.code == 2
    assert "unknown key(s) exclude_tags" in result.err
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"type": "header"\n{"type": "outcome"}\n')
    result = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert result.code == 2
    assert "line 1 is corrupt" in result.err


class _Terminal(io.StringIO):
    """Stands in for a terminal on stdin, with the operator's answer already typed."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("answer", "expected"), [("n\n", (1, "optional")), ("y\n", (0, "required"))]
)
def test_apply_without_plan_or_yes_asks_on_a_terminal(
    *,
    factory: SessionFactory,
    moto_url: str,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    answer: str,
    expected: tuple[int, str],
) -> None:
    [iid] = seed(factory, REGION, Group("a", 1, imdsv1_calls=0))
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    result = cli(
        "apply",
        "--endpoint-url",
        moto_url,
        "--regions",
        REGION,
        "--resources",
        "instances",
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert result.code == expected[0]
    assert "Apply 1 change(s)? [y/N]" in result.out
    assert options_of(factory, REGION)[iid]["http_tokens"] == expected[1]


@pytest.mark.slow
def test_demo_plan_holds_legacy_billing_and_batch_and_raises_eks_hops(
    cli: Callable[..., CliResult],
) -> None:
    result = cli("demo", "--plan")
    assert result.code == 1  # held instances
    # 24 instances, web-lt in both accounts' us-east-1, the account defaults of 5 Regions;
    # batch-lt's pinned version is held; legacy-lc and two groups per account to migrate.
    assert "Plan: 31 to change, 14 held, 0 exempt, 6 migrations, 0 scope errors" in result.out
    held_rows = [line for line in result.out.splitlines() if "legacy-billing" in line]
    assert len(held_rows) == 6
    assert all("imdsv1-in-use" in row for row in held_rows)
    eks_rows = [line for line in result.out.splitlines() if "eks-node" in line]
    assert eks_rows
    assert all("1 -> 2" in row for row in eks_rows)


@pytest.mark.parametrize("key", ["include_in_use", "include_unknown", "container_hop_limit"])
def test_config_switches_must_be_real_booleans(
    key: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    # bool("false") is True: a quoted value must never lift an evidence hold.
    config = tmp_path / "c.toml"
    config.write_text(f'{key} = "false"\n')
    result = cli("plan", "--config", str(config), "--regions", REGION)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"imdsguard: error: config {config}: {key} must be true or false, got 'false'"
    ]


def test_a_region_named_twice_is_planned_and_changed_once(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    [instance] = seed(factory, REGION, Group("a", 1, imdsv1_calls=0))
    plan = tmp_path / "plan.json"
    result = cli(
        "plan", "--endpoint-url", moto_url, "--regions", f"{REGION},{REGION}",
        "--resources", "instances", "--output", str(plan),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert [c.resource_id for c in load(str(plan)).changes] == [instance]


def test_a_plan_listing_a_change_twice_is_refused(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    seed(factory, REGION, Group("a", 1, imdsv1_calls=0))
    plan = tmp_path / "plan.json"
    cli(
        "plan", "--endpoint-url", moto_url, "--regions", REGION, "--resources", "instances",
        "--output", str(plan),
    )  # fmt: skip
    doc = json.loads(plan.read_text())
    doc["changes"] = doc["changes"] * 2
    plan.write_text(json.dumps(doc))
    result = cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(tmp_path / "j"))
    assert result.code == 2
    assert "plan lists a change twice" in result.err
    assert not (tmp_path / "j").exists()


@pytest.mark.parametrize(
    "flags", [["--enforce"], ["--amis"], ["--strict-amis"], ["--resources", "instances"]]
)
def test_planning_flags_are_refused_with_a_plan_file(
    flags: list[str], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    result = cli("apply", str(plan), *flags)
    assert result.code == 2
    assert "planning options do not apply to a plan file" in result.err


def test_every_step_says_what_happened_and_what_to_do_next(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    [instance] = seed(factory, REGION, Group("a", 1, imdsv1_calls=0))
    where = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "instances")
    unsaved = cli("plan", *where)
    assert "save it with --output plan.json, then run: imdsguard apply plan.json" in unsaved.err
    plan = tmp_path / "plan.json"
    assert cli("plan", *where, "--output", str(plan)).code == 0
    journal = tmp_path / "j.jsonl"
    applied = cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal))
    assert applied.code == 0, applied.err
    changed = applied.out[applied.out.index("Applied") :]
    assert changed.splitlines()[4].split()[:3] == ["applied", OWN_ACCOUNT, REGION]
    assert instance in changed.splitlines()[4]  # listed, not only counted
    assert f"undo with: imdsguard rollback {journal}" in applied.out
    again = cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(tmp_path / "k"))
    assert "undo with" not in again.out  # nothing applied the second time
    assert "nothing was applied, so nothing to undo" in again.out
