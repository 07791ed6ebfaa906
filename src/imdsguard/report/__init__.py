"""Report formats: each module exposes a pure ``write(result, out)``, which writes the report
piece by piece (report/stream.py), and ``format(result) -> str``; one line registers it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from imdsguard.model.scan import ScanResult
from imdsguard.report.stream import Writer

Formatter = Callable[[ScanResult], str]

# Format name -> module in this package. Modules are imported on first use: a JSON run
# should not pay for Jinja2 (html) or rich (table) in time or memory.
_MODULES: dict[str, str] = {
    "table": "table",
    "json": "json",
    "csv": "csv",
    "junit": "junit",
    "ocsf": "ocsf",
    "asff": "asff",
    "html": "html",
}


class _Formats(Mapping[str, Formatter]):
    def __getitem__(self, name: str) -> Formatter:
        module = importlib.import_module(f"imdsguard.report.{_MODULES[name]}")
        formatter: Formatter = module.format
        return formatter

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


FORMATS: Mapping[str, Formatter] = _Formats()


def writer(name: str) -> Writer:
    module = importlib.import_module(f"imdsguard.report.{_MODULES[name]}")
    write: Writer = module.write
    return write


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
