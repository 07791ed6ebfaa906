"""How a report is written: piece by piece to a text stream, so no report is ever held whole
(docs/reports.md#large-fleets); ``text_of`` gives the same text as one string."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TextIO

from imdsguard.model.scan import ScanResult

Writer = Callable[[ScanResult, TextIO], None]


def text_of(write: Writer, result: ScanResult) -> str:
    buffer = io.StringIO()
    write(result, buffer)
    return buffer.getvalue()
