"""The instance verdict is a pure function: every combination, no AWS."""

from __future__ import annotations

import itertools

import pytest

from imdsguard.aws.instances import parse_instance, parse_metadata_options
from imdsguard.model.scan import (
    Finding,
    HttpTokens,
    ImdsDisabledPolicy,
    Instance,
    MetadataOptions,
    MetadataState,
    Scope,
    Switch,
)
from imdsguard.options import EvaluationOptions
from imdsguard.rules import evaluate

SCOPE = Scope("123456789012", "eu-west-1")
LIVE_STATES = ("running", "stopping", "stopped")
GONE_STATES = ("shutting-down", "terminated")


# The verdict table of issue 2, written out by hand: (HttpTokens, HttpEndpoint, metadata
# State, --imds-disabled) -> (status, reason). A pending change means the previous settings
# are still in force, so neither required tokens nor a disabled endpoint passes until it is
# applied; but a setting that allows IMDSv1 fails as tokens-optional whatever its State.
Row = tuple[HttpTokens, Switch, MetadataState, ImdsDisabledPolicy, str, str]
VERDICTS: list[Row] = [
    ("optional", "enabled", "applied", "pass", "FAIL", "tokens-optional"),
    ("optional", "enabled", "applied", "fail", "FAIL", "tokens-optional"),
    ("optional", "enabled", "pending", "pass", "FAIL", "tokens-optional"),
    ("optional", "enabled", "pending", "fail", "FAIL", "tokens-optional"),
    ("optional", "disabled", "applied", "pass", "PASS", "imds-disabled"),
    ("optional", "disabled", "applied", "fail", "FAIL", "imds-disabled"),
    ("optional", "disabled", "pending", "pass", "FAIL", "change-pending"),
    ("optional", "disabled", "pending", "fail", "FAIL", "change-pending"),
    ("required", "enabled", "applied", "pass", "PASS", "tokens-required"),
    ("required", "enabled", "applied", "fail", "PASS", "tokens-required"),
    ("required", "enabled", "pending", "pass", "FAIL", "change-pending"),
    ("required", "enabled", "pending", "fail", "FAIL", "change-pending"),
    ("required", "disabled", "applied", "pass", "PASS", "imds-disabled"),
    ("required", "disabled", "applied", "fail", "FAIL", "imds-disabled"),
    ("required", "disabled", "pending", "pass", "FAIL", "change-pending"),
    ("required", "disabled", "pending", "fail", "FAIL", "change-pending"),
]
SETTINGS = [row[:4] for row in VERDICTS]


def test_the_verdict_table_covers_every_combination_once() -> None:
    every = itertools.product(
        ("optional", "required"), ("enabled", "disabled"), ("applied", "pending"), ("pass", "fail")
    )
    assert sorted(SETTINGS) == sorted(every)


def judge(
    state: str,
    tokens: HttpTokens,
    endpoint: Switch,
    md_state: MetadataState,
    policy: ImdsDisabledPolicy,
) -> Finding | None:
    inst = Instance(
        "i-1", state, MetadataOptions(http_tokens=tokens, http_endpoint=endpoint, state=md_state)
    )
    return evaluate(SCOPE, inst, EvaluationOptions(imds_disabled=policy))


# A launching instance (instance state pending) has no previous settings in force: a
# pending metadata State is judged as the settings it launched with.
LAUNCHING: list[Row] = [
    ("optional", "enabled", "pending", "pass", "FAIL", "tokens-optional"),
    ("optional", "enabled", "pending", "fail", "FAIL", "tokens-optional"),
    ("optional", "disabled", "pending", "pass", "PASS", "imds-disabled"),
    ("optional", "disabled", "pending", "fail", "FAIL", "imds-disabled"),
    ("required", "enabled", "pending", "pass", "PASS", "tokens-required"),
    ("required", "enabled", "pending", "fail", "PASS", "tokens-required"),
    ("required", "disabled", "pending", "pass", "PASS", "imds-disabled"),
    ("required", "disabled", "pending", "fail", "FAIL", "imds-disabled"),
]


