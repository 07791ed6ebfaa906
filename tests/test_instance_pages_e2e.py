"""The targeted DescribeInstances parser end to end: scans against the moto server, with
the targeted path on and forced off (every page left to botocore), give the same bytes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from imdsguard.aws import instance_pages, instances
from imdsguard.aws.instance_pages import Unexpected
from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.model.scan import Instance
from imdsguard.options import EvaluationOptions, ScopeOptions
from imdsguard.report import FORMATS
from imdsguard.scan import run_scan
from tests.conftest import OWN_ACCOUNT, own, seed

OTHER = "222222222222"
ROLE = "OrganizationAccountAccessRole"
FLEET = (
    Group("web", 4, tokens="required", role=True, tags={"team": "a&b <c> \"d\" 'e'"}),
    Group("legacy", 3, hop_limit=2, tags={"Name": "  spaced  ", "cost": "é€"}),
    Group("bastion", 1, endpoint="disabled"),
    Group("batch", 2, then="stop"),
    Group("gone", 1, then="terminate"),
)


def botocore_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(body: bytes) -> dict[str, Any]:
        raise Unexpected("forced off by the test")

    monkeypatch.setattr(instance_pages, "parse_page", refuse)


def count_targeted_pages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    read: list[int] = []
    parse = instance_pages.parse_page

    def counted(body: bytes) -> dict[str, Any]:
        page = parse(body)
        read.append(sum(len(r["Instances"]) for r in page.get("Reservations", [])))
        return page

    monkeypatch.setattr(instance_pages, "parse_page", counted)
    return read


def test_scan_json_is_the_same_with_the_targeted_parser_on_and_off(
    factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto pages by reservations (docs/aws-behaviour.md#the-emulator): 10 per scope.
    for region in ("eu-west-1", "us-east-1"):
        seed(factory, region, *FLEET, *FLEET)
    seed(factory, "eu-west-1", *FLEET, *FLEET, account=OTHER, role=ROLE)
    monkeypatch.setattr(instances, "PAGE_SIZE", 5)  # several pages, so tokens too
    options = ScopeOptions(
        regions=("eu-west-1", "us-east-1"), accounts=(OWN_ACCOUNT, OTHER), role_name=ROLE
    )
    read = count_targeted_pages(monkeypatch)
    on = run_scan(factory, options, EvaluationOptions())
    # Every page of the three scopes with instances, in the assumed-role account's
    # sessions too, was read by the targeted parser: more than one page each.
    assert sum(read) == 3 * 22
    assert len([n for n in read if n]) > 3
    monkeypatch.undo()
    monkeypatch.setattr(instances, "PAGE_SIZE", 5)
    botocore_only(monkeypatch)
    off = run_scan(factory, options, EvaluationOptions())

    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    json_on = FORMATS["json"](dataclasses.replace(on, generated_at=fixed))
    json_off = FORMATS["json"](dataclasses.replace(off, generated_at=fixed))
    assert json_on == json_off
    assert len(on.findings) == 3 * 20  # the terminated instances are skipped
    teams = {f.resource.tags.get("team") for f in on.findings if isinstance(f.resource, Instance)}
    assert "a&b <c> \"d\" 'e'" in teams


def test_rereads_by_id_are_the_same_with_the_targeted_parser_on_and_off(
    factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(factory, "eu-west-1", *FLEET)
    client = factory.ec2(own(factory), "eu-west-1")
    read = count_targeted_pages(monkeypatch)
    on = instances.get_instances_by_id(client, [*ids, "i-0123456789abcdef0"])
    assert sum(read) == len(ids)
    monkeypatch.undo()
    botocore_only(monkeypatch)
    assert instances.get_instances_by_id(client, [*ids, "i-0123456789abcdef0"]) == on
    assert set(on) == set(ids)
