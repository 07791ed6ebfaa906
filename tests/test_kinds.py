"""The kind table (model/kinds.py): its names are output formats, its IAM actions are the code's.

The action tests read the source of every module in aws/ (whatever the files are called),
collect each boto3 operation it can call, and compare that with the table both ways.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from botocore import xform_name
from botocore.loaders import create_loader

import imdsguard.aws
from imdsguard import guardrails
from imdsguard.collect.resources import COLLECTORS
from imdsguard.model.kinds import KINDS, OPERATIONS, RESOURCE_NAMES, Kind
from imdsguard.options import GuardrailOptions
from imdsguard.rules import _RULES

AWS_DIR = Path(imdsguard.aws.__file__).parent
ROOT = Path(__file__).resolve().parent.parent
RESOURCES_DOC = ROOT / "docs" / "resources.md"
SCHEMA = AWS_DIR.parent / "report" / "scan.schema.json"
BEGIN = "<!-- iam-actions: generated from src/imdsguard/model/kinds.py by tests/test_kinds.py -->"
END = "<!-- /iam-actions -->"

# Every name a kind goes by appears in some output (plans, journals, JSON, history, reports),
# so it is pinned here by hand: (--resources, resource type, plan kind, remediable).
PINNED = [
    ("instances", "AwsEc2Instance", "instance", True),
    ("launch-templates", "AwsEc2LaunchTemplate", "launch-template", True),
    ("launch-configurations", "AwsAutoScalingLaunchConfiguration", "launch-configuration", False),
    ("auto-scaling-groups", "AwsAutoScalingAutoScalingGroup", "auto-scaling-group", False),
    ("amis", "AwsEc2Image", "image", True),
    ("account-defaults", "AwsEc2AccountImdsDefaults", "account-defaults", True),
]


def test_every_name_a_kind_goes_by_is_unchanged() -> None:
    assert [(k.name, k.resource_type, k.plan_kind, k.remediable) for k in KINDS] == PINNED
    assert [k.change_kind for k in KINDS] == [p if r else None for _, _, p, r in PINNED]


def test_every_kind_has_one_dataclass_one_rule_and_one_collector() -> None:
    assert len({k.model for k in KINDS}) == len(KINDS)
    assert set(_RULES) == {k.model for k in KINDS}
    assert tuple(COLLECTORS) == RESOURCE_NAMES


def test_the_json_schema_lists_every_resources_name() -> None:
    schema = json.loads(SCHEMA.read_text())
    resources = schema["properties"]["scan_options"]["properties"]["resources"]
    assert tuple(resources["items"]["enum"]) == RESOURCE_NAMES


# ---- IAM actions: the table against the code in aws/ ----


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(AWS_DIR.rglob("*.py"))]


def _services(trees: Iterable[tuple[Path, ast.Module]]) -> set[str]:
    """Every botocore service aws/ makes a client for or types a client as.

    A client is created from a service name (``session.client("ec2")``) and typed with
    boto3-stubs (``mypy_boto3_ec2``); either names the service.
    """
    known = set(create_loader().list_available_services("service-2"))
    found: set[str] = set()
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mypy_boto3_"):
                found.add(str(node.module).removeprefix("mypy_boto3_").split(".")[0])
            if isinstance(node, ast.Import):
                found.update(
                    a.name.removeprefix("mypy_boto3_").split(".")[0]
                    for a in node.names
                    if a.name.startswith("mypy_boto3_")
                )
            if isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and first.value in known:
                    found.add(str(first.value))
    return found


@cache
def _operations(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name, from botocore's service model."""
    model = create_loader().load_service_model(service, "service-2")
    return {xform_name(name): name for name in model["operations"]}


# botocore classes that make an operation's calls themselves, by the name aws/ uses them.
CALLED_BY_BOTOCORE = {"AssumeRoleCredentialFetcher": "sts:AssumeRole"}