@pytest.mark.parametrize(
    "row", LAUNCHING + [r for r in VERDICTS if r[2] == "applied"], ids="-".join
)
def test_a_launching_instance_is_judged_on_its_launch_settings(row: Row) -> None:
    tokens, endpoint, md_state, policy, status, reason = row
    finding = judge("pending", tokens, endpoint, md_state, policy)
    assert finding is not None
    assert (finding.status, finding.reason) == (status, reason)
    assert finding.resource.evidence()["instance_state"] == "pending"


# A live instance is judged on its settings alone, stopped ones included.
@pytest.mark.parametrize("state", LIVE_STATES)
@pytest.mark.parametrize("row", VERDICTS, ids="-".join)
def test_verdict_table(state: str, row: Row) -> None:
    tokens, endpoint, md_state, policy, status, reason = row
    finding = judge(state, tokens, endpoint, md_state, policy)
    assert finding is not None
    assert (finding.status, finding.reason) == (status, reason)
    assert finding.scope == SCOPE
    assert finding.resource_id == "i-1"


@pytest.mark.parametrize("state", GONE_STATES)
@pytest.mark.parametrize(("tokens", "endpoint", "md_state", "policy"), SETTINGS)
def test_gone_instances_are_out_of_scope_whatever_their_settings(
    state: str,
    tokens: HttpTokens,
    endpoint: Switch,
    md_state: MetadataState,
    policy: ImdsDisabledPolicy,
) -> None:
    assert judge(state, tokens, endpoint, md_state, policy) is None


def test_stopped_instance_is_evaluated_and_marked_stopped() -> None:
    finding = evaluate(SCOPE, Instance("i-1", "stopped", MetadataOptions()), EvaluationOptions())
    assert finding is not None
    assert finding.status == "FAIL"
    assert finding.resource.evidence()["instance_state"] == "stopped"


@pytest.mark.parametrize(
    ("raw", "tokens", "endpoint", "hop", "state"),
    [
        (None, "optional", "enabled", 1, "applied"),
        ({}, "optional", "enabled", 1, "applied"),
        ({"HttpTokens": "required"}, "required", "enabled", 1, "applied"),
        ({"HttpEndpoint": "disabled"}, "optional", "disabled", 1, "applied"),
        ({"State": "pending", "HttpTokens": "required"}, "required", "enabled", 1, "pending"),
        ({"HttpPutResponseHopLimit": 2}, "optional", "enabled", 2, "applied"),
    ],
)
def test_missing_fields_take_documented_defaults(
    raw: dict[str, object] | None, tokens: str, endpoint: str, hop: int, state: str
) -> None:
    md = parse_metadata_options(raw)
    assert (md.http_tokens, md.http_endpoint, md.hop_limit, md.state) == (
        tokens,
        endpoint,
        hop,
        state,
    )


def test_parse_instance_from_a_minimal_response() -> None:
    inst = parse_instance({"InstanceId": "i-0abc"})
    assert inst.instance_id == "i-0abc"
    assert inst.instance_state == "unknown"
    assert inst.name is None
    assert inst.iam_instance_profile is None
    finding = evaluate(SCOPE, inst, EvaluationOptions())
    assert finding is not None
    assert (finding.status, finding.reason) == ("FAIL", "tokens-optional")


def test_parse_instance_reads_name_tag_and_profile() -> None:
    inst = parse_instance(
        {
            "InstanceId": "i-0abc",
            "State": {"Name": "running"},
            "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "a"}],
            "IamInstanceProfile": {"Arn": "arn:aws:iam::1:instance-profile/p", "Id": "X"},
            "MetadataOptions": {"HttpTokens": "required", "State": "applied"},
        }
    )
    assert inst.name == "web"
    assert inst.tags == {"Name": "web", "team": "a"}
    assert inst.iam_instance_profile == "arn:aws:iam::1:instance-profile/p"
