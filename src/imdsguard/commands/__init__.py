"""One module per subcommand; each exposes ``register(subparsers)``. Order = help order."""

from imdsguard.commands import demo, diff, guardrails, history, scan

COMMANDS = (scan, guardrails, history, diff, demo)
