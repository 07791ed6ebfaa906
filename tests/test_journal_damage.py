"""Rollback of a journal that lost records: never exit 0 with changes still in place.

A crash leaves a prefix of the journal, so a plan change with no record is normally one
the run never reached. Rollback re-reads such instances: one that has the plan's new
settings all the same was changed by a run whose records are gone, and is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from tests.conftest import CliResult, seed
from tests.remediation_helpers import options_of, write_plan

Cli = Callable[..., CliResult]
REGION = "eu-west-1"


def applied_journal(factory: SessionFactory, moto_url: str, cli: Cli, tmp_path: Path) -> Path:
    seed(factory, REGION, Group("a", 2, imdsv1_calls=0))
    plan = write_plan(cli, tmp_path, "--endpoint-url", moto_url, "--regions", REGION,
                      "--resources", "instances")  # fmt: skip
    journal = tmp_path / "j.jsonl"
    result = cli("apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal))
    assert result.code == 0, result.out + result.err
    return journal


def test_a_journal_cut_to_its_header_after_apply_is_not_a_clean_rollback(
    factory: SessionFactory, moto_url: str, cli: Cli, tmp_path: Path
) -> None:
    journal = applied_journal(factory, moto_url, cli, tmp_path)
    journal.write_text(journal.read_text().splitlines(keepends=True)[0])
    before = options_of(factory, REGION)
    result = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert result.code == 1, result.out + result.err
    assert result.out.count("no record of this change") == 2
    for instance_id in before:
        assert instance_id in result.out
    # Reported, not guessed at: the instances are left as they are.
    assert options_of(factory, REGION) == before


def test_a_journal_cut_where_a_crash_would_cut_it_rolls_back_cleanly(
    factory: SessionFactory, moto_url: str, cli: Cli, tmp_path: Path
) -> None:
    """Killed right after its header: nothing was changed, and rollback says so, exit 0."""
    seed(factory, REGION, Group("a", 2, imdsv1_calls=0))
    plan = write_plan(cli, tmp_path, "--endpoint-url", moto_url, "--regions", REGION,
                      "--resources", "instances")  # fmt: skip
    from imdsguard.plan import planfile
    from imdsguard.remediate.journal import Journal

    journal = tmp_path / "j.jsonl"
    Journal.create(journal, planfile.load(str(plan))).close()
    result = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert result.code == 0, result.out + result.err
