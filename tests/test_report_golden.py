"""Golden files: every format of the one fixed scan result. UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imdsguard.model.scan import ScanResult
from imdsguard.report import EXTENSIONS, FORMATS
from imdsguard.rules.compliance import filter_result
from tests.sample import sample_result

GOLDEN = Path(__file__).with_name("golden")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 and review the diff"
    assert text == path.read_bytes().decode("utf-8"), f"{name} differs from golden"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_format_matches_golden(fmt: str) -> None:
    check_golden(f"imdsguard.{EXTENSIONS[fmt]}", FORMATS[fmt](sample_result()))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_compliance_filtered_format_matches_golden(fmt: str) -> None:
    result: ScanResult = filter_result(sample_result(), "cis-5.0")
    check_golden(f"cis-5.0.{EXTENSIONS[fmt]}", FORMATS[fmt](result))


def test_every_format_has_a_golden_file() -> None:
    names = {f"imdsguard.{EXTENSIONS[fmt]}" for fmt in FORMATS}
    assert names <= {p.name for p in GOLDEN.iterdir()}
