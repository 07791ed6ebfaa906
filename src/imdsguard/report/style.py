"""The one table style of every terminal view: scan, plan, apply, rollback, history, diff.

What identifies a row (its status, account, Region and resource id) is never cut: those
columns do not wrap, so when the terminal is narrow rich takes the room from the others,
which fold instead (rich's column options; docs/reports.md#the-terminal-table).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.table import Table
from rich.text import Text

# The columns that identify a row, in any of the views.
KEY_COLUMNS = frozenset({"Status", "Outcome", "Account", "Region", "Resource", "ID"})


def new_table(title: str | Text, columns: Iterable[str] = ()) -> Table:
    """A table in the common style, with ``columns`` added by :func:`add_column`."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
    )
    for name in columns:
        add_column(table, name)
    return table


def add_column(table: Table, name: str) -> None:
    """A key column is shown whole; any other one folds when the width runs out."""
    if name in KEY_COLUMNS:
        table.add_column(name, no_wrap=True)
    else:
        table.add_column(name, overflow="fold")
