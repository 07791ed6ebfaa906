"""``imdsguard completion SHELL``: a completion script for bash, zsh or fish.

The script is generated from the argparse parser itself, so it can never offer an option
the CLI does not have. shtab covers bash and zsh but not fish, so one small generator for
all three keeps the shells in step.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from typing import Any

SHELLS = ("bash", "zsh", "fish")
PROG = "imdsguard"


@dataclass(frozen=True, slots=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]


def _options(parser: argparse.ArgumentParser) -> list[Option]:
    found = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        choices = tuple(str(c) for c in action.choices or ())
        takes = action.nargs != 0
        found.append(Option(tuple(action.option_strings), action.help or "", takes, choices))
    return found


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _bash(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    words = {"": _options(parser), **{name: _options(sub) for name, sub in commands.items()}}
    values, lists = [], []
    for name, options in words.items():
        flags = [flag for option in options for flag in option.flags]
        offered = " ".join([*commands, *flags]) if name == "" else " ".join(flags)
        lists.append(f"        {name or '__top'}) offered={shlex.quote(offered)} ;;")
        for option in options:
            if option.takes_value:
                reply = shlex.quote(" ".join(option.choices))
                for flag in option.flags:
                    values.append(f"        {name or '__top'}:{flag}) choices={reply} ;;")
    return "\n".join(
        [
            f'# bash completion for {PROG}: eval "$({PROG} completion bash)"',
            f"_{PROG}() {{",
            '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
            "    local command=__top word choices offered",
            '    for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do',
            f'        case "$word" in {"|".join(commands)}) command=$word; break ;; esac',
            "    done",
            '    case "$command:$prev" in',
            *values,
            "        *) choices=-",
            "    esac",
            "    # An option's value: its choices, or (none listed) files.",
            '    if [ "$choices" != - ]; then',
            '        COMPREPLY=($(compgen -W "$choices" -- "$cur")); return',
            "    fi",
            '    case "$command" in',
            *lists,
            "    esac",
            '    COMPREPLY=($(compgen -W "$offered" -- "$cur"))',
            "}",
            f"complete -o default -F _{PROG} {PROG}",
            "",
        ]
    )


def _zsh(parser: argparse.ArgumentParser) -> str:
    # zsh runs the bash function through its own bashcompinit layer.
    header = f'#compdef {PROG}\n# zsh completion: eval "$({PROG} completion zsh)"\n'
    return header + "autoload -U +X bashcompinit && bashcompinit\n" + _bash(parser)


def _fish_option(condition: str, option: Option) -> str:
    parts = [f"complete -c {PROG} -n {shlex.quote(condition)}"]
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.choices:
        parts.append(f"-x -a {shlex.quote(' '.join(option.choices))}")
    elif option.takes_value:
        parts.append("-r -F")
    parts.append(f"-d {shlex.quote(option.help.split(';')[0])}")
    return " ".join(parts)


def _fish(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    lines = [
        f"# fish completion for {PROG}: {PROG} completion fish | source",
        f"complete -c {PROG} -f",
    ]
    for name, text in _helps(parser).items():
        lines.append(
            f"complete -c {PROG} -n __fish_use_subcommand -a {name} -d {shlex.quote(text)}"
        )
    lines += [_fish_option("__fish_use_subcommand", o) for o in _options(parser)]
    for name, sub in commands.items():
        lines += [_fish_option(f"__fish_seen_subcommand_from {name}", o) for o in _options(sub)]
    return "\n".join(lines) + "\n"


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](parser)


def run(args: argparse.Namespace) -> int:
    from imdsguard.cli import build_parser

    sys.stdout.write(script(build_parser(), args.shell))
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print the completion script for SHELL. Load it in the current shell "
        'with eval "$(imdsguard completion bash)" (or zsh), or imdsguard completion fish '
        "| source; add that line to your shell's startup file to keep it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    parser.set_defaults(handler=run)
