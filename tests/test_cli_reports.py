"""The report options of `scan`: --format, --output, --output-dir, --compliance."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.commands.common import REPORT_FORMATS, STATUSES
from imdsguard.demo.fleet import Group
from imdsguard.report import EXTENSIONS, FORMATS
from imdsguard.rules.compliance import FRAMEWORKS, required_kinds
from tests.conftest import CliResult, seed

Cli = Callable[..., CliResult]


def test_cli_offers_exactly_the_registered_formats() -> None:
    assert set(REPORT_FORMATS) == set(FORMATS) == set(EXTENSIONS)


def scan(cli: Cli, url: str, *extra: str, quiet: bool = True) -> CliResult:
    """Instances only, so the counts below do not depend on the other kinds' defaults."""
    return cli(
        "scan", "--endpoint-url", url, "--regions", "eu-west-1", *(["--quiet"] if quiet else []),
        "--resources", "instances", *extra,
    )  # fmt: skip


def test_output_dir_writes_every_format(
    cli: Cli, factory: SessionFactory, moto_url: str, tmp_path: Path
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 2), Group("web", 1, tokens="required"))
    result = scan(cli, moto_url, "--output-dir", str(tmp_path / "out"))
    assert result.code == 1
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(f"imdsguard.{ext}" for ext in EXTENSIONS.values())
    doc = json.loads((tmp_path / "out" / "imdsguard.json").read_text())
    assert doc["summary"]["fail"] == 2
    assert result.out == ""
    assert "imdsguard.junit.xml" in result.err


def test_a_repeated_format_is_printed_once(
    cli: Cli, factory: SessionFactory, moto_url: str
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 1))
    result = scan(cli, moto_url, "--format", "csv", "--format", "csv")
    lines = result.out.splitlines()
    assert lines[0].startswith("account_id,region,")
    assert sum(line.startswith("account_id,") for line in lines) == 1


def test_several_formats_on_stdout_are_a_usage_error(cli: Cli, moto_url: str) -> None:
    # JSON followed by CSV on one stream is no document any program can read.
    result = scan(cli, moto_url, "--format", "csv", "--format", "ocsf")
    assert result.code == 2
    assert result.out == ""
    assert "stdout takes one --format; use --output-dir DIR" in result.err


def test_output_dir_with_chosen_formats(
    cli: Cli, factory: SessionFactory, moto_url: str, tmp_path: Path
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 1))
    scan(cli, moto_url, "--output-dir", str(tmp_path), "--format", "junit", "--format", "html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imdsguard.html", "imdsguard.junit.xml"]


def test_output_takes_one_format(cli: Cli, moto_url: str, tmp_path: Path) -> None:
    result = scan(
        cli, moto_url, "--output", str(tmp_path / "x"), "--format", "csv", "--format", "json"
    )
    assert result.code == 2
    assert "--output-dir" in result.err


def test_output_and_output_dir_exclude_each_other(cli: Cli, tmp_path: Path) -> None:
    run = cli("scan", "--output", str(tmp_path / "x"), "--output-dir", str(tmp_path))
    assert run.code == 2
    assert "not allowed with argument" in run.err


def test_compliance_filters_and_titles_the_report(
    cli: Cli, factory: SessionFactory, moto_url: str
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 1))
    result = scan(cli, moto_url, "--compliance", "cis-3.0", "--format", "json")
    doc = result.json()
    assert doc["framework"] == "cis-3.0"
    assert "CIS AWS Foundations Benchmark v3.0.0" in str(doc["title"])
    findings = doc["findings"]
    assert isinstance(findings, list)
    assert [c["control"] for c in findings[0]["compliance"]] == ["5.6"]


def test_unknown_compliance_framework_is_a_usage_error(cli: Cli) -> None:
    run = cli("scan", "--compliance", "cis-9.9")
    assert run.code == 2
    assert "cis-5.0" in run.err


def test_every_framework_id_is_accepted_by_the_cli(cli: Cli, moto_url: str) -> None:
    for framework in FRAMEWORKS:
        kinds = ",".join(required_kinds(framework))
        run = scan(
            cli, moto_url, "--compliance", framework, "--format", "csv", "--resources", kinds
        )
        # 1, not 2: moto's account defaults leave HttpTokens unset, which fails.
        assert run.code == ("account-defaults" in kinds), run.err


@pytest.mark.parametrize(
    ("resources", "framework", "expected"),
    [
        ("launch-templates", "cis-5.0", ("instances", "instances,launch-templates")),
        ("instances", "fsbp", ("launch-templates, launch-configurations",
                               "instances,launch-templates,launch-configurations")),
    ],
)  # fmt: skip
def test_compliance_without_its_kinds_is_refused_before_scanning(
    cli: Cli, history_db: Path, resources: str, framework: str, expected: tuple[str, str]
) -> None:
    missing, use = expected
    # Nothing listens on port 9: the refusal comes before any AWS call, and stores nothing.
    run = cli(
        "scan", "--endpoint-url", "http://127.0.0.1:9", "--regions", "eu-west-1", "--quiet",
        "--resources", resources, "--compliance", framework, "--format", "json",
    )  # fmt: skip
    assert (run.code, run.out) == (2, "")
    [line] = run.err.splitlines()
    assert f"--compliance {framework} needs {missing} scanned" in line
    assert line.endswith(f"use --resources {use}")
    assert not history_db.exists()


