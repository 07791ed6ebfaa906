"""A staged rollout's account (rich renderables, pure): its waves, and if it halted, why,
which instances broke and what was rolled back."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from imdsguard.model.rollout import Halt, RolloutResult
from imdsguard.report.style import new_table


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else ""


def _breakage(halt: Halt) -> RenderableType:
    table = new_table(
        "IMDSv1 calls refused since the change",
        ("Account", "Region", "Instance", "Name", "Refused", "First seen", "Last seen", "Now"),
    )
    for broke in halt.breakage:
        c, seen = broke.change, broke.rejections
        now = str(broke.rollback.outcome) if broke.rollback else "left applied (--on-breakage halt)"
        if broke.rollback and broke.rollback.reason:
            now += f": {broke.rollback.reason}"
        table.add_row(
            c.scope.account_id,
            c.scope.region,
            c.resource_id,
            c.name or "",
            f"{seen.count:g}",
            _when(seen.first_seen),
            _when(seen.last_seen),
            now,
        )
    return table


def rollout_renderable(result: RolloutResult) -> RenderableType:
    table = new_table("Rollout", ("Wave", "Instances", "Applied", "Soak"))
    for wave in result.waves:
        table.add_row(
            f"{wave.number} {wave.label}", str(wave.instances), str(wave.applied), wave.status
        )
    parts: list[RenderableType] = [table]
    halt = result.halt
    if halt is None:
        parts.append(Text("Rollout: every wave soaked clean; the final steps ran", style="bold"))
        return Group(*parts)
    if halt.breakage:
        parts.append(_breakage(halt))
    for change, why in halt.unknown:
        parts.append(Text(f"unknown: {change.resource_id}: {why}", style="magenta"))
    line = f"Rollout halted in wave {halt.wave}: {'; '.join(halt.reasons)}"
    parts.append(Text(line + "; no further wave, no final step", style="bold red"))
    return Group(*parts)
