"""One module per subcommand; each exposes ``register(subparsers)``. Order = help order."""

from imdsguard.commands import apply, demo, diff, guardrails, history, plan, rollback, scan

COMMANDS = (scan, plan, apply, rollback, guardrails, history, diff, demo)
