"""Verification: the one poll loop (``wait_until``), and the batched poller instances use.

EC2 is eventually consistent and has no waiter for metadata options
(docs/aws-behaviour.md#the-api): a describe shows State=pending, then applied. Every kind
polls through ``wait_until``. Instances, many per scope, wait in one ``Verifier`` per
scope: polling each change on its own would spend the Describe bucket (100, +20/s)
several times per change; one filtered describe per poll covers every waiting change.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from imdsguard.errors import AwsError
from imdsguard.model.remediation import same_settings
from imdsguard.model.scan import MetadataOptions
from imdsguard.remediate.appliers.interface import Observed

T = TypeVar("T")
Verdict = Literal["ok", "gone", "timeout"]
# Seconds between two polls of one launch-setting change; instances poll as a batch.
POLL_INTERVAL = 0.5
BATCH_INTERVAL = 1.0


def wait_until(
    poll: Callable[[], tuple[bool, T]],
    timeout: float,
    interval: float = POLL_INTERVAL,
    *,
    first_after: float = 0.0,
) -> tuple[bool, T]:
    """Call ``poll`` (after ``first_after`` seconds, then every ``interval``) until it
    reports done or the next poll would come after ``timeout``; its last answer."""
    deadline = time.monotonic() + timeout
    if first_after:
        time.sleep(first_after)
    while True:
        done, seen = poll()
        if done or time.monotonic() + interval > deadline:
            return done, seen
        time.sleep(interval)


def check(observed: Observed, want: MetadataOptions) -> Verdict | None:
    """``ok`` or ``gone`` once decided; ``None`` while the change is not in force yet."""
    if observed.options is None:
        return "gone"
    if same_settings(observed.options, want) and observed.options.state == "applied":
        return "ok"
    return None


ReadMany = Callable[[Sequence[str]], Mapping[str, Observed]]


@dataclass
class _Waiter:
    resource_id: str
    want: MetadataOptions
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    verdict: Verdict = "timeout"
    observed: Observed | None = None


class Verifier:
    """One per scope and kind; a poller thread runs only while some change is waiting."""

    def __init__(self, read_many: ReadMany, timeout: float, interval: float = BATCH_INTERVAL):
        self._read_many = read_many
        self._timeout = timeout
        self._interval = interval
        self._waiting: list[_Waiter] = []
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None

    def wait(self, resource_id: str, want: MetadataOptions) -> tuple[Verdict, Observed | None]:
        """Block until the resource shows ``want`` and State=applied, is gone, or times out."""
        waiter = _Waiter(resource_id, want, time.monotonic() + self._timeout)
        with self._lock:
            self._waiting.append(waiter)
            if self._poller is None:
                self._poller = threading.Thread(target=self._run, daemon=True)
                self._poller.start()
        waiter.done.wait()
        return waiter.verdict, waiter.observed

    def _run(self) -> None:
        # No timeout of its own: each waiter has its deadline, and the poller stops once
        # nobody waits.
        wait_until(self._round, math.inf, self._interval, first_after=self._interval)

    def _round(self) -> tuple[bool, None]:
        with self._lock:
            batch = list(self._waiting)
            if not batch:
                self._poller = None
                return True, None
        self._poll(batch)
        return False, None

    def _poll(self, batch: list[_Waiter]) -> None:
        try:
            seen = self._read_many([w.resource_id for w in batch])
        except AwsError:
            seen = {}  # throttled or flaky: poll again, until each change's deadline
        now = time.monotonic()
        for waiter in batch:
            observed = seen.get(waiter.resource_id)
            verdict = None
            if observed is not None:
                waiter.observed = observed
                verdict = check(observed, waiter.want)
            if verdict is None and now >= waiter.deadline:
                verdict = "timeout"
            if verdict is not None:
                self._finish(waiter, verdict)

    def _finish(self, waiter: _Waiter, verdict: Verdict) -> None:
        with self._lock:
            self._waiting.remove(waiter)
        waiter.verdict = verdict
        waiter.done.set()
