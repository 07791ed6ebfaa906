"""Report formats: each module exposes a pure ``format(result) -> str``."""

from __future__ import annotations

from collections.abc import Callable

from imdsguard.model import ScanResult
from imdsguard.report import json as json_format
from imdsguard.report import table

Formatter = Callable[[ScanResult], str]

FORMATS: dict[str, Formatter] = {
    "table": table.format,
    "json": json_format.format,
}

# File extension per format, for --output-dir style writers.
EXTENSIONS: dict[str, str] = {"table": "txt", "json": "json"}


def render(result: ScanResult, fmt: str) -> str:
    return FORMATS[fmt](result)