def called_actions() -> dict[str, set[str]]:
    """IAM action -> the aws/ files that can call it.

    An operation is any attribute named like one of the services' operations
    (``client.describe_instances(...)``, or the bound method passed on to be called), any
    ``get_paginator("describe_instances")`` argument, and any use of a botocore class in
    CALLED_BY_BOTOCORE. The IAM action is the service's botocore name and the operation
    name; that holds for every service in the table.
    """
    trees = _trees()
    methods: dict[str, list[str]] = {}
    for service in sorted(_services(trees)):
        for method, operation in _operations(service).items():
            methods.setdefault(method, []).append(f"{service}:{operation}")
    found: dict[str, set[str]] = {}
    for path, tree in trees:
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Attribute):
                names.append(node.attr)
            if isinstance(node, ast.Name) and node.id in CALLED_BY_BOTOCORE:
                found.setdefault(CALLED_BY_BOTOCORE[node.id], set()).add(path.name)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get_paginator"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.append(str(node.args[0].value))
            for name in names:
                actions = methods.get(name, [])
                assert len(actions) <= 1, f"{path.name}: {name} is ambiguous: {actions}"
                for action in actions:
                    found.setdefault(action, set()).add(path.name)
    return found


def listed_actions() -> set[str]:
    return {a for k in KINDS for a in (*k.reads, *k.writes)} | {o.action for o in OPERATIONS}


def test_the_walker_finds_calls_and_paginators() -> None:
    found = called_actions()
    assert "ec2:ModifyInstanceMetadataOptions" in found  # client.modify_...(...)
    assert "ec2:DescribeLaunchTemplateVersions" in found  # get_paginator("...")
    assert "sts:AssumeRole" in found  # AssumeRoleCredentialFetcher(...)


def test_every_operation_aws_calls_is_in_the_kind_table() -> None:
    called = called_actions()
    missing = {a: sorted(called[a]) for a in called.keys() - listed_actions()}
    assert not missing, f"add to model/kinds.py (a kind's reads/writes or OPERATIONS): {missing}"


def test_every_action_in_the_kind_table_is_called_by_aws() -> None:
    unused = listed_actions() - called_actions().keys()
    assert not unused, f"listed in model/kinds.py but no code in aws/ calls it: {unused}"


def test_the_guardrail_names_only_kind_table_actions() -> None:
    options = GuardrailOptions(
        max_hop_limit=2, allow_roles=("arn:aws:iam::*:role/A",), pin_template_versions=True
    )
    named: set[str] = set()
    for statement in guardrails.statements(options):
        action = statement["Action"]
        named.update([action] if isinstance(action, str) else action)
    assert named - {"*"} <= {a for k in KINDS for a in (*k.writes, *k.guarded)}
    assert {a for k in KINDS for a in k.guarded} <= named


# ---- the IAM table in docs/resources.md ----


def _cell(actions: Iterable[str]) -> str:
    return ", ".join(f"`{a}`" for a in actions) or "none"


def _kind_row(kind: Kind) -> str:
    return f"| `{kind.name}` | {_cell(kind.reads)} | {_cell(kind.writes)} |"


def iam_tables() -> str:
    lines = [
        BEGIN,
        "| `--resources` | reads (scan, and apply's re-reads) | writes (apply, rollback) |",
        "|---|---|---|",
        *(_kind_row(k) for k in KINDS),
        "",
        "| action | needed for |",
        "|---|---|",
        *(f"| `{o.action}` | {o.purpose} |" for o in OPERATIONS),
        END,
    ]
    return "\n".join(lines)


def test_the_docs_iam_table_matches_the_kind_table() -> None:
    text = RESOURCES_DOC.read_text()
    start, end = text.find(BEGIN), text.find(END)
    assert 0 <= start < end, f"{RESOURCES_DOC.name} lost its {BEGIN!r} block"
    documented = text[start : end + len(END)]
    assert documented == iam_tables(), f"replace the block with:\n{iam_tables()}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_kind_states_what_scan_reads(kind: Kind) -> None:
    assert kind.reads
    assert kind.remediable == bool(kind.writes)
