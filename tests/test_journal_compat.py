"""A plan and a journal written by the 0.1.0 release still apply, resume and roll back.

tests/data/plan-0.1.0.json and journal-0.1.0.jsonl were written by 0.1.0 for the fleet
of tests/compat_fleet.py (plan --container-hop-limit, apply and rollback with
--workers-per-scope 1), with the ids in ids-0.1.0.json. Each test builds the same fleet
on a fresh moto server and rewrites the files to its ids; every record we write must
equal the release's, apart from the time stamps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imdsguard.aws.session import SessionFactory
from tests.compat_fleet import DATA, REGION, rewrite, seed_compat_fleet
from tests.conftest import CliResult, own
from tests.remediation_helpers import journal_records, options_of

RELEASE_IDS: dict[str, str] = json.loads((DATA / "ids-0.1.0.json").read_text())
ONE_AT_A_TIME = ("--workers-per-scope", "1")  # the release's journal has this order


def _release_file(name: str, ids: dict[str, str], into: Path) -> Path:
    into.write_text(rewrite((DATA / name).read_text(), RELEASE_IDS, ids))
    return into


def _timeless(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "at"} for r in records]


def _ec2(factory: SessionFactory) -> Any:
    return factory.ec2(own(factory), REGION)


def _template(factory: SessionFactory, template_id: str) -> tuple[int, int]:
    reply = _ec2(factory).describe_launch_templates(LaunchTemplateIds=[template_id])
    [template] = reply["LaunchTemplates"]
    return template["DefaultVersionNumber"], template["LatestVersionNumber"]


def _defaults(factory: SessionFactory) -> dict[str, Any]:
    return dict(_ec2(factory).get_instance_metadata_defaults()["AccountLevel"])


def test_the_release_plan_applies_and_rolls_back_into_the_release_journal(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed_compat_fleet(factory)
    original = options_of(factory, REGION)
    plan = _release_file("plan-0.1.0.json", ids, tmp_path / "plan.json")
    journal = tmp_path / "j.jsonl"

    applied = cli(
        "apply", str(plan), "--endpoint-url", moto_url, "--journal", str(journal), *ONE_AT_A_TIME
    )
    assert applied.code == 0, applied.out + applied.err
    # apply lists what it changed, then the totals and how to undo them.
    assert [line.split()[:1] for line in applied.out.splitlines()].count(["applied"]) == 5
    assert applied.out.endswith(
        f"Applied: 5 applied; 0 held\njournal: {journal} (undo with: imdsguard rollback "
        f"{journal})\n"
    )
    assert _template(factory, ids["app-lt"]) == (2, 2)
    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url, *ONE_AT_A_TIME)
    assert rolled.code == 0, rolled.out + rolled.err
    assert [line.split()[:1] for line in rolled.out.splitlines()].count(["restored"]) == 5
    assert rolled.out.endswith("Restored: 5 restored; 0 held\n")

    release = _release_file("journal-0.1.0.jsonl", ids, tmp_path / "release.jsonl")
    assert _timeless(journal_records(journal)) == _timeless(journal_records(release))
    assert options_of(factory, REGION) == original
    assert _template(factory, ids["app-lt"]) == (1, 2)
    assert _defaults(factory) == {"ManagedBy": "account"}


def test_a_release_journal_cut_by_a_crash_resumes_and_rolls_back(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ids = seed_compat_fleet(factory)
    original = options_of(factory, REGION)
    release = journal_records(_release_file("journal-0.1.0.jsonl", ids, tmp_path / "r.jsonl"))
    # Killed after the account defaults' intent: the three instances are done, the
    # defaults were written but got no outcome, the template was never started.
    cut = 1 + next(
        i for i, r in enumerate(release) if r["type"] == "intent" and "defaults" in r["key"]
    )
    journal = tmp_path / "j.jsonl"
    journal.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in release[:cut]))
    for record in release[:cut]:
        if record["type"] == "intent" and record["change"]["kind"] == "instance":
            after = record["change"]["after"]
            _ec2(factory).modify_instance_metadata_options(
                InstanceId=record["change"]["resource_id"],
                HttpTokens=after["http_tokens"],
                HttpEndpoint=after["http_endpoint"],
                HttpPutResponseHopLimit=after["hop_limit"],
            )
    _ec2(factory).modify_instance_metadata_defaults(
        HttpTokens="required", HttpPutResponseHopLimit=2
    )
    done = options_of(factory, REGION)

    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", moto_url, *ONE_AT_A_TIME)

    assert resumed.code == 0, resumed.out + resumed.err
    assert "Applied: 5 applied; 0 held" in resumed.out
    records = _timeless(journal_records(journal))
    defaults_outcome, template_intent, template_outcome = records[cut:]
    assert defaults_outcome["reason"] == "written by the interrupted run"
    expected = _timeless(release)[cut:]
    assert defaults_outcome == {**expected[0], "reason": "written by the interrupted run"}
    assert [template_intent, template_outcome] == expected[1:3]
    assert options_of(factory, REGION) == done  # finished instances were not written again

    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url, *ONE_AT_A_TIME)

    assert rolled.code == 0, rolled.out + rolled.err
    assert _timeless(journal_records(journal))[cut + 3 :] == expected[3:]
    assert options_of(factory, REGION) == original
    assert _template(factory, ids["app-lt"]) == (1, 2)
    assert _defaults(factory) == {"ManagedBy": "account"}
