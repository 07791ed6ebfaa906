"""Batched verification: one describe per scope and poll for every change awaiting 'applied'.

EC2 has no waiter for metadata options (docs/aws-behaviour.md#the-api): a describe shows
State=pending,
then applied. Polling each change on its own would spend the Describe bucket (100, +20/s)
several times per change; one filtered describe per poll covers every waiting change.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from imdsguard.errors import AwsError
from imdsguard.model.remediation import Change, same_settings
from imdsguard.model.scan import MetadataOptions
from imdsguard.remediate.appliers import Observed, ScopeClients, applier_for

Verdict = Literal["ok", "gone", "timeout"]


def check(observed: Observed, want: MetadataOptions) -> Verdict | None:
    """``ok`` or ``gone`` once decided; ``None`` while the change is not in force yet."""
    if observed.options is None:
        return "gone"
    if same_settings(observed.options, want) and observed.options.state == "applied":
        return "ok"
    return None


@dataclass
class _Waiter:
    change: Change
    want: MetadataOptions
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    verdict: Verdict = "timeout"
    observed: Observed | None = None


class Verifier:
    """One per scope; a poller thread runs only while some change is waiting."""

    def __init__(self, clients: ScopeClients, timeout: float, interval: float = 1.0) -> None:
        self._clients = clients
        self._timeout = timeout
        self._interval = interval
        self._waiting: list[_Waiter] = []
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None

    def wait(self, change: Change, want: MetadataOptions) -> tuple[Verdict, Observed | None]:
        """Block until ``change`` shows ``want`` and State=applied, is gone, or times out."""
        waiter = _Waiter(change, want, time.monotonic() + self._timeout)
        with self._lock:
            self._waiting.append(waiter)
            if self._poller is None:
                self._poller = threading.Thread(target=self._run, daemon=True)
                self._poller.start()
        waiter.done.wait()
        return waiter.verdict, waiter.observed

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                batch = list(self._waiting)
                if not batch:
                    self._poller = None
                    return
            self._poll(batch)

    def _poll(self, batch: list[_Waiter]) -> None:
        by_kind: dict[str, list[_Waiter]] = defaultdict(list)
        for waiter in batch:
            by_kind[waiter.change.kind].append(waiter)
        for kind, waiters in by_kind.items():
            ids = [w.change.resource_id for w in waiters]
            try:
                seen = applier_for(kind).read_many(self._clients, ids)
            except AwsError:
                seen = {}  # throttled or flaky: poll again, until each change's deadline
            now = time.monotonic()
            for waiter in waiters:
                observed = seen.get(waiter.change.resource_id)
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