def test_json_records_the_kinds_read_and_the_evaluation(
    cli: Cli, factory: SessionFactory, moto_url: str
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 1))
    doc = scan(cli, moto_url, "--format", "json", "--strict-amis", "--imds-disabled", "fail").json()
    assert doc["schema_version"] == "1.3"
    assert doc["scan_options"] == {
        "resources": ["instances"],
        "evaluation": {"imds_disabled": "fail", "strict_amis": True},
    }


def test_unusable_output_dir_fails_before_scanning(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("scan", "--endpoint-url", "http://127.0.0.1:9", "--output-dir", str(blocker))
    assert result.code == 2
    assert "cannot create" in result.err


def loud(cli: Cli, url: str, *extra: str) -> CliResult:
    """``scan`` without --quiet: the closing summary line is what is tested."""
    return scan(cli, url, "--no-history", *extra, quiet=False)


def test_the_table_shows_failures_and_the_summary_counts_everything(
    cli: Cli, factory: SessionFactory, moto_url: str
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 2), Group("web", 3, tokens="required"))
    result = loud(cli, moto_url)
    assert result.code == 1
    rows = [line.split()[0] for line in result.out.splitlines() if line[:5].strip() in STATUSES]
    assert rows == ["FAIL", "FAIL"]
    assert "3 pass, 2 fail, 0 scope errors; showing 2 of 5 findings" in result.out
    assert result.err.splitlines()[-1] == (
        "imdsguard: 3 pass, 2 fail, 0 scope errors; table on stdout; showing 2 of 5 "
        "findings (--status all shows every one); not stored in the history"
    )
    everything = loud(cli, moto_url, "--status", "all", "--quiet")
    assert [line.split()[0] for line in everything.out.splitlines() if "i-" in line].count(
        "PASS"
    ) == 3
    assert everything.err == ""


def test_status_filters_every_format_but_not_the_exit_code(
    cli: Cli, factory: SessionFactory, moto_url: str
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 2), Group("web", 3, tokens="required"))
    result = loud(cli, moto_url, "--format", "json", "--status", "pass")
    assert result.code == 1  # the two failures still fail the run
    assert {f["status"] for f in json.loads(result.out)["findings"]} == {"PASS"}
    assert "showing 3 of 5 findings" in result.err
    complete = loud(cli, moto_url, "--format", "json")
    assert len(json.loads(complete.out)["findings"]) == 5  # machine formats stay complete


def test_output_file_ends_with_a_summary_line(
    cli: Cli, factory: SessionFactory, moto_url: str, tmp_path: Path
) -> None:
    seed(factory, "eu-west-1", Group("legacy", 1))
    db = tmp_path / "h.sqlite3"
    out = tmp_path / "scan.json"
    result = cli(
        "scan", "--endpoint-url", moto_url, "--regions", "eu-west-1", "--resources",
        "instances", "--format", "json", "--output", str(out), "--db", str(db),
    )  # fmt: skip
    assert result.code == 1
    assert result.out == ""
    assert result.err.splitlines()[-1] == (
        f"imdsguard: 0 pass, 1 fail, 0 scope errors; json in {out}; saved as scan #1 in {db}"
    )


def test_a_failed_report_write_keeps_the_others_and_the_verdict(
    cli: Cli,
    factory: SessionFactory,
    moto_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(factory, "eu-west-1", Group("web", 1, tokens="required"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "imdsguard.csv").write_text("earlier report\n")
    real_replace = os.replace

    def full_disk(src: str, dst: object) -> None:
        if str(dst).endswith(".csv"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full_disk)
    result = loud(cli, moto_url, "--output-dir", str(out), "--format", "json", "--format", "csv")
    assert result.code == 2  # a clean scan whose report is missing is no success
    assert "imdsguard: error: cannot write" in result.err
    assert (out / "imdsguard.csv").read_text() == "earlier report\n"  # intact, not truncated
    assert json.loads((out / "imdsguard.json").read_text())["summary"]["pass"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["imdsguard.csv", "imdsguard.json"]
    last = result.err.splitlines()[-1]
    assert last.startswith("imdsguard: 1 pass, 0 fail, 0 scope errors; 1 report(s) in ")
    assert last.endswith("; 1 report(s) NOT written")


def test_an_unwritable_report_target_fails_before_scanning(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "imdsguard.json").mkdir()
    result = cli(
        "scan", "--endpoint-url", "http://127.0.0.1:9", "--output-dir", str(tmp_path),
        "--format", "json",
    )  # fmt: skip
    assert result.code == 2
    assert "it is a directory" in result.err
