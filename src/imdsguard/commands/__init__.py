"""One module per subcommand; each exposes ``register(subparsers)``. Order = help order."""

from imdsguard.commands import demo, guardrails, scan

COMMANDS = (scan, guardrails, demo)
