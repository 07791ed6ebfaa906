"""PURE: the least-privilege IAM policies imdsguard needs, derived from the kind table.

Every action comes from ``model/kinds.py``: each kind's ``reads`` and ``writes`` and the
cross-cutting ``OPERATIONS`` with the commands that call them. tests/test_kinds.py proves
that table matches what aws/ calls; tests/test_permissions_iam.py runs the real CLI under
exactly these policies with IAM enforced (docs/permissions.md).

Two principals need permissions. The *caller* runs imdsguard: it reads its own account,
lists the organization and assumes the member role. The *member role* in every other
account only reads (and, for remediation, writes); it never assumes roles or lists
accounts (``Operation.caller_only``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from imdsguard.errors import UsageError
from imdsguard.guardrails import Statement, document, statement
from imdsguard.model.kinds import BY_NAME, INSTANCES, KINDS, OPERATIONS, IamAction, Kind, Stage
from imdsguard.options import PermissionsOptions

READ_STAGES: tuple[Stage, ...] = ("scan", "plan")
WRITE_STAGES: tuple[Stage, ...] = ("apply", "rollback")
ASSUME_ROLE = "sts:AssumeRole"
MODIFY_INSTANCE = INSTANCES.writes[0]
# The EC2 user guide's "Require the use of IMDSv2" example conditions this action on
# ec2:Attribute/HttpTokens; apply always sends the full set, HttpTokens included
# (docs/aws-behaviour.md#guardrails). No such key exists for the other writes.
REQUIRE_TOKENS = {"StringEquals": {"ec2:Attribute/HttpTokens": "required"}}
# scan --security-hub's import: a write to Security Hub, never part of the read-only policy.
PUBLISH = tuple(o.action for o in OPERATIONS if o.stages == ("publish",))


@dataclass(frozen=True, slots=True)
class Parts:
    """A policy in the two pieces a member role attaches: reading, and (optionally) changing."""

    read: list[Statement]
    write: list[Statement]

    @property
    def statements(self) -> list[Statement]:
        return self.read + self.write


def _kinds(options: PermissionsOptions) -> tuple[Kind, ...]:
    return tuple(k for k in KINDS if k.name in options.kinds)


def remediable_kinds(options: PermissionsOptions) -> tuple[Kind, ...]:
    """The chosen kinds apply changes; a usage error when ``apply`` would change none."""
    chosen = _kinds(options)
    result = tuple(k for k in chosen if k.remediable)
    if options.command == "apply" and not result:
        names = ", ".join(k.name for k in chosen)
        remediable = ", ".join(k.name for k in KINDS if k.remediable)
        raise UsageError(f"apply changes none of {names}; it changes {remediable}")
    return result


def _stages(options: PermissionsOptions) -> tuple[Stage, ...]:
    stages: tuple[Stage, ...] = ()
    if options.command in ("scan", "all"):
        stages += READ_STAGES
    if options.command in ("apply", "all"):
        stages += WRITE_STAGES
    return (*stages, "publish") if options.security_hub else stages


def read_actions(options: PermissionsOptions, member: bool = False) -> tuple[IamAction, ...]:
    """Every read the commands make, sorted; without the caller-only calls for a member role.

    apply and rollback re-read what they change: the reads of the kinds they change.
    """
    kinds = _kinds(options) if options.command != "apply" else remediable_kinds(options)
    found = {a for k in kinds for a in k.reads}
    stages = set(_stages(options))
    for op in OPERATIONS:
        if stages & set(op.stages) and not (member and op.caller_only):
            found.add(op.action)
    # Writes and role entry have their own statements (conditions, resources).
    found -= {ASSUME_ROLE, *PUBLISH}
    return tuple(sorted(found))


def _assume(options: PermissionsOptions) -> Statement:
    # "*" for the account: the same role name in every member account.
    role = f"arn:{options.partition}:iam::*:role/{options.role_name}" if options.role_name else "*"
    return statement("EnterMemberAccounts", "Allow", (ASSUME_ROLE,), resource=role)


def write_statements(options: PermissionsOptions) -> list[Statement]:
    """apply's (and rollback's) changes; empty for ``scan``."""
    if options.command == "scan":
        return []
    writes = [a for k in remediable_kinds(options) for a in k.writes]
    result: list[Statement] = []
    if MODIFY_INSTANCE in writes:
        # Rollback restores what the journal recorded, HttpTokens=optional included.
        if options.rollback:
            result.append(statement("SetInstanceMetadataOptions", "Allow", (MODIFY_INSTANCE,)))
        else:
            result.append(
                statement("RequireImdsV2OnInstances", "Allow", (MODIFY_INSTANCE,), REQUIRE_TOKENS)
            )
    others = tuple(sorted(set(writes) - {MODIFY_INSTANCE}))
    if others:
        result.append(statement("RemediateLaunchSettings", "Allow", others))
    return result


def parts(options: PermissionsOptions, member: bool = False) -> Parts:
    """The statements of one principal: the caller's (``member=False``) or the member role's."""
    read = [statement("ReadImdsSettings", "Allow", read_actions(options, member))]
    if options.security_hub:
        read.append(statement("ImportFindingsToSecurityHub", "Allow", PUBLISH))
    if not member:
        read.append(_assume(options))
    return Parts(read, write_statements(options))


def policy_json(options: PermissionsOptions) -> str:
    """The caller's IAM policy document, indented, as IAM's console shows it."""
    return json.dumps(document(parts(options).statements), indent=2) + "\n"


def actions_of(statements: Iterable[Statement]) -> set[IamAction]:
    """Every action the statements allow."""
    found: set[IamAction] = set()
    for s in statements:
        action = s["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


@dataclass(frozen=True, slots=True)
class Grant:
    """One action: which commands need it, what it is for, and what fails without it."""

    action: IamAction
    commands: tuple[Stage, ...]
    purpose: str
    without: str


def grants() -> list[Grant]:
    """Every action imdsguard may need, for docs/permissions.md's table."""
    # An operation a kind also reads (apply re-reads it too) is needed by every command.
    kind_reads = {a for k in KINDS for a in k.reads}
    rows = [
        Grant(
            op.action,
            (*READ_STAGES, *WRITE_STAGES) if op.action in kind_reads else op.stages,
            op.purpose,
            op.without,
        )
        for op in OPERATIONS
    ]
    listed = {op.action for op in OPERATIONS}
    for action in sorted({a for k in KINDS for a in (*k.reads, *k.writes)} - listed):
        readers = tuple(k.name for k in KINDS if action in k.reads)
        writers = tuple(k.name for k in KINDS if action in k.writes)
        commands: tuple[Stage, ...] = (*READ_STAGES, *WRITE_STAGES) if readers else WRITE_STAGES
        purpose = "read " if readers else "change "
        purpose += ", ".join(BY_NAME[n].counted.replace("(s)", "s") for n in readers + writers)
        without = ", ".join(f"`{n}`" for n in readers + writers)
        rows.append(Grant(action, commands, purpose, without))
    return rows
