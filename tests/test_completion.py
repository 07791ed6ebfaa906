"""Shell completion, generated from the parser: bash is run for real; zsh and fish read."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imdsguard.cli import build_parser, main
from imdsguard.commands import COMMANDS
from imdsguard.commands.completion import script

COMPLETE = """
eval "$1"
shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=()
_imdsguard
echo "${COMPREPLY[*]}"
"""


def bash_complete(*words: str) -> str:
    source = script(build_parser(), "bash")
    run = subprocess.run(
        ["bash", "-c", COMPLETE, "bash", source, "imdsguard", *words],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return run.stdout.strip()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("sc",), "scan"),
        (("scan", "--st"), "--strict-amis --status"),
        (("scan", "--status", ""), "FAIL INFO PASS all"),
        (("demo", "--format", "j"), "json junit"),
        (("apply", "--wave"), "--waves --wave-by"),
        (("apply", "--on-breakage", ""), "rollback halt"),
        (("-",), "-h --help -V --version --debug"),
        (("scan", "--output", ""), ""),  # a file name: bash's own default completion
    ],
)
def test_bash_completes_commands_options_and_choices(words: tuple[str, ...], expected: str) -> None:
    assert bash_complete(*words) == expected


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command(shell: str) -> None:
    text = script(build_parser(), shell)
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[1]
        assert name in text
    assert "--status" in text or "-l status" in text


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_accepts_its_script(tmp_path: Path) -> None:
    path = tmp_path / "imdsguard.fish"
    path.write_text(script(build_parser(), "fish"))
    subprocess.run(["fish", "--no-execute", str(path)], check=True, timeout=30)


def test_completion_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "fish"]) == 0
    assert capsys.readouterr().out.startswith("# fish completion for imdsguard")
    assert main(["completion", "tcsh"]) == 2


def test_short_version_and_quiet_flags() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "imdsguard", "-V"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.stdout.startswith("imdsguard ")
    assert build_parser().parse_args(["plan", "-q"]).quiet
    assert build_parser().parse_args(["scan", "-q", "--status", "fail"]).status == ["FAIL"]
