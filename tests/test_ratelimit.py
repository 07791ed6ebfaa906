"""The client-side token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from imdsguard.remediate.pacing import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_steady_rate() -> None:
    time = FakeTime()
    bucket = TokenBucket(100, 5, time.clock, time.sleep)
    for _ in range(100):
        assert bucket.acquire() == 0
    for _ in range(50):
        bucket.acquire()
    assert time.now == pytest.approx(10.0)  # 50 more at 5/s


def test_refill_never_exceeds_capacity() -> None:
    time = FakeTime()
    bucket = TokenBucket(3, 1, time.clock, time.sleep)
    time.now = 1000.0
    for _ in range(3):
        bucket.acquire()
    assert time.now == 1000.0
    bucket.acquire()
    assert time.now == pytest.approx(1001.0)


def test_drain_makes_the_next_call_wait_a_full_interval() -> None:
    time = FakeTime()
    bucket = TokenBucket(10, 2, time.clock, time.sleep)
    bucket.drain()
    assert bucket.acquire() == pytest.approx(0.5)


def test_headroom_starts_the_bucket_short_and_refills_to_capacity() -> None:
    time = FakeTime()
    bucket = TokenBucket(100, 5, time.clock, time.sleep, headroom=5)
    for _ in range(96):
        bucket.acquire()
    assert time.now == pytest.approx(0.2)  # 95 at once, the 96th after one refill interval
