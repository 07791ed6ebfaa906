"""The instance verdict is a pure function: every combination, no AWS."""

from __future__ import annotations

import itertools

import pytest

from imdsguard.aws.instances import parse_instance, parse_metadata_options
from imdsguard.model.scan import HttpTokens, Instance, MetadataOptions, MetadataState, Scope, Switch
from imdsguard.options import EvaluationOptions
from imdsguard.rules import evaluate

SCOPE = Scope("123456789012", "eu-west-1")
LIVE_STATES = ("pending", "running", "stopping", "stopped")
GONE_STATES = ("shutting-down", "terminated")


def expected(tokens: str, endpoint: str, md_state: str, policy: str) -> tuple[str, str]:
    """The verdict table of issue 2, written out independently of the rule's code.

    A pending change means the previous settings are still in force, so neither a
    required-tokens nor a disabled-endpoint setting passes until it is applied.
    """
    if endpoint == "enabled" and tokens == "optional":
        return ("FAIL", "tokens-optional")
    if md_state == "pending":
        return ("FAIL", "change-pending")
    if endpoint == "disabled":
        return ("FAIL" if policy == "fail" else "PASS", "imds-disabled")
    return ("PASS", "tokens-required")


CASES = list(
    itertools.product(
        ("optional", "required"),
        ("enabled", "disabled"),
        ("applied", "pending"),
        LIVE_STATES,
        ("pass", "fail"),
    )
)


@pytest.mark.parametrize(("tokens", "endpoint", "md_state", "state", "policy"), CASES)
def test_verdict_table(
    tokens: HttpTokens, endpoint: Switch, md_state: MetadataState, state: str, policy: str
) -> None:
    inst = Instance(
        "i-1",
        state,
        MetadataOptions(http_tokens=tokens, http_endpoint=endpoint, state=md_state),
    )
    finding = evaluate(SCOPE, inst, EvaluationOptions(imds_disabled=policy))  # type: ignore[arg-type]
    assert finding is not None
    assert (finding.status, finding.reason) == expected(tokens, endpoint, md_state, policy)
    assert finding.scope == SCOPE
    assert finding.resource_id == "i-1"


@pytest.mark.parametrize("state", GONE_STATES)
@pytest.mark.parametrize("tokens", ["optional", "required"])
def test_gone_instances_are_out_of_scope(state: str, tokens: HttpTokens) -> None:
    inst = Instance("i-1", state, MetadataOptions(http_tokens=tokens))
    assert evaluate(SCOPE, inst, EvaluationOptions()) is None


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
