"""A rich progress bar on stderr when stderr is a terminal; silence otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class ProgressSink(Protocol):
    """What the stages report progress to; the core never sees rich."""

    def add_total(self, n: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Bar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task
        self._total = 0

    def add_total(self, n: int) -> None:
        self._total += n
        self._progress.update(self._task, total=self._total)

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)


class Silent:
    """The sink for pipes, --quiet and library callers."""

    def add_total(self, n: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@contextmanager
def progress_sink(enabled: bool, label: str = "scanning") -> Iterator[ProgressSink]:
    if not enabled or not sys.stderr.isatty():
        yield Silent()
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        yield _Bar(progress, progress.add_task(label, total=0))
