"""The confirmation AMI changes need: ImdsSupport=v2.0 can never be undone.

``apply PLAN`` and ``apply --yes`` never ask for ordinary changes, but an irreversible one
needs either a "yes" typed at a terminal after a prompt that says so, or the explicit
``--yes-irreversible``. Without either, the AMI changes are held and the rest applies.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from imdsguard.model.kinds import AMIS
from imdsguard.model.remediation import Hold, Plan
from imdsguard.model.scan import JSONValue

PROMPT = (
    "Set ImdsSupport=v2.0 on {n} AMI(s) ({ids})? This is IRREVERSIBLE: AWS cannot unset "
    "it and `imdsguard rollback` will not revert it. Type yes to confirm: "
)
NOT_CONFIRMED = "not confirmed: needs --yes-irreversible, or yes at the prompt on a terminal"


def _asked(count: int, ids: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(PROMPT.format(n=count, ids=ids))
    return answer.strip().lower() == "yes"


def gate(plan: Plan, yes_irreversible: bool, settled: frozenset[str] = frozenset()) -> Plan:
    """``plan`` as confirmed: unconfirmed AMI changes move to ``held`` (irreversible).

    ``settled``: keys a resumed run reports from the journal without writing (an AMI
    already applied is reported applied, never held).
    """
    images = [c for c in plan.changes if c.kind == AMIS.plan_kind and c.key not in settled]
    if not images or yes_irreversible:
        return plan
    ids = ", ".join(c.resource_id for c in images[:5]) + (", ..." if len(images) > 5 else "")
    if _asked(len(images), ids):
        return plan
    detail: dict[str, JSONValue] = {"why": NOT_CONFIRMED, "override": "--yes-irreversible"}
    held = tuple(
        Hold(AMIS.plan_kind, c.scope, c.resource_id, "irreversible", c.name, detail) for c in images
    )
    kept = tuple(c for c in plan.changes if c not in images)
    print(f"imdsguard: {len(images)} AMI change(s) held: {NOT_CONFIRMED}", file=sys.stderr)
    return replace(plan, changes=kept, held=plan.held + held)
