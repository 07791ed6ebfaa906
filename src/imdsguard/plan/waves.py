"""PURE: a staged rollout's schedule (docs/rollout.md).

The plan's instance changes, in the default risk order or by a tag's values, are cut into
waves; every other change (AMIs, launch templates, the account default and its
enforcement) is the final step of its Region, after every wave. The same plan and options
always give the same schedule, so a resumed rollout continues the very same waves.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from imdsguard.model.kinds import ACCOUNT_DEFAULTS, AMIS, INSTANCES, LAUNCH_TEMPLATES
from imdsguard.model.remediation import Change
from imdsguard.model.scan import Scope
from imdsguard.plan.enforce import enforces

# Least risk first: a stopped instance runs nothing that could call IMDSv1 until it is
# started; without an instance profile there are no role credentials to fetch, which is
# what most IMDS callers want; then one canary per Auto Scaling group, so a whole group
# never changes at once; then the rest.
Risk = Literal["stopped", "no-profile", "canary", "rest"]
RISKS: tuple[Risk, ...] = get_args(Risk)
CANARIES_PER_GROUP = 1
# The final step of a Region, in AWS's migration order: what launches instances first,
# then the account default, whose change also carries the enforcement
# (docs/aws-behaviour.md#usage-metrics, AWS's path to IMDSv2).
FINAL_ORDER = (AMIS.plan_kind, LAUNCH_TEMPLATES.plan_kind, ACCOUNT_DEFAULTS.plan_kind)
_COUNT = re.compile(r"^[1-9]\d*$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True, slots=True)
class Step:
    """One ``--waves`` entry, cumulative: the first ``amount`` instances in all (a count),
    or that percentage of them; ``amount`` None is ``all``."""

    amount: float | None
    percent: bool = False

    def covered(self, total: int) -> int:
        if self.amount is None:
            return total
        if self.percent:
            return math.ceil(self.amount * total / 100)
        return min(int(self.amount), total)

    @property
    def label(self) -> str:
        if self.amount is None:
            return "all"
        return f"{self.amount:g}%" if self.percent else str(int(self.amount))


def parse_waves(text: str) -> tuple[Step, ...]:
    """``5%,25%,100%`` or ``10,100,all``; ValueError says what is wrong."""
    steps: list[Step] = []
    for item in (part.strip() for part in text.split(",")):
        if steps and steps[-1].amount is None:
            raise ValueError("'all' must be the last wave")
        percent = _PERCENT.match(item)
        if item == "all":
            steps.append(Step(None))
        elif percent:
            value = float(percent.group(1))
            if not 0 < value <= 100:
                raise ValueError(f"{item!r}: a percentage must be above 0% and at most 100%")
            steps.append(Step(value, percent=True))
        elif _COUNT.match(item):
            steps.append(Step(int(item)))
        else:
            raise ValueError(f"{item!r} is neither a count (10), a percentage (5%) nor 'all'")
    for kind in (True, False):  # each kind must grow: the waves are cumulative
        amounts = [s.amount for s in steps if s.percent is kind and s.amount is not None]
        if any(b <= a for a, b in itertools.pairwise(amounts)):
            raise ValueError(f"{text!r}: waves are cumulative, so each must be larger")
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class WaveBy:
    """``--wave-by tag:KEY=V1,V2``: one wave per value, in the order given."""

    key: str
    values: tuple[str, ...]


def parse_wave_by(text: str) -> WaveBy:
    kind, _, rest = text.partition(":")
    key, sep, values = rest.partition("=")
    if kind != "tag" or not key or not sep:
        raise ValueError(f"{text!r}: expected tag:KEY=VALUE1,VALUE2,...")
    items = tuple(v.strip() for v in values.split(","))
    if not all(items) or len(set(items)) != len(items):
        raise ValueError(f"{text!r}: each value once, none empty")
    return WaveBy(key, items)


@dataclass(frozen=True, slots=True)
class Wave:
    number: int  # from 1
    label: str  # "5%", "10", "all", "Environment=dev", or "rest"
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Schedule:
    waves: tuple[Wave, ...]
    final: tuple[Change, ...]  # per Region, in FINAL_ORDER


def _fact(change: Change, name: str) -> object:
    return change.facts.get(name)


def risks(changes: Iterable[Change]) -> dict[str, Risk]:
    """Each instance change's risk class. A plan without facts (before 1.2) ranks all
    its instances as ``rest``: nothing is known to make them safer."""
    out: dict[str, Risk] = {}
    groups: dict[tuple[str, str, str], int] = {}
    for change in sorted(changes, key=lambda c: c.key):
        if change.kind != INSTANCES.plan_kind:
            continue
        group = _fact(change, "auto_scaling_group")
        if _fact(change, "instance_state") == "stopped":
            out[change.key] = "stopped"
        elif _fact(change, "instance_profile") is False:
            out[change.key] = "no-profile"
        elif isinstance(group, str):
            member = (change.scope.account_id, change.scope.region, group)
            seen = groups[member] = groups.get(member, 0) + 1
            out[change.key] = "canary" if seen <= CANARIES_PER_GROUP else "rest"
        else:
            out[change.key] = "rest"
    return out


def ordered(changes: Sequence[Change]) -> list[Change]:
    """Instance changes in the default order (ties by key: deterministic), then each
    Region's final step."""
    risk = risks(changes)
    by_class = sorted(
        (c for c in changes if c.key in risk), key=lambda c: (RISKS.index(risk[c.key]), c.key)
    )
    # Within a class the scopes take turns, so a wave spans every account and Region: a
    # canary in each, and each Region's own write bucket working at once rather than one
    # Region after another (docs/rollout.md#the-default-order).
    turn: dict[tuple[str, Scope], int] = {}
    ranked: list[tuple[tuple[int, int, Scope, str], Change]] = []
    for change in by_class:
        place = (risk[change.key], change.scope)
        turn[place] = turn.get(place, -1) + 1
        ranked.append(((RISKS.index(place[0]), turn[place], change.scope, change.key), change))
    instances = [change for _, change in sorted(ranked, key=lambda pair: pair[0])]
    final = sorted(
        (c for c in changes if c.key not in risk and c.kind in FINAL_ORDER),
        key=lambda c: (c.scope, FINAL_ORDER.index(c.kind), c.key),
    )
    return instances + final


