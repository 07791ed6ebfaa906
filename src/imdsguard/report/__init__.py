"""Report formats: each module exposes a pure ``format(result) -> str``; one line registers it."""

from __future__ import annotations

from collections.abc import Callable

from imdsguard.model import ScanResult
from imdsguard.report import asff, html, junit, ocsf, table
from imdsguard.report import csv as csv_format
from imdsguard.report import json as json_format

Formatter = Callable[[ScanResult], str]

FORMATS: dict[str, Formatter] = {
    "table": table.format,
    "json": json_format.format,
    "csv": csv_format.format,
    "junit": junit.format,
    "ocsf": ocsf.format,
    "asff": asff.format,
    "html": html.format,
}

# File extension per format, for --output-dir: DIR/imdsguard.<ext>.
EXTENSIONS: dict[str, str] = {
    "table": "txt",
    "json": "json",
    "csv": "csv",
    "junit": "junit.xml",
    "ocsf": "ocsf.jsonl",
    "asff": "asff.json",
    "html": "html",
}


def render(result: ScanResult, fmt: str) -> str:
    return FORMATS[fmt](result)
