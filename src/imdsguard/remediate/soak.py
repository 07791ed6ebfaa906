"""The soak: after a wave, poll MetadataNoTokenRejected for every instance changed so far
(each from its change) and the --halt-on-alarm alarms, until the soak's end.

A poll is clean only if every instance reads ``none`` and every alarm is readable and not
in ALARM: unreadable metrics are never taken for quiet ones (docs/rollout.md#the-soak).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from imdsguard.aws import cloudwatch
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError, UsageError
from imdsguard.model.remediation import Change, Rejections
from imdsguard.model.scan import JSONValue, Scope
from imdsguard.remediate.engine import ScopeDenied, outlast_throttling
from imdsguard.remediate.journal import Journal

T = TypeVar("T")
ALARM = "ALARM"
# An alarm the poll could not see: as bad as one in ALARM, since its signal is lost.
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Poll:
    """One look at the evidence: rejections per change key, alarm states per name."""

    at: datetime
    rejections: Mapping[str, Rejections]
    alarms: Mapping[str, str] = field(default_factory=dict)

    def with_status(self, status: str) -> list[str]:
        return sorted(k for k, r in self.rejections.items() if r.status == status)

    @property
    def alarming(self) -> list[str]:
        return sorted(n for n, state in self.alarms.items() if state in (ALARM, MISSING))

    @property
    def clean(self) -> bool:
        return not (self.with_status("rejected") or self.with_status("unknown") or self.alarming)

    def reasons(self) -> list[str]:
        """Why this poll halts the rollout, in words; empty when it is clean."""
        out = []
        if rejected := self.with_status("rejected"):
            out.append(f"IMDSv1 calls refused on {len(rejected)} instance(s)")
        if unknown := self.with_status("unknown"):
            out.append(f"MetadataNoTokenRejected unreadable for {len(unknown)} instance(s)")
        for name in self.alarming:
            state = self.alarms[name]
            out.append(f"alarm {name} is {'in ALARM' if state == ALARM else 'unreadable'}")
        return out

    def as_json(self) -> dict[str, JSONValue]:
        """The journal's poll record: counts, and the keys that are not clean."""
        return {
            "polled_at": self.at.isoformat(),
            "instances": len(self.rejections),
            "rejected": {k: self.rejections[k].as_json() for k in self.with_status("rejected")},
            "unknown": {k: self.rejections[k].error for k in self.with_status("unknown")},
            "datapoints": sum(r.datapoints for r in self.rejections.values()),
            "alarms": dict(self.alarms),
        }


@dataclass(frozen=True, slots=True)
class Watcher:
    """Reads the evidence: rejections per scope (entering accounts as apply does), and
    the alarms in the caller's account in each Region the plan changes."""

    factory: SessionFactory
    regions: tuple[str, ...]
    alarms: tuple[str, ...] = ()
    role_name: str | None = None
    external_id: str | None = None

    def check_alarms(self) -> None:
        """Up front: every alarm must exist in one of the Regions and be readable."""
        if not self.alarms:
            return
        found: set[str] = set()
        for region in self.regions:
            try:
                found |= set(self._alarm_states(region))
            except (AwsError, ScopeDenied) as exc:
                raise UsageError(f"--halt-on-alarm: cannot read alarms in {region}: {exc}") from exc
        missing = sorted(set(self.alarms) - found)
        if missing:
            where = ", ".join(self.regions)
            raise UsageError(f"--halt-on-alarm: no alarm named {', '.join(missing)} in {where}")

    def _alarm_states(self, region: str) -> dict[str, str]:
        client = self.factory.cloudwatch(None, region)
        return _read(lambda: cloudwatch.get_alarm_states(client, self.alarms))

    def poll(self, changed: Mapping[str, tuple[Change, datetime]]) -> Poll:
        by_scope: dict[Scope, dict[str, str]] = defaultdict(dict)
        for key, (change, _) in changed.items():
            by_scope[change.scope][change.resource_id] = key
        now = datetime.now(UTC)
        seen: dict[str, Rejections] = {}
        for scope, keys in sorted(by_scope.items()):
            since = {iid: changed[key][1] for iid, key in keys.items()}
            for iid, rejections in self._rejections(scope, since, now).items():
                seen[keys[iid]] = rejections
        return Poll(now, seen, self._alarm_poll())

    def _rejections(
        self, scope: Scope, since: Mapping[str, datetime], now: datetime
    ) -> dict[str, Rejections]:
        try:
            access = account_access(
                self.factory, scope.account_id, self.role_name, self.external_id
            )
            client = self.factory.cloudwatch(access, scope.region)
            return _read(lambda: cloudwatch.get_rejections(client, since, now))
        except (AwsError, ScopeDenied) as exc:
            # Never a silent continue: these instances are unknown, and unknown halts.
            unknown = Rejections("unknown", error=f"GetMetricData failed: {exc}")
            return dict.fromkeys(since, unknown)

    def _alarm_poll(self) -> dict[str, str]:
        if not self.alarms:
            return {}
        states = dict.fromkeys(self.alarms, MISSING)
        worst = {ALARM: 2, "OK": 0, "INSUFFICIENT_DATA": 0}
        for region in self.regions:
            try:
                read = self._alarm_states(region)
            except (AwsError, ScopeDenied):
                # An alarm name is per Region: one Region unreadable means the alarms are
                # not all read, whatever another Region says. Not clean: halt.
                return dict.fromkeys(self.alarms, MISSING)
            for name, state in read.items():
                if states[name] == MISSING or worst.get(state, 1) > worst.get(states[name], 1):
                    states[name] = state
        return states


def _read(call: Callable[[], T]) -> T:
    """Throttling is waited out and a denial raised, as for every read (remediate/engine.py)."""
    return outlast_throttling(call, before=lambda: None, after=lambda: time.sleep(1.0))


def soak(
    watcher: Watcher,
    changed: Mapping[str, tuple[Change, datetime]],
    *,
    journal: Journal,
    wave: int,
    until: datetime,
    poll_seconds: float,
    now_first: bool = False,
) -> Poll:
    """Poll every ``poll_seconds`` until a poll at or after ``until``, which covers the whole
    window; the first poll that is not clean ends it early. ``now_first``: poll at once
    (a resumed soak re-checks from each change until now, then waits out the rest)."""
    last: Poll | None = None
    if now_first:
        last = _journaled(watcher.poll(changed), journal, wave)
        if not last.clean:
            return last
    while last is None or last.at < until:
        pause = min(poll_seconds, (until - datetime.now(UTC)).total_seconds())
        if pause > 0:
            time.sleep(pause)
        last = _journaled(watcher.poll(changed), journal, wave)
        if not last.clean:
            return last
    return last


def _journaled(poll: Poll, journal: Journal, wave: int) -> Poll:
    journal.append("poll", wave=wave, **poll.as_json())
    return poll


def quiet_running(poll: Poll, changed: Mapping[str, tuple[Change, datetime]]) -> list[str]:
    """Keys of instances that ran at plan time and had no data point at all: a clean
    soak that proves little for them (CloudWatch may not have delivered their points)."""
    return sorted(
        key
        for key, seen in poll.rejections.items()
        if seen.status == "none"
        and seen.datapoints == 0
        and changed[key][0].facts.get("instance_state", "running") == "running"
    )


def regions_of(changes: Sequence[Change]) -> tuple[str, ...]:
    return tuple(sorted({c.scope.region for c in changes}))
