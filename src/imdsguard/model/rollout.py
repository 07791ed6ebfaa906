"""Plain frozen data for a staged rollout's outcome (docs/rollout.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imdsguard.model.remediation import Change, ChangeResult, Rejections, RunResult
from imdsguard.model.scan import EXIT_FINDINGS

WaveStatus = Literal["clean", "halted", "not started"]


@dataclass(frozen=True, slots=True)
class WaveSummary:
    number: int
    label: str
    instances: int
    applied: int
    status: WaveStatus


@dataclass(frozen=True, slots=True)
class Breakage:
    """One instance that refused IMDSv1 calls after its change, and what was done."""

    change: Change
    rejections: Rejections
    rollback: ChangeResult | None = None  # None: --on-breakage halt


@dataclass(frozen=True, slots=True)
class Halt:
    wave: int
    reasons: tuple[str, ...]
    breakage: tuple[Breakage, ...] = ()
    unknown: tuple[tuple[Change, str], ...] = ()  # unreadable metrics, and why


@dataclass(frozen=True, slots=True)
class RolloutResult:
    run: RunResult
    waves: tuple[WaveSummary, ...]
    halt: Halt | None = None
    warnings: tuple[str, ...] = ()

    def exit_code(self) -> int:
        # A halt is exit 1 (reason ``halted``), unless a scope error already makes it 3.
        code = self.run.exit_code()
        return max(code, EXIT_FINDINGS) if self.halt is not None else code
