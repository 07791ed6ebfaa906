"""Client-side pacing: one token bucket per (account, Region), shaped like EC2's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``capacity`` calls at once, refilled at ``rate`` per second; ``acquire`` blocks.

    EC2 meters ModifyInstanceMetadataOptions with a 100-call bucket refilled 5/s per
    account and Region (docs/aws-behaviour.md#rate-limits). Spending our own bucket of the same
    shape keeps
    us just under the server's, so throttling stays the exception botocore absorbs.
    """

    def __init__(
        self,
        capacity: float,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        headroom: float = 0.0,
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        # Starting ``headroom`` tokens short keeps the server's bucket that far ahead of
        # ours for the whole run, so network jitter (two calls arriving closer together
        # than we sent them) does not cost a throttle at the steady rate.
        self._tokens = max(capacity - headroom, 0.0)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the time slept."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                # The epsilon stops float rounding from turning "wait 1e-17 s" into a spin.
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(self._tokens - 1, 0.0)
                    return waited
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait

    def drain(self) -> None:
        """The server throttled us anyway (shared account, other tools): start from empty."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)