def _tag(change: Change, key: str) -> str | None:
    tags = _fact(change, "tags")
    value = tags.get(key) if isinstance(tags, dict) else None
    return value if isinstance(value, str) else None


def schedule(
    changes: Sequence[Change], steps: Sequence[Step] = (), wave_by: WaveBy | None = None
) -> Schedule:
    """The waves and the final step. Instances no step reaches (``5%,25%``), and with
    ``wave_by`` those without one of its values, form one last wave, ``rest``."""
    order = ordered(changes)
    instances = [c for c in order if c.kind == INSTANCES.plan_kind]
    final = tuple(c for c in order if c.kind != INSTANCES.plan_kind)
    cuts: list[tuple[str, list[Change]]] = []
    if wave_by is not None:
        for value in wave_by.values:
            cuts.append(
                (f"{wave_by.key}={value}", [c for c in instances if _tag(c, wave_by.key) == value])
            )
        cuts.append(("rest", [c for c in instances if _tag(c, wave_by.key) not in wave_by.values]))
    else:
        done = 0
        for step in steps or (Step(None),):
            upto = max(done, step.covered(len(instances)))
            cuts.append((step.label, instances[done:upto]))
            done = upto
        cuts.append(("rest", instances[done:]))
    kept = [(label, items) for label, items in cuts if items]
    waves = tuple(Wave(n, label, tuple(items)) for n, (label, items) in enumerate(kept, start=1))
    return Schedule(waves, final)


def order_labels(changes: Sequence[Change]) -> dict[str, str]:
    """What the plan table shows in its Order column, per change key."""
    risk = risks(changes)
    names = {"stopped": "stopped", "no-profile": "no instance profile", "canary": "canary"}
    labels: dict[str, str] = {}
    for change in changes:
        if change.key in risk:
            rank = RISKS.index(risk[change.key]) + 1
            text = names.get(risk[change.key], "rest")
            group = _fact(change, "auto_scaling_group")
            if risk[change.key] == "canary" and isinstance(group, str):
                text += f" of {group}"
            labels[change.key] = f"{rank} {text}"
        elif change.kind == ACCOUNT_DEFAULTS.plan_kind:
            also = " and enforcement" if enforces(change) else ""
            labels[change.key] = f"{len(RISKS) + 2} last in Region: account default{also}"
        elif change.kind in FINAL_ORDER:
            labels[change.key] = f"{len(RISKS) + 1} last in Region: launch settings"
    return labels
