"""A rollout's own journal records (journal.ROLLOUT_RECORDS) written and read back: the
options a resume must keep, and how far the waves, soaks and halt had got
(docs/rollout.md#the-journal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from imdsguard.model.remediation import Change, Rejections
from imdsguard.model.scan import JSONValue
from imdsguard.options import OnBreakage, RolloutOptions
from imdsguard.plan.waves import Schedule, parse_wave_by, parse_waves, schedule


def schedule_for(changes: Sequence[Change], rollout: RolloutOptions) -> Schedule:
    steps = parse_waves(rollout.waves) if rollout.waves else ()
    wave_by = parse_wave_by(rollout.wave_by) if rollout.wave_by else None
    return schedule(changes, steps, wave_by)


def rollout_json(rollout: RolloutOptions) -> dict[str, JSONValue]:
    return {
        "waves": rollout.waves,
        "wave_by": rollout.wave_by,
        "soak_seconds": rollout.soak_seconds,
        "poll_seconds": rollout.poll_seconds,
        "alarms": list(rollout.alarms),
        "on_breakage": rollout.on_breakage,
    }


def rollout_from_json(record: Mapping[str, Any]) -> RolloutOptions:
    """The options the journal's ``rollout`` record holds: a resume uses exactly these."""
    return RolloutOptions(
        waves=record.get("waves"),
        wave_by=record.get("wave_by"),
        soak_seconds=float(record["soak_seconds"]),
        poll_seconds=float(record["poll_seconds"]),
        alarms=tuple(str(a) for a in record.get("alarms", [])),
        on_breakage=cast(OnBreakage, record["on_breakage"]),
    )


@dataclass
class Recorded:
    """What the journal says of the rollout so far (empty for a new one)."""

    started: dict[int, datetime] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    soaking: dict[int, datetime] = field(default_factory=dict)  # wave -> the soak's end
    clean: set[int] = field(default_factory=set)
    halt: dict[str, Any] | None = None
    final: bool = False

    @classmethod
    def read(cls, records: Sequence[Mapping[str, Any]]) -> Recorded:
        out = cls()
        for r in records:
            kind, wave = r["type"], r.get("wave", 0)
            if kind == "wave-start":
                out.started[wave] = datetime.fromisoformat(r["at"])
            elif kind == "wave-end":
                out.ended.add(wave)
            elif kind == "soak-start":
                out.soaking[wave] = datetime.fromisoformat(r["until"])
            elif kind == "soak-end":
                out.clean.add(wave)
            elif kind == "halt":
                out.halt = dict(r)
            elif kind == "final-start":
                out.final = True
        return out


def rejections_from_json(doc: Mapping[str, Any]) -> Rejections:
    def when(name: str) -> datetime | None:
        return datetime.fromisoformat(doc[name]) if doc.get(name) else None

    count = float(doc.get("rejected_calls", 0.0))
    datapoints = int(doc.get("datapoints", 0))
    return Rejections("rejected", count, datapoints, when("first_seen"), when("last_seen"))
