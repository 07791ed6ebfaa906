"""glibc's malloc arenas are bounded before the pool starts, unless the user chose."""

from __future__ import annotations

import platform
import sys

import pytest

from imdsguard.malloc import bound_arenas


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="M_ARENA_MAX is glibc's",
)
def test_glibc_arenas_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert bound_arenas() is True


def test_the_users_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert bound_arenas() is False
